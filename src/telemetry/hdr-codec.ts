// Exact-latency counts (`exact-latency.ts` layout) from HdrHistogram's V2 compressed encoding, the
// interchange format every HdrHistogram implementation (Java, Go, C, Rust, JS) reads: the controller's
// side, with hdr-histogram-js. Encoding is the proxy's and has no library (`hdr-encode.ts`).
import * as hdr from 'hdr-histogram-js';
import { indexOfMicros } from './exact-latency.ts';

export { encodeLatencyHdr } from './hdr-encode.ts';

/**
 * Decodes an encoded histogram into flat `[index, count …]` pairs of this layout. A histogram with a
 * finer layout (more significant digits, other units) is folded into the nearest index. Throws on
 * bytes that are not an HdrHistogram.
 */
export function decodeLatencyHdr(bytes: Uint8Array): number[] {
  if (bytes.length === 0) return [];
  const histogram = hdr.decodeFromCompressedBase64(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), 64) as unknown as DecodedHistogram;
  try {
    // Values grow with the counts index, so layout indices come out in order: equal neighbours are
    // folded as they arrive, no sorting needed.
    const pairs: number[] = [];
    const length = histogram.countsArrayLength;
    for (let i = 0; i < length; i++) {
      const count = histogram.getCountAtIndex(i);
      if (count <= 0) continue;
      const index = indexOfMicros(histogram.valueFromIndex(i));
      const last = pairs.length - 2;
      if (last >= 0 && pairs[last] === index) pairs[last + 1] = (pairs[last + 1] as number) + count;
      else pairs.push(index, count);
    }
    return pairs;
  } finally {
    histogram.destroy();
  }
}

/** The members of hdr-histogram-js's JsHistogram that decoding reads (not in its public interface). */
interface DecodedHistogram {
  readonly countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
  destroy(): void;
}
