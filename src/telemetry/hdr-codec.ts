// Exact-latency counts (`exact-latency.ts` layout) to and from HdrHistogram's V2 compressed encoding,
// the interchange format every HdrHistogram implementation (Java, Go, C, Rust, JS) reads. Telemetry
// reports carry it in `ResponseScope.latency_hdr`.
import * as hdr from 'hdr-histogram-js';
import { highestMicrosAt, indexOfMicros, lowestMicrosAt, SIGNIFICANT_DIGITS } from './exact-latency.ts';

/** Encodes flat `[index, count …]` pairs; empty pairs encode to an empty array. */
export function encodeLatencyHdr(pairs: readonly number[]): Uint8Array {
  if (pairs.length === 0) return new Uint8Array(0);
  let maxIndex = 0;
  for (let i = 0; i < pairs.length; i += 2) maxIndex = Math.max(maxIndex, pairs[i] as number);
  const histogram = hdr.build({
    bitBucketSize: 64,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: Math.max(2, highestMicrosAt(maxIndex)),
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
  });
  try {
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      histogram.recordValueWithCount(lowestMicrosAt(pairs[i] as number), pairs[i + 1] as number);
    }
    return Buffer.from(hdr.encodeIntoCompressedBase64(histogram), 'base64');
  } finally {
    histogram.destroy();
  }
}

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
