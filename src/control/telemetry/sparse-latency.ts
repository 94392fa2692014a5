// Latency counts of one time slot and key, kept sparse: most traffic touches a few dozen of the layout's
// 3 328 indices (src/telemetry/exact-latency.ts), so sorted index/count arrays cost a fraction of a
// dense array. The arrays have spare capacity and merges run in place from the back (as merging two
// sorted arrays into the first one does), so adding a report's histogram to a slot seldom allocates:
// ingestion does this tens of times per report, and allocating there was its largest cost.
import { COUNTS_LENGTH, percentilesOfSparse } from '../../telemetry/exact-latency.ts';

/** Fixed bytes of an instance (object, two typed arrays and their buffer), for the store's byte bound. */
const OVERHEAD_BYTES = 160;
const BYTES_PER_ENTRY = Uint16Array.BYTES_PER_ELEMENT + Float64Array.BYTES_PER_ELEMENT;
/** What an instance without entries points at: nothing is allocated until the first merge sizes it. */
const NO_INDICES = new Uint16Array(0);
const NO_COUNTS = new Float64Array(0);

export class SparseLatency {
  indices: Uint16Array;
  counts: Float64Array;
  /** Entries in use (the arrays may be longer). */
  size = 0;

  constructor(capacity = 0) {
    this.indices = NO_INDICES;
    this.counts = NO_COUNTS;
    if (capacity > 0) this.allocate(capacity);
  }

  /**
   * Both arrays in one ArrayBuffer (counts first, for their alignment): each buffer is a separate
   * allocation the garbage collector tracks and sweeps, and a store holds hundreds of thousands.
   */
  private allocate(capacity: number): void {
    const buffer = new ArrayBuffer(capacity * BYTES_PER_ENTRY);
    this.counts = new Float64Array(buffer, 0, capacity);
    this.indices = new Uint16Array(buffer, capacity * Float64Array.BYTES_PER_ELEMENT, capacity);
  }

  /** From flat `[index, count …]` pairs in any order (invalid indices and counts left out). */
  static fromPairs(pairs: readonly number[]): SparseLatency {
    const latency = new SparseLatency(pairs.length >> 1);
    latency.addPairs(pairs);
    return latency;
  }

  /** Bytes held, roughly (arrays plus object overhead). */
  get bytes(): number {
    return OVERHEAD_BYTES + this.indices.length * BYTES_PER_ENTRY;
  }

  total(): number {
    let sum = 0;
    for (let k = 0; k < this.size; k++) sum += this.counts[k] as number;
    return sum;
  }

  /**
   * Adds flat `[index, count …]` pairs, the first `length` numbers of `pairs` (all by default: a scratch
   * array may hold more). Sorted pairs without repeats (what decoding gives) take one pass.
   */
  addPairs(pairs: readonly number[], length = pairs.length): void {
    const n = length >> 1;
    let ordered = true;
    for (let i = 0, last = -1; i < n; i++) {
      const index = pairs[2 * i] as number;
      if (!(index > last && index < COUNTS_LENGTH && (pairs[2 * i + 1] as number) > 0)) {
        ordered = false;
        break;
      }
      last = index;
    }
    if (!ordered) {
      this.addPairs(normalise(pairs, n * 2));
      return;
    }
    this.mergeSorted(pairs, pairs, n, 2, 1);
  }

  /** Adds `other` into this one. */
  merge(other: SparseLatency): void {
    this.mergeSorted(other.indices, other.counts, other.size, 1, 0);
  }

  /** Merges n sorted entries: index i at `from[i * stride]`, its count at `fromCounts[i * stride + countOffset]`. */
  private mergeSorted(from: ArrayLike<number>, fromCounts: ArrayLike<number>, n: number, stride: number, countOffset: number): void {
    if (n === 0) return;
    // How many entries the union has, to grow once if needed.
    let union = this.size;
    for (let i = 0, k = 0; i < n; i++) {
      const index = from[i * stride] as number;
      while (k < this.size && (this.indices[k] as number) < index) k++;
      if (k >= this.size || this.indices[k] !== index) union++;
    }
    if (union > this.indices.length) this.grow(union);
    const indices = this.indices;
    const counts = this.counts;
    // Merge from the back: the write position never overtakes the unread part of this one.
    let a = this.size - 1;
    let b = n - 1;
    let w = union - 1;
    while (b >= 0) {
      const bi = from[b * stride] as number;
      const ai = a >= 0 ? (indices[a] as number) : -1;
      if (ai > bi) {
        indices[w] = ai;
        counts[w--] = counts[a--] as number;
      } else if (ai === bi) {
        indices[w] = ai;
        counts[w--] = (counts[a--] as number) + (fromCounts[b * stride + countOffset] as number);
        b--;
      } else {
        indices[w] = bi;
        counts[w--] = fromCounts[b * stride + countOffset] as number;
        b--;
      }
    }
    this.size = union;
  }

  private grow(needed: number): void {
    // Room to spare, so the next few merges of a similar histogram fit in place.
    const capacity = Math.min(COUNTS_LENGTH, Math.max(needed, Math.ceil(needed * 1.5), 8));
    const { indices, counts, size } = this;
    this.allocate(capacity);
    for (let k = 0; k < size; k++) {
      this.indices[k] = indices[k] as number;
      this.counts[k] = counts[k] as number;
    }
  }

  /** Percentiles (µs) of these counts, as percentilesOfDense gives for the same counts. */
  percentiles(quantiles: readonly number[]): number[] {
    return percentilesOfSparse(this.indices, this.counts, this.size, quantiles);
  }

  /** Adds these counts into a dense array of the layout. */
  addTo(dense: Float64Array): void {
    const { indices, counts } = this;
    for (let k = 0; k < this.size; k++) {
      const index = indices[k] as number;
      dense[index] = (dense[index] as number) + (counts[k] as number);
    }
  }
}

/** Pairs in any order as sorted pairs without repeats, invalid ones left out. */
function normalise(pairs: readonly number[], length: number): number[] {
  const byIndex = new Map<number, number>();
  for (let i = 0; i + 1 < length; i += 2) {
    const index = pairs[i] as number;
    const count = pairs[i + 1] as number;
    if (!(index >= 0 && index < COUNTS_LENGTH && Number.isInteger(index)) || !(count > 0)) continue;
    byIndex.set(index, (byIndex.get(index) ?? 0) + count);
  }
  return [...byIndex].sort((a, b) => a[0] - b[0]).flat();
}
