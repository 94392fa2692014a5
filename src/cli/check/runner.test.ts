// The check runner on its own: ordering, fatal and gate failures, warnings, timeouts, rendering.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorText, failure, ok, renderText, runChecks, warning, type CategoryDef } from './runner.ts';

const check = (description: string, outcome: ReturnType<typeof failure> | typeof ok, extra: { fatal?: boolean; gate?: boolean } = {}) => ({
  description,
  hint: `fix ${description}`,
  ...extra,
  run: async () => outcome,
});

describe('check runner', () => {
  it('skips the rest of a category after a failed gate, and everything after a failed fatal check', async () => {
    const categories: CategoryDef<void>[] = [
      { name: 'a', checks: [check('gate', failure('no'), { gate: true }), check('skipped', ok)] },
      { name: 'b', checks: [check('warned', warning('soon')), check('stop', failure('down'), { fatal: true }), check('never', ok)] },
      { name: 'c', checks: [check('never either', ok)] },
    ];
    const report = await runChecks(categories, undefined);
    assert.equal(report.success, false);
    assert.deepEqual(
      report.categories.map((c) => [c.categoryName, c.checks.map((k) => `${k.result}:${k.description}`)]),
      [
        ['a', ['error:gate']],
        ['b', ['warning:warned', 'error:stop']],
      ],
    );
  });

  it('succeeds with warnings, and renders multi-line messages indented under their check', async () => {
    const report = await runChecks([{ name: 'certs', checks: [check('expiry', warning('one\ntwo'))] }], undefined);
    assert.equal(report.success, true);
    assert.equal(renderText(report), 'certs\n-----\n‼ expiry\n    one\n    two\n    hint: fix expiry\n\nStatus check results are ✔\n');
  });

  it('turns a thrown error into a failure that names its cause', async () => {
    const thrower = { description: 'throws', hint: 'h', run: async () => Promise.reject(new Error('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') })) };
    const report = await runChecks([{ name: 'x', checks: [thrower] }], undefined);
    assert.equal(report.categories[0]?.checks[0]?.error, 'fetch failed: connect ECONNREFUSED 127.0.0.1:1');
    assert.equal(errorText('plain'), 'plain');
  });
});
