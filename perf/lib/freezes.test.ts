import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freezesFromGaps, isKdamond } from './freezes.ts';

test('gaps longer than the threshold are freezes; the share is of the whole span', () => {
  const f = freezesFromGaps([1.5, 6, 9, 2.9], 1, 3, 0);
  assert.equal(f.count, 2);
  assert.equal(f.longestMs, 9);
  assert.ok(Math.abs(f.frozenShare - 0.015) < 1e-9);
});

test('a steady core has none', () => {
  assert.deepEqual(freezesFromGaps([], 1, 3, 1), { core: 1, seconds: 1, count: 0, longestMs: 0, frozenShare: 0, thresholdMs: 3 });
});

test("the kernel's DAMON threads are recognised by name and parent (kthreadd), nothing else", () => {
  assert.equal(isKdamond('84 (kdamond.0) I 2 0 0 0 -1 2129984 0 0 0 0 0 2243 0 0 20 0 1 0 122'), true);
  assert.equal(isKdamond('85 (kcompactd0) S 2 0 0 0 -1 2129984 0 0 0 0 0 12 0 0 20 0 1 0 122'), false);
  // A user process may call itself anything, spaces and parentheses included.
  assert.equal(isKdamond('4242 (kdamond (x)) S 1 4242 4242 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 9'), false);
});
