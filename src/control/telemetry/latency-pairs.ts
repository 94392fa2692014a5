// A response scope's latencies as the telemetry store adds them to a slot: flat `[index, count …]`
// pairs of the exact-latency layout (src/telemetry/exact-latency.ts), written into one scratch array
// the store keeps for every histogram, so that nothing is allocated per scope. Pure but for that array.
import { indexOfMicros } from '../../telemetry/exact-latency.ts';
import { decodeLatencyHdrInto } from '../../telemetry/hdr-codec.ts';

/**
 * Writes the latencies of the exact histogram `hdr` into `pairs` or, without one, of the bucket counts
 * (Conduit's shape: each bucket counted at its upper bound, `bounds` in tenths of a millisecond).
 * Returns how many numbers it wrote (0: none), or -1 when `hdr` could not be decoded (nothing written;
 * the caller counts it and may call again without `hdr` for the buckets).
 */
export function latencyPairsInto(pairs: number[], hdr: Uint8Array | undefined, buckets: readonly number[] | undefined, bounds: readonly number[]): number {
  if (hdr !== undefined && hdr.length > 0) {
    try {
      const data = Buffer.isBuffer(hdr) ? hdr : Buffer.from(hdr.buffer, hdr.byteOffset, hdr.byteLength);
      return decodeLatencyHdrInto(data, 0, data.length, pairs);
    } catch {
      return -1;
    }
  }
  if (buckets === undefined) return 0;
  let length = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i] ?? 0;
    if (count <= 0) continue;
    const tenthMs = bounds[i] ?? bounds[bounds.length - 1] ?? 0;
    pairs[length++] = indexOfMicros(tenthMs >= 0xffffffff ? 60_000_000 : tenthMs * 100);
    pairs[length++] = count;
  }
  return length;
}
