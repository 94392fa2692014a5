// Sorted exact-latency pairs: sorting, the sortedness check, and the merge the telemetry accumulator
// sums histograms with, checked against a Map that sums index by index.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSortedPairs, mergeSortedPairs, sortPairs } from './exact-pairs.ts';

/** What any list of pairs sums to, as sorted pairs: the reference. */
function summed(...lists: ReadonlyArray<readonly number[]>): number[] {
  const byIndex = new Map<number, number>();
  for (const list of lists) for (let i = 0; i + 1 < list.length; i += 2) byIndex.set(list[i] as number, (byIndex.get(list[i] as number) ?? 0) + (list[i + 1] as number));
  return [...byIndex].sort((a, b) => a[0] - b[0]).flat();
}

const anyPairs = fc.array(fc.tuple(fc.integer({ min: 0, max: 3327 }), fc.integer({ min: 1, max: 1e6 })), { maxLength: 60 }).map((entries) => entries.flat());
const sortedPairs = anyPairs.map((pairs) => summed(pairs));

describe('exact-latency pairs', () => {
  it('tells sorted pairs (indices strictly ascending) from others', () => {
    assert.equal(isSortedPairs([]), true);
    assert.equal(isSortedPairs([5, 1]), true);
    assert.equal(isSortedPairs([5, 1, 6, 9, 900, 2]), true);
    assert.equal(isSortedPairs([5, 1, 5, 2]), false, 'a repeated index');
    assert.equal(isSortedPairs([6, 1, 5, 2]), false);
  });

  it('sorts pairs in any order, summing repeated indices', () => {
    fc.assert(
      fc.property(anyPairs, (pairs) => {
        assert.deepEqual(sortPairs(pairs), summed(pairs));
      }),
    );
    assert.deepEqual(sortPairs([9, 1, 3, 2, 9, 4, 7]), [3, 2, 9, 5], 'a trailing odd number is ignored');
  });

  it('merges two sorted lists into their sum, leaving both as they were', () => {
    fc.assert(
      fc.property(sortedPairs, sortedPairs, (a, b) => {
        const before = [[...a], [...b]];
        const merged = mergeSortedPairs(a, b);
        assert.deepEqual(merged.pairs, summed(a, b));
        assert.equal(merged.added, (summed(a, b).length - a.length) / 2);
        assert.equal(merged.droppedCount, 0);
        assert.deepEqual([a, b], before);
      }),
    );
  });

  it('takes at most `room` indices the base lacks, counting what it leaves out', () => {
    const merged = mergeSortedPairs([10, 1, 30, 1], [5, 2, 10, 3, 20, 4, 40, 5], 2);
    // 10 is in the base (no room needed); 5 and 20 take the room; 40 is left out.
    assert.deepEqual(merged.pairs, [5, 2, 10, 4, 20, 4, 30, 1]);
    assert.equal(merged.added, 2);
    assert.equal(merged.droppedCount, 5);
    assert.deepEqual(mergeSortedPairs([], [1, 1, 2, 2], 0), { pairs: [], added: 0, droppedCount: 3 });
  });
});
