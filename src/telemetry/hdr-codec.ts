// Exact-latency counts (`exact-latency.ts` layout) to and from HdrHistogram's V2 encoding, the
// interchange format every HdrHistogram implementation (Java, Go, C, Rust, JS) reads. Telemetry
// reports carry it in `ResponseScope.latency_hdr`.
//
// Written here rather than through hdr-histogram-js because the controller decodes tens of these per
// report, hundreds of reports a second: the library builds a histogram object and inflates a zlib
// stream per call (~40 µs, almost all of it creating the zlib handle), where reading the varints
// straight into layout indices takes ~1 µs. Proxies therefore send the plain V2 encoding (cookie
// 0x1c849313); the compressed form (0x1c849314, what `encodeIntoCompressedBase64` writes) is still
// read, for other reporters.
//
// V2 layout (big-endian): cookie i32, payload length i32, normalizing index offset i32, significant
// digits i32, lowest discernible value i64, highest trackable value i64, integer-to-double ratio f64,
// then the counts from index 0 as ZigZag LEB128 (at most 9 bytes, the 9th holding 8 bits); a negative
// value -n stands for n zero counts.
import { isSortedPairs, sortPairs } from './exact-pairs.ts';
import { highestMicrosAt, indexOfMicros, SIGNIFICANT_DIGITS } from './exact-latency.ts';

const V2_COOKIE_BASE = 0x1c849303;
const V2_COMPRESSED_COOKIE_BASE = 0x1c849304;
/** The cookie's word-size nibble: 0x10 marks the ZigZag LEB128 (9-byte) counts. */
const V2_WORD_SIZE_BITS = 0x10;
const HEADER_BYTES = 40;
/** Where histograms are written before being copied out at their size: the worst case is 9 bytes a number. */
let scratch = Buffer.allocUnsafe(0);

/** Encodes flat `[index, count …]` pairs (sorted by index is the fast case); none encode to empty bytes. */
export function encodeLatencyHdr(pairs: readonly number[]): Uint8Array {
  if (pairs.length === 0) return new Uint8Array(0);
  if (!isSortedPairs(pairs)) pairs = sortPairs(pairs);
  const maxIndex = pairs[pairs.length - 2] as number;
  // Worst case: a zero run and a count per pair, 9 bytes each.
  const worst = HEADER_BYTES + pairs.length * 9 + 9;
  if (scratch.length < worst) scratch = Buffer.allocUnsafe(Math.max(worst, 2 * scratch.length));
  const out = scratch;
  let at = HEADER_BYTES;
  let next = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const index = pairs[i] as number;
    const zeros = index - next;
    if (zeros === 1) at = putZigZag(out, at, 0);
    else if (zeros > 1) at = putZigZag(out, at, -zeros);
    at = putZigZag(out, at, pairs[i + 1] as number);
    next = index + 1;
  }
  out.writeInt32BE(V2_COOKIE_BASE | V2_WORD_SIZE_BITS, 0);
  out.writeInt32BE(at - HEADER_BYTES, 4);
  out.writeInt32BE(0, 8);
  out.writeInt32BE(SIGNIFICANT_DIGITS, 12);
  out.writeBigInt64BE(1n, 16);
  out.writeBigInt64BE(BigInt(Math.max(2, highestMicrosAt(maxIndex))), 24);
  out.writeDoubleBE(1, 32);
  return Buffer.from(out.subarray(0, at));
}

function putZigZag(out: Buffer, at: number, value: number): number {
  // Counts stay far below 2^53, so the ZigZag value is computed in doubles, 7 bits at a time.
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  for (let n = 0; n < 8; n++) {
    if (v < 0x80) {
      out[at++] = v;
      return at;
    }
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

/**
 * Decodes an encoded histogram (plain or compressed V2) into flat `[index, count …]` pairs of this
 * layout, sorted by index. A histogram with another layout (more significant digits, other units) is
 * folded into the nearest index. Throws on bytes that are not a V2 HdrHistogram.
 */
export function decodeLatencyHdr(bytes: Uint8Array): number[] {
  const pairs: number[] = [];
  const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  pairs.length = decodeLatencyHdrInto(data, 0, data.length, pairs);
  return pairs;
}

/**
 * decodeLatencyHdr of `bytes[start, end)` written into `pairs` from its start, without allocating (the
 * controller passes one scratch array for every histogram): returns how many numbers it wrote (twice
 * the pairs); what `pairs` holds past that is left as it was.
 */
export function decodeLatencyHdrInto(bytes: Buffer, start: number, end: number, pairs: number[]): number {
  if (end === start) return 0;
  let data = bytes;
  let base = start;
  let limit = end;
  if (limit - base < 8) throw new Error('not an HdrHistogram: too short');
  let cookie = data.readInt32BE(base);
  if ((cookie & ~0xf0) === V2_COMPRESSED_COOKIE_BASE) {
    const length = data.readInt32BE(base + 4);
    if (length < 0 || 8 + length > limit - base) throw new Error('not an HdrHistogram: compressed length past the end');
    // Only the controller decodes, and only other encoders compress: proxies never load node:zlib.
    data = process.getBuiltinModule('node:zlib').inflateSync(data.subarray(base + 8, base + 8 + length));
    base = 0;
    limit = data.length;
    if (limit < 8) throw new Error('not an HdrHistogram: too short');
    cookie = data.readInt32BE(0);
  }
  if ((cookie & ~0xf0) !== V2_COOKIE_BASE || (cookie & 0xf0) !== V2_WORD_SIZE_BITS) throw new Error('not an HdrHistogram: no V2 encoding cookie');
  if (limit - base < HEADER_BYTES) throw new Error('not an HdrHistogram: header cut short');
  const payload = data.readInt32BE(base + 4);
  const digits = data.readInt32BE(base + 12);
  // Signed 64-bit, read as two words (no BigInt per histogram).
  const lowest = data.readInt32BE(base + 16) * 0x1_0000_0000 + data.readUInt32BE(base + 20);
  if (payload < 0 || HEADER_BYTES + payload > limit - base) throw new Error('not an HdrHistogram: payload length past the end');
  if (!(digits >= 0 && digits <= 5) || !(lowest >= 1)) throw new Error(`not an HdrHistogram: ${digits} significant digits, lowest value ${lowest}`);
  const sameLayout = lowest === 1 && digits === SIGNIFICANT_DIGITS;
  const unitMagnitude = sameLayout ? 0 : Math.floor(Math.log2(lowest));
  const halfMagnitude = sameLayout ? 7 : Math.max(Math.ceil(Math.log2(2 * 10 ** digits)), 1) - 1;
  let written = 0;
  const stop = base + HEADER_BYTES + payload;
  let at = base + HEADER_BYTES;
  let source = 0;
  while (at < stop) {
    // ZigZag LEB128-64b9B, read in doubles.
    let value = 0;
    let scale = 1;
    let n = 0;
    for (;;) {
      if (at >= stop) throw new Error('not an HdrHistogram: count cut short');
      const byte = data[at++] as number;
      if (n === 8) {
        value += byte * scale;
        break;
      }
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) break;
      scale *= 0x80;
      n++;
    }
    const count = value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    if (count < 0) {
      source -= count;
      continue;
    }
    if (count > 0) {
      const index = sameLayout ? source : indexOfMicros(valueAtIndex(source, unitMagnitude, halfMagnitude));
      // Indices only grow (a coarser fold can repeat the last one): equal neighbours are summed.
      if (written >= 2 && pairs[written - 2] === index) pairs[written - 1] = (pairs[written - 1] as number) + count;
      else {
        pairs[written++] = index;
        pairs[written++] = count;
      }
    }
    source++;
  }
  return written;
}

/** HdrHistogram's `valueFromIndex` for a histogram of the given layout. */
function valueAtIndex(index: number, unitMagnitude: number, halfMagnitude: number): number {
  const halfCount = 2 ** halfMagnitude;
  let bucket = Math.floor(index / halfCount) - 1;
  let sub = (index % halfCount) + halfCount;
  if (bucket < 0) {
    sub -= halfCount;
    bucket = 0;
  }
  return sub * 2 ** (bucket + unitMagnitude);
}
