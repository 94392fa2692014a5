// Sparse latencies: merging in place from the back gives the same counts as adding into a dense array,
// whatever the order, repeats and growth along the way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { COUNTS_LENGTH, percentilesOfDense } from '../../telemetry/exact-latency.ts';
import { latencyPercentiles } from './keys.ts';
import { addSlot, emptyAggregate, emptySlot } from './slots.ts';
import { SparseLatency } from './sparse-latency.ts';

const pairsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: COUNTS_LENGTH - 1 }), fc.integer({ min: 1, max: 1e6 })), { maxLength: 60 });

function dense(latency: SparseLatency): number[] {
  const out = new Float64Array(COUNTS_LENGTH);
  latency.addTo(out);
  return [...out];
}

describe('SparseLatency', () => {
  it('holds the sums of everything added, as a dense array would', () => {
    fc.assert(
      fc.property(fc.array(pairsArb, { maxLength: 6 }), fc.boolean(), (batches, sorted) => {
        const latency = new SparseLatency();
        const reference = new Float64Array(COUNTS_LENGTH);
        for (const batch of batches) {
          const entries = sorted ? [...new Map(batch)].sort((a, b) => a[0] - b[0]) : batch;
          for (const [index, count] of entries) reference[index] = (reference[index] as number) + count;
          // Through a scratch array longer than the pairs, as the store passes it.
          const scratch = [...entries.flat(), 7, 7, 7];
          latency.addPairs(scratch, scratch.length - 3);
        }
        assert.deepEqual(dense(latency), [...reference]);
        assert.equal(latency.total(), reference.reduce((a, b) => a + b, 0));
        for (let k = 1; k < latency.size; k++) assert.ok((latency.indices[k - 1] as number) < (latency.indices[k] as number));
      }),
      { numRuns: 200 },
    );
  });

  it('gives the percentiles a dense array of the same counts gives, and so does a query aggregate in either form', () => {
    const quantiles = [0, 0.5, 0.9, 0.95, 0.99, 0.999, 1];
    fc.assert(
      fc.property(fc.array(pairsArb, { minLength: 1, maxLength: 4 }), (batches) => {
        const agg = emptyAggregate();
        for (const batch of batches) {
          const slot = emptySlot();
          slot.latency = SparseLatency.fromPairs(batch.flat());
          addSlot(agg, slot);
        }
        const sparse = latencyPercentiles(agg, quantiles);
        assert.deepEqual(sparse, percentilesOfDense(agg.latency ?? new Float64Array(COUNTS_LENGTH), quantiles));
        assert.deepEqual(agg.sparseLatency?.percentiles(quantiles) ?? quantiles.map(() => 0), sparse);
      }),
      { numRuns: 200 },
    );
  });

  it('allocates nothing until something is added, and merges another one into itself', () => {
    const empty = new SparseLatency();
    assert.equal(empty.size, 0);
    assert.equal(empty.indices.length, 0);
    const a = SparseLatency.fromPairs([3, 1, 10, 2]);
    const b = SparseLatency.fromPairs([10, 5, 2_000, 1]);
    a.merge(b);
    assert.deepEqual([...a.indices.subarray(0, a.size)], [3, 10, 2_000]);
    assert.deepEqual([...a.counts.subarray(0, a.size)], [1, 7, 1]);
    empty.merge(a);
    assert.equal(empty.total(), 9);
  });
});
