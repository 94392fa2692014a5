import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freezesFromGaps } from './freezes.ts';

test('gaps longer than the threshold are freezes; the share is of the whole span', () => {
  const f = freezesFromGaps([1.5, 6, 9, 2.9], 1, 3, 0);
  assert.equal(f.count, 2);
  assert.equal(f.longestMs, 9);
  assert.ok(Math.abs(f.frozenShare - 0.015) < 1e-9);
});

test('a steady core has none', () => {
  assert.deepEqual(freezesFromGaps([], 1, 3, 1), { core: 1, seconds: 1, count: 0, longestMs: 0, frozenShare: 0, thresholdMs: 3 });
});
