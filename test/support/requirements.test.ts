// The requirement checks: a missing need skips locally and fails under CI; nothing missing runs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { missingAny, missingTools, RequirementMissing, requirementsMet, underCi } from './requirements.ts';

/** A stand-in for the test context that records the skip reason. */
function recorder(): { skipped: string[]; skip: (reason?: string) => void } {
  const skipped: string[] = [];
  return { skipped, skip: (reason?: string) => skipped.push(reason ?? '') };
}

describe('requirements', () => {
  it('reads CI the way CI services set it', () => {
    assert.equal(underCi({ CI: 'true' }), true);
    assert.equal(underCi({ CI: '1' }), true);
    assert.equal(underCi({ CI: 'false' }), false);
    assert.equal(underCi({ CI: '0' }), false);
    assert.equal(underCi({}), false);
  });

  it('lets a test whose needs are met run', () => {
    const t = recorder();
    assert.equal(requirementsMet(t, undefined, true), true);
    assert.deepEqual(t.skipped, []);
  });

  it('skips with the reason locally', () => {
    const t = recorder();
    assert.equal(requirementsMet(t, 'needs root (namespaces)', false), false);
    assert.deepEqual(t.skipped, ['needs root (namespaces)']);
  });

  it('fails instead of skipping under CI, naming what is missing', () => {
    const t = recorder();
    assert.throws(() => requirementsMet(t, 'needs nghttp (run: x)', true), (error: unknown) => {
      assert.ok(error instanceof RequirementMissing);
      assert.match(error.message, /CI=true, so this test must run, but it needs nghttp/);
      return true;
    });
    assert.deepEqual(t.skipped, []);
  });

  it('names exactly the programs that cannot run', () => {
    assert.equal(missingTools([['sh', ['-c', 'true']], ['true', []]]), undefined);
    assert.equal(missingTools([['true', []], 'sluice-no-such-program-here'], 'hint'), 'needs sluice-no-such-program-here (hint)');
    assert.equal(missingTools([['sh', ['-c', 'exit 3']]], 'hint'), 'needs sh (hint)');
  });

  it('joins the reasons that are set', () => {
    assert.equal(missingAny(undefined, undefined), undefined);
    assert.equal(missingAny('needs root (a)', undefined, 'needs curl (b)'), 'needs root (a); needs curl (b)');
  });
});
