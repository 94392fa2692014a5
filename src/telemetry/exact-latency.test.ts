// Exact latencies: the layout is HdrHistogram's (same index for every value, same percentiles), the
// recorder drains and resets, and the V2 encoding round-trips through hdr-histogram-js.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as hdr from 'hdr-histogram-js';
import {
  COUNTS_LENGTH,
  ExactLatency,
  highestMicrosAt,
  indexOfMicros,
  lowestMicrosAt,
  MAX_TRACKED_US,
  percentilesOfDense,
  percentilesOfPairs,
} from './exact-latency.ts';
import { decodeLatencyHdr, decodeLatencyHdrInto, encodeLatencyHdr } from './hdr-codec.ts';

interface JsHistogramInternals {
  countsArrayIndex(value: number): number;
}

function referenceHistogram(): hdr.Histogram {
  return hdr.build({ bitBucketSize: 64, lowestDiscernibleValue: 1, highestTrackableValue: 2 ** 33, numberOfSignificantValueDigits: 2 });
}

describe('exact latency layout', () => {
  it("gives every value HdrHistogram's counts index (lowest 1 µs, 2 significant digits)", () => {
    const reference = referenceHistogram() as unknown as JsHistogramInternals;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_TRACKED_US }), (us) => {
        assert.equal(indexOfMicros(us), reference.countsArrayIndex(us));
      }),
      { numRuns: 2000 },
    );
    for (const us of [0, 1, 127, 128, 255, 256, 257, 511, 512, 1000, 65_535, 65_536, 2 ** 31 - 1, 2 ** 31, MAX_TRACKED_US]) {
      assert.equal(indexOfMicros(us), reference.countsArrayIndex(us), `value ${us}`);
    }
  });

  it('is exact below 256 µs and within 1 % above', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_TRACKED_US }), (us) => {
        const index = indexOfMicros(us);
        assert.ok(lowestMicrosAt(index) <= us && us <= highestMicrosAt(index));
        if (us < 256) assert.equal(lowestMicrosAt(index), us);
        else assert.ok(highestMicrosAt(index) - lowestMicrosAt(index) + 1 <= us / 100 + 1);
      }),
    );
  });

  it('rounds fractions, treats negatives as 0 and caps at 2^32-1 µs', () => {
    assert.equal(indexOfMicros(99.6), 100);
    assert.equal(indexOfMicros(-5), 0);
    assert.equal(indexOfMicros(1e12), COUNTS_LENGTH - 1);
  });

  it('computes the percentiles HdrHistogram computes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 120_000_000 }), { minLength: 1, maxLength: 300 }), (values) => {
        const reference = referenceHistogram();
        const recorder = new ExactLatency();
        for (const v of values) {
          reference.recordValue(v);
          recorder.record(v);
        }
        const ours = percentilesOfPairs(recorder.drain(), [0.5, 0.95, 0.99, 1]);
        assert.deepEqual(ours, [50, 95, 99, 100].map((p) => reference.getValueAtPercentile(p)));
      }),
      { numRuns: 200 },
    );
  });

  it('gives 0 for every percentile of an empty histogram', () => {
    assert.deepEqual(percentilesOfDense(new Float64Array(COUNTS_LENGTH), [0.5, 0.99]), [0, 0]);
  });
});

describe('ExactLatency', () => {
  it('drains what was recorded as [index, count] pairs, then starts from zero', () => {
    const recorder = new ExactLatency();
    recorder.record(10);
    recorder.record(10);
    recorder.record(300_000); // past the initial array: it grows
    assert.equal(recorder.total, 3);
    assert.deepEqual(recorder.drain(), [10, 2, indexOfMicros(300_000), 1]);
    assert.equal(recorder.total, 0);
    assert.deepEqual(recorder.drain(), []);
    recorder.record(5);
    assert.deepEqual(recorder.drain(), [5, 1]);
  });
});

describe('HDR V2 encoding', () => {
  it('round-trips through hdr-histogram-js', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: COUNTS_LENGTH - 1 }), fc.integer({ min: 1, max: 1e6 })), { maxLength: 50 }), (entries) => {
        const merged = new Map<number, number>();
        for (const [index, count] of entries) merged.set(index, (merged.get(index) ?? 0) + count);
        const pairs = [...merged].sort((a, b) => a[0] - b[0]).flat();
        assert.deepEqual(decodeLatencyHdr(encodeLatencyHdr(pairs)), pairs);
      }),
      { numRuns: 100 },
    );
  });

  it('is readable by hdr-histogram-js itself (what any HdrHistogram implementation reads)', () => {
    const recorder = new ExactLatency();
    for (const us of [120, 950, 950, 12_000, 2_500_000]) recorder.record(us);
    // The plain V2 decoder (`JsHistogram.decode`) is attached at run time, outside the typings.
    const { decode } = hdr.JsHistogram as unknown as { decode(bytes: Uint8Array, bitBucketSize: number): hdr.Histogram };
    const decoded = decode(encodeLatencyHdr(recorder.drain()), 64);
    assert.equal(decoded.totalCount, 5);
    assert.equal(decoded.getValueAtPercentile(50), 951); // 950 µs, within its 2-µs bucket
    assert.equal(decoded.minNonZeroValue, 120);
  });

  it("reads the library's compressed encoding too (other reporters send that form)", () => {
    const reference = referenceHistogram();
    for (const us of [3, 300, 30_000, 30_000]) reference.recordValue(us);
    const pairs = decodeLatencyHdr(Buffer.from(hdr.encodeIntoCompressedBase64(reference), 'base64'));
    assert.deepEqual(pairs, [indexOfMicros(3), 1, indexOfMicros(300), 1, indexOfMicros(30_000), 2]);
  });

  it('folds a histogram with a finer layout into this one', () => {
    const fine = hdr.build({ numberOfSignificantValueDigits: 4 });
    fine.recordValueWithCount(12_345, 7);
    const pairs = decodeLatencyHdr(Buffer.from(hdr.encodeIntoCompressedBase64(fine), 'base64'));
    assert.deepEqual(pairs, [indexOfMicros(12_345), 7]);
  });

  it('decodes a range of a larger buffer into a scratch array, leaving what lies past its pairs alone', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: COUNTS_LENGTH - 1 }), { maxLength: 40 }), fc.integer({ min: 0, max: 30 }), (indices, pad) => {
        const pairs = [...indices].sort((a, b) => a - b).flatMap((index) => [index, index + 1]);
        const encoded = Buffer.from(encodeLatencyHdr(pairs));
        // The histogram inside a message, as a report carries it: bytes on both sides.
        const message = Buffer.concat([Buffer.alloc(pad, 0xee), encoded, Buffer.alloc(7, 0xee)]);
        const scratch = new Array<number>(100).fill(-1);
        const written = decodeLatencyHdrInto(message, pad, pad + encoded.length, scratch);
        assert.equal(written, pairs.length);
        assert.deepEqual(scratch.slice(0, written), pairs);
        assert.ok(scratch.slice(written).every((v) => v === -1));
      }),
      { numRuns: 100 },
    );
    const compressed = Buffer.from(hdr.encodeIntoCompressedBase64(referenceHistogram()), 'base64');
    assert.equal(decodeLatencyHdrInto(Buffer.concat([Buffer.alloc(3), compressed]), 3, 3 + compressed.length, []), 0);
  });

  it('encodes nothing as empty bytes, and rejects bytes that are not a histogram', () => {
    assert.equal(encodeLatencyHdr([]).length, 0);
    assert.deepEqual(decodeLatencyHdr(new Uint8Array(0)), []);
    assert.throws(() => decodeLatencyHdr(Buffer.from('not a histogram')), /not an HdrHistogram/);
    const good = Buffer.from(encodeLatencyHdr([5, 1, 900, 3]));
    assert.throws(() => decodeLatencyHdr(good.subarray(0, good.length - 1)), /cut short|past the end/);
    assert.throws(() => decodeLatencyHdr(good.subarray(0, 20)), /cut short/);
  });
});
