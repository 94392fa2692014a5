// Exact-latency counts (`exact-latency.ts` layout) in HdrHistogram's V2 compressed encoding, the
// interchange format every HdrHistogram implementation reads; telemetry reports carry it in
// `ResponseScope.latency_hdr`. Written here rather than taken from hdr-histogram-js so the proxy never
// loads that library (it builds a histogram object per encode and weighs several MB resident); the
// controller decodes with it (`hdr-codec.ts`), and the tests check our bytes against it.
//
// V2 layout (big-endian): cookie 0x1c849313, payload length, normalizing index offset (0), significant
// digits, lowest discernible value (i64), highest trackable value (i64), integer-to-double ratio (f64),
// then the counts from index 0 to the last non-zero one as ZigZag LEB128 varints, where a run of n ≥ 2
// zero counts is the single value −n. Compressed: cookie 0x1c849314, deflated length, zlib deflate of it.
import { deflateSync } from 'node:zlib';
import { highestMicrosAt, SIGNIFICANT_DIGITS } from './exact-latency.ts';

const V2_COOKIE = 0x1c849303 | 0x10;
const V2_COMPRESSED_COOKIE = 0x1c849304 | 0x10;
const HEADER_BYTES = 40;
/** A ZigZag LEB128 value of up to 2^53 takes at most 8 bytes. */
const MAX_VARINT_BYTES = 8;

/** Writes `value` (a safe integer) ZigZag LEB128 at `offset`; returns the offset after it. */
function putZigZag(out: Buffer, offset: number, value: number): number {
  // ZigZag with arithmetic, not bit operations: counts may exceed 32 bits.
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  while (v >= 0x80) {
    out[offset++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[offset++] = v;
  return offset;
}

/**
 * Encodes flat `[index, count …]` pairs (indices ascending, counts > 0); empty pairs encode to an empty
 * array, as a series with no latencies has none.
 */
export function encodeLatencyHdr(pairs: readonly number[]): Uint8Array {
  if (pairs.length < 2) return new Uint8Array(0);
  const maxIndex = pairs[pairs.length - 2]!;
  // Each pair needs at most one count and one zero run before it.
  const out = Buffer.alloc(HEADER_BYTES + pairs.length * MAX_VARINT_BYTES);
  out.writeInt32BE(V2_COOKIE, 0);
  out.writeInt32BE(0, 8);
  out.writeInt32BE(SIGNIFICANT_DIGITS, 12);
  out.writeBigInt64BE(1n, 16);
  out.writeBigInt64BE(BigInt(Math.max(2, highestMicrosAt(maxIndex))), 24);
  out.writeDoubleBE(1, 32);
  let offset = HEADER_BYTES;
  let nextIndex = 0;
  for (let k = 0; k + 1 < pairs.length; k += 2) {
    const index = pairs[k]!;
    const count = pairs[k + 1]!;
    if (index < nextIndex) throw new RangeError(`latency pairs out of order at index ${index}`);
    const zeros = index - nextIndex;
    if (zeros === 1) offset = putZigZag(out, offset, 0);
    else if (zeros > 1) offset = putZigZag(out, offset, -zeros);
    offset = putZigZag(out, offset, count);
    nextIndex = index + 1;
  }
  out.writeInt32BE(offset - HEADER_BYTES, 4);
  const deflated = deflateSync(out.subarray(0, offset));
  const compressed = Buffer.allocUnsafe(8 + deflated.length);
  compressed.writeInt32BE(V2_COMPRESSED_COOKIE, 0);
  compressed.writeInt32BE(deflated.length, 4);
  deflated.copy(compressed, 8);
  return compressed;
}
