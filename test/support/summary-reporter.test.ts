// The closing summary: skips grouped by reason with where they are, counts, the slowest tests first.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { summarize } from './summary-reporter.ts';

const file = join(process.cwd(), 'src', 'x.test.ts');
const pass = (name: string, ms: number, extra: object = {}) => ({ type: 'test:pass', data: { name, nesting: 0, file, details: { duration_ms: ms, type: 'test' }, ...extra } });

it('lists skips by reason, counts passes and failures, and puts the slowest tests first', () => {
  const text = summarize([
    pass('fast', 5),
    pass('slow', 12_500),
    { type: 'test:fail', data: { name: 'broken', nesting: 0, file, details: { duration_ms: 300, type: 'test' } } },
    pass('needs root 1', 0, { skip: 'needs root (namespaces)' }),
    pass('needs root 2', 0, { skip: 'needs root (namespaces)' }),
    pass('bare skip', 0, { skip: true }),
    pass('a suite', 13_000, { details: { duration_ms: 13_000, type: 'suite' } }),
    { type: 'test:diagnostic', data: { message: 'ignored' } },
  ]);
  assert.match(text, /── summary: 2 passed, 1 failed, 3 skipped/);
  assert.match(text, /2 × needs root \(namespaces\)\n {6}src\/x\.test\.ts › needs root 1\n {6}src\/x\.test\.ts › needs root 2/);
  assert.match(text, /1 × \(no reason given\)/);
  assert.match(text, /slowest tests:\n +12\.5 s {2}src\/x\.test\.ts › slow\n +0\.3 s {2}src\/x\.test\.ts › broken/);
  assert.doesNotMatch(text, /a suite/, 'suites are not tests: their time is their tests\' time');
});

it('says so when nothing was skipped', () => {
  const text = summarize([pass('only', 1)]);
  assert.match(text, /1 passed, 0 failed, 0 skipped/);
  assert.doesNotMatch(text, /by reason/);
});
