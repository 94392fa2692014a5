// The proxy's own HdrHistogram V2 encoder, checked byte for byte against hdr-histogram-js (the
// round trips through its decoder are in exact-latency.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import * as hdr from 'hdr-histogram-js';
import fc from 'fast-check';
import { encodeLatencyHdr } from './hdr-encode.ts';
import { decodeLatencyHdr } from './hdr-codec.ts';
import { COUNTS_LENGTH, highestMicrosAt, lowestMicrosAt, SIGNIFICANT_DIGITS } from './exact-latency.ts';

/** The uncompressed V2 bytes inside a compressed encoding. */
function inflated(compressed: Uint8Array): Buffer {
  const b = Buffer.from(compressed);
  assert.equal(b.readInt32BE(0), 0x1c849314, 'compressed V2 cookie');
  return inflateSync(b.subarray(8, 8 + b.readInt32BE(4)));
}

function libraryEncoding(pairs: readonly number[]): Buffer {
  const h = hdr.build({ bitBucketSize: 64, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: Math.max(2, highestMicrosAt(pairs[pairs.length - 2]!)), numberOfSignificantValueDigits: SIGNIFICANT_DIGITS });
  for (let k = 0; k < pairs.length; k += 2) h.recordValueWithCount(lowestMicrosAt(pairs[k]!), pairs[k + 1]!);
  return inflated(Buffer.from(hdr.encodeIntoCompressedBase64(h), 'base64'));
}

describe('HdrHistogram V2 encoder', () => {
  it('writes the same counts payload as hdr-histogram-js, and the same layout fields', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: COUNTS_LENGTH - 1 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 1e6 }), (indices, count) => {
        const pairs = [...indices].sort((a, b) => a - b).flatMap((i, n) => [i, count + n]);
        const ours = inflated(encodeLatencyHdr(pairs));
        const theirs = libraryEncoding(pairs);
        assert.equal(ours.readInt32BE(0), theirs.readInt32BE(0), 'cookie');
        assert.equal(ours.readInt32BE(12), theirs.readInt32BE(12), 'significant digits');
        assert.equal(ours.readBigInt64BE(16), theirs.readBigInt64BE(16), 'lowest discernible value');
        assert.equal(ours.readBigInt64BE(24), theirs.readBigInt64BE(24), 'highest trackable value');
        // The payload: the counts, zero runs and all.
        assert.equal(ours.readInt32BE(4), theirs.readInt32BE(4), 'payload length');
        assert.deepEqual(ours.subarray(40), theirs.subarray(40));
      }),
      { numRuns: 100 },
    );
  });

  it('keeps counts beyond 32 bits (a long-lived busy series)', () => {
    const pairs = [3, 2 ** 40 + 5, 900, 7];
    assert.deepEqual(decodeLatencyHdr(encodeLatencyHdr(pairs)), pairs);
  });

  it('refuses pairs out of order instead of writing a wrong histogram', () => {
    assert.throws(() => encodeLatencyHdr([10, 1, 5, 1]), /out of order/);
  });
});
