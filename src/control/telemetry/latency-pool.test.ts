// The latency pool: sparse latencies kept in its chunks count exactly as those with buffers of their
// own, regions never overlap while held, and regions given back are what the next ones are made of.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { COUNTS_LENGTH } from '../../telemetry/exact-latency.ts';
import { CHUNK_ENTRIES, LatencyPool } from './latency-pool.ts';
import { SparseLatency } from './sparse-latency.ts';

const pairsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: COUNTS_LENGTH - 1 }), fc.integer({ min: 1, max: 1e6 })), { maxLength: 80 });

function dense(latency: SparseLatency): number[] {
  const out = new Float64Array(COUNTS_LENGTH);
  latency.addTo(out);
  return [...out];
}

describe('LatencyPool', () => {
  it('holds what many pooled latencies are given, as latencies with their own arrays do, through growth and release', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), pairsArb, fc.boolean()), { maxLength: 40 }), (steps) => {
        const pool = new LatencyPool();
        const pooled = Array.from({ length: 6 }, () => new SparseLatency(0, pool));
        const own = Array.from({ length: 6 }, () => new SparseLatency());
        for (const [k, pairs, release] of steps) {
          if (release) {
            // What the store does with a slot it discards: the next one starts empty.
            pooled[k]?.release();
            own[k] = new SparseLatency();
          }
          pooled[k]?.addPairs(pairs.flat());
          own[k]?.addPairs(pairs.flat());
          // Merging one pooled latency into another (the store's folding) as well.
          const other = (k + 1) % 6;
          pooled[other]?.merge(pooled[k] as SparseLatency);
          own[other]?.merge(own[k] as SparseLatency);
        }
        for (let k = 0; k < 6; k++) {
          assert.deepEqual(dense(pooled[k] as SparseLatency), dense(own[k] as SparseLatency));
          assert.equal(pooled[k]?.size, own[k]?.size);
          assert.deepEqual([...(pooled[k] as SparseLatency).indices.subarray(0, pooled[k]?.size)], [...(own[k] as SparseLatency).indices.subarray(0, own[k]?.size)]);
          // The byte bound counts a pooled latency as one with its own arrays of the same capacity.
          assert.equal(pooled[k]?.bytes, own[k]?.bytes);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('hands a region given back to the next latency of that capacity, and allocates chunks only when none is spare', () => {
    const pool = new LatencyPool();
    const a = new SparseLatency(0, pool);
    a.addPairs([1, 5, 2, 6, 3, 7]);
    assert.equal(pool.chunks, 1);
    const bytes = a.bytes;
    a.release();
    assert.equal(a.size, 0);
    assert.equal(a.total(), 0);
    assert.ok(pool.spareEntries > 0);
    const b = new SparseLatency(0, pool);
    b.addPairs([9, 1, 10, 2, 11, 3]);
    assert.equal(b.bytes, bytes);
    assert.equal(pool.spareEntries, 0, 'the region given back was taken again');
    assert.deepEqual([...b.counts.subarray(0, b.size)], [1, 2, 3]);
    // Regions fill a chunk before another is made.
    const many = Array.from({ length: 1000 }, (_, i) => {
      const l = new SparseLatency(0, pool);
      l.addPairs([i % COUNTS_LENGTH, 1]);
      return l;
    });
    assert.equal(pool.chunks, 1);
    assert.equal(many.reduce((sum, l) => sum + l.total(), 0), 1000);
  });

  it('refuses regions it cannot hold and regions it did not hand out', () => {
    const pool = new LatencyPool();
    assert.throws(() => pool.take(0, new SparseLatency()), /1 to 65536 entries/);
    assert.throws(() => pool.take(CHUNK_ENTRIES + 1, new SparseLatency()), /1 to 65536 entries/);
    assert.throws(() => pool.give(3, 0, 8), /did not hand out/);
  });
});
