// Exact request latency for telemetry reports, cheap enough to record on every request: counts in
// HdrHistogram's bucket layout (lowest discernible value 1 µs, 2 significant digits), so a value is
// exact below 256 µs and within 1 % above, up to 2^32 µs (71 minutes). Recording is a count of leading
// zeros, a shift and an increment; the HdrHistogram library is only used where reports are encoded
// (`hdr-codec.ts`), never on the request path.
//
// Layout (HdrHistogram with subBucketHalfCountMagnitude 7, unitMagnitude 0): bucket b ≥ 1 covers
// [2^(b+7), 2^(b+8)) in steps of 2^b; bucket 0 covers [0, 256) in steps of 1. The counts index of a
// value is b·128 + (value >> b), identical to HdrHistogram's `countsArrayIndex`.

/** Significant decimal digits of the layout (HdrHistogram's `numberOfSignificantValueDigits`). */
export const SIGNIFICANT_DIGITS = 2;
const SUB_BUCKET_HALF_MAGNITUDE = 7;
const SUB_BUCKET_HALF_COUNT = 1 << SUB_BUCKET_HALF_MAGNITUDE;
/** Largest value kept; larger ones are counted as this. */
export const MAX_TRACKED_US = 0xffffffff;
/** Number of counts needed to cover every value up to MAX_TRACKED_US. */
export const COUNTS_LENGTH = (32 - SUB_BUCKET_HALF_MAGNITUDE) * SUB_BUCKET_HALF_COUNT + SUB_BUCKET_HALF_COUNT;
/** Counts first allocated: values below 2^18 µs (262 ms); the array grows once for slower responses. */
const INITIAL_LENGTH = 12 * SUB_BUCKET_HALF_COUNT;

/** The counts index of a latency in microseconds (fractions rounded, negatives as 0). */
export function indexOfMicros(us: number): number {
  // Rounded with `+ 0.5 >>> 0` (exact below 2^32, and cheaper than Math.round on the request path).
  const v = us >= MAX_TRACKED_US ? MAX_TRACKED_US : us >= 0.5 ? (us + 0.5) >>> 0 : 0;
  const bucket = 31 - SUB_BUCKET_HALF_MAGNITUDE - Math.clz32(v);
  return bucket <= 0 ? v : (bucket << SUB_BUCKET_HALF_MAGNITUDE) + (v >>> bucket);
}

/** The lowest value (µs) counted at `index`. */
export function lowestMicrosAt(index: number): number {
  let bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) - 1;
  let sub = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
  if (bucket < 0) {
    sub -= SUB_BUCKET_HALF_COUNT;
    bucket = 0;
  }
  return sub * 2 ** bucket;
}

/** The highest value (µs) counted at `index` (HdrHistogram's highestEquivalentValue). */
export function highestMicrosAt(index: number): number {
  const bucket = Math.max((index >> SUB_BUCKET_HALF_MAGNITUDE) - 1, 0);
  return lowestMicrosAt(index) + 2 ** bucket - 1;
}

/**
 * Whether histograms record exact latencies. Off until telemetry reporting starts collecting, so a
 * proxy that reports to no controller pays nothing for it.
 */
export const exactLatency = { enabled: false };

/** Per-series exact latencies since the last telemetry collection. One per Prometheus histogram series. */
export class ExactLatency {
  counts: Uint32Array = new Uint32Array(INITIAL_LENGTH);
  /** Values recorded since the last drain. */
  total = 0;
  private maxIndex = -1;

  record(us: number): void {
    const index = indexOfMicros(us);
    let counts = this.counts;
    if (index >= counts.length) counts = this.grow();
    counts[index] = (counts[index] as number) + 1;
    if (index > this.maxIndex) this.maxIndex = index;
    this.total++;
  }

  /** Everything recorded since the last drain as flat `[index, count, index, count …]`, then resets. */
  drain(): number[] {
    const pairs: number[] = [];
    if (this.total === 0) return pairs;
    const counts = this.counts;
    for (let i = 0; i <= this.maxIndex; i++) {
      const count = counts[i] as number;
      if (count !== 0) {
        pairs.push(i, count);
        counts[i] = 0;
      }
    }
    this.total = 0;
    this.maxIndex = -1;
    return pairs;
  }

  private grow(): Uint32Array {
    const bigger = new Uint32Array(COUNTS_LENGTH);
    bigger.set(this.counts);
    this.counts = bigger;
    return bigger;
  }
}

/** Percentiles (µs) of flat `[index, count …]` pairs, in any order, possibly repeating an index. */
export function percentilesOfPairs(pairs: readonly number[], quantiles: readonly number[]): number[] {
  const dense = new Float64Array(COUNTS_LENGTH);
  for (let i = 0; i + 1 < pairs.length; i += 2) dense[pairs[i] as number] = (dense[pairs[i] as number] as number) + (pairs[i + 1] as number);
  return percentilesOfDense(dense, quantiles);
}

/**
 * percentilesOfDense of sparse counts: `size` entries, `indices` ascending, each with its count in
 * `counts` (what the controller's store keeps per slot and sums per query, src/control/telemetry).
 */
export function percentilesOfSparse(indices: ArrayLike<number>, counts: ArrayLike<number>, size: number, quantiles: readonly number[]): number[] {
  return percentilesOf(counts, size, (k) => indices[k] as number, quantiles);
}

/**
 * Percentiles (µs) of dense counts in this layout. Like HdrHistogram's getValueAtPercentile: the
 * highest value equivalent to the one at which the cumulative count reaches ⌈q·total⌉. 0 when empty.
 */
export function percentilesOfDense(dense: Float64Array, quantiles: readonly number[]): number[] {
  return percentilesOf(dense, dense.length, (i) => i, quantiles);
}

/** The walk both forms share: `counts[k]` is the count of layout index `indexOf(k)`, ascending. */
function percentilesOf(counts: ArrayLike<number>, size: number, indexOf: (k: number) => number, quantiles: readonly number[]): number[] {
  let total = 0;
  for (let k = 0; k < size; k++) total += counts[k] as number;
  if (total === 0) return quantiles.map(() => 0);
  // The relative epsilon only absorbs float noise: counts spread from Prometheus buckets are fractions,
  // and 30.00000000000002 must still ask for the 30th count.
  const targets = quantiles.map((q) => Math.max(1, Math.ceil(Math.min(Math.max(q, 0), 1) * total * (1 - 1e-12))));
  const out = new Array<number>(quantiles.length).fill(0);
  const found = new Array<boolean>(quantiles.length).fill(false);
  let seen = 0;
  let pending = quantiles.length;
  for (let k = 0; k < size && pending > 0; k++) {
    const count = counts[k] as number;
    if (count === 0) continue;
    seen += count;
    for (let q = 0; q < targets.length; q++) {
      if (!found[q] && seen >= (targets[q] as number)) {
        out[q] = highestMicrosAt(indexOf(k));
        found[q] = true;
        pending--;
      }
    }
  }
  return out;
}
