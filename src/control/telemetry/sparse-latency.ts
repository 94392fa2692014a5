// Latency counts of one time slot and key, kept sparse: most traffic touches a few dozen of the layout's
// 3 328 indices (src/telemetry/exact-latency.ts), so sorted index/count arrays cost a fraction of a
// dense array. The arrays have spare capacity and merges run in place from the back (as merging two
// sorted arrays into the first one does), so adding a report's histogram to a slot seldom allocates:
// ingestion does this tens of times per report, and allocating there was its largest cost. The
// store's slots keep theirs in a LatencyPool's chunks (latency-pool.ts) rather than in buffers of their
// own, and give them back when the slot goes.
import { COUNTS_LENGTH, percentilesOfSparse } from '../../telemetry/exact-latency.ts';
import type { LatencyPool, RegionHolder } from './latency-pool.ts';

/** Fixed bytes of an instance (object, two typed arrays and their buffer), for the store's byte bound. */
const OVERHEAD_BYTES = 160;
const BYTES_PER_ENTRY = Uint16Array.BYTES_PER_ELEMENT + Float64Array.BYTES_PER_ELEMENT;
/** What an instance without entries points at: nothing is allocated until the first merge sizes it. */
const NO_INDICES = new Uint16Array(0);
const NO_COUNTS = new Float64Array(0);

export class SparseLatency implements RegionHolder {
  /**
   * Where the entries are: `capacity` places from `offset` of these arrays. Arrays of this instance's
   * own, or, with a pool (the store's slots), a region of one of the pool's chunks.
   */
  private idx: Uint16Array = NO_INDICES;
  private cnt: Float64Array = NO_COUNTS;
  private offset = 0;
  private capacity = 0;
  /** The pool's chunk the region is in (with a pool). */
  private chunk = 0;
  private readonly pool: LatencyPool | undefined;
  /** Entries in use (the arrays may be longer). */
  size = 0;

  constructor(capacity = 0, pool?: LatencyPool) {
    this.pool = pool;
    if (capacity > 0) this.allocate(capacity);
  }

  /** The entries' layout indices, ascending (the first `size`; as long as the capacity). */
  get indices(): Uint16Array {
    return this.pool === undefined ? this.idx : this.idx.subarray(this.offset, this.offset + this.capacity);
  }

  /** The entries' counts, in the order of `indices`. */
  get counts(): Float64Array {
    return this.pool === undefined ? this.cnt : this.cnt.subarray(this.offset, this.offset + this.capacity);
  }

  /**
   * Room for `capacity` entries, the current ones not kept. Without a pool, both arrays in one
   * ArrayBuffer (counts first, for their alignment): each buffer is an allocation the garbage
   * collector tracks and sweeps. With one, a region of the pool's chunks (latency-pool.ts).
   */
  private allocate(capacity: number): void {
    if (this.pool !== undefined) {
      this.pool.take(capacity, this);
      this.capacity = capacity;
      return;
    }
    const buffer = new ArrayBuffer(capacity * BYTES_PER_ENTRY);
    this.cnt = new Float64Array(buffer, 0, capacity);
    this.idx = new Uint16Array(buffer, capacity * Float64Array.BYTES_PER_ELEMENT, capacity);
    this.offset = 0;
    this.capacity = capacity;
  }

  /** LatencyPool.take's answer. */
  place(indices: Uint16Array, counts: Float64Array, chunk: number, offset: number): void {
    this.idx = indices;
    this.cnt = counts;
    this.chunk = chunk;
    this.offset = offset;
  }

  /**
   * Empties this one and gives its region back to its pool, for another to take. Only for an instance
   * that nothing reads any more (the store calls it for slots it discards).
   */
  release(): void {
    if (this.pool !== undefined && this.capacity > 0) this.pool.give(this.chunk, this.offset, this.capacity);
    this.idx = NO_INDICES;
    this.cnt = NO_COUNTS;
    this.offset = 0;
    this.capacity = 0;
    this.size = 0;
  }

  /** From flat `[index, count …]` pairs in any order (invalid indices and counts left out). */
  static fromPairs(pairs: readonly number[]): SparseLatency {
    const latency = new SparseLatency(pairs.length >> 1);
    latency.addPairs(pairs);
    return latency;
  }

  /** Bytes held, roughly (arrays plus object overhead). */
  get bytes(): number {
    return OVERHEAD_BYTES + this.capacity * BYTES_PER_ENTRY;
  }

  total(): number {
    let sum = 0;
    const { cnt, offset } = this;
    for (let k = 0; k < this.size; k++) sum += cnt[offset + k] as number;
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
    this.mergeSorted(other.idx, other.cnt, other.size, 1, 0, other.offset);
  }

  /**
   * Merges n sorted entries: index i at `from[base + i * stride]`, its count at
   * `fromCounts[base + i * stride + countOffset]`.
   */
  private mergeSorted(from: ArrayLike<number>, fromCounts: ArrayLike<number>, n: number, stride: number, countOffset: number, base = 0): void {
    if (n === 0) return;
    // How many entries the union has, to grow once if needed.
    let union = this.size;
    {
      const { idx, offset, size } = this;
      for (let i = 0, k = 0; i < n; i++) {
        const index = from[base + i * stride] as number;
        while (k < size && (idx[offset + k] as number) < index) k++;
        if (k >= size || idx[offset + k] !== index) union++;
      }
    }
    if (union > this.capacity) this.grow(union);
    const { idx, cnt, offset } = this;
    // Merge from the back: the write position never overtakes the unread part of this one.
    let a = offset + this.size - 1;
    let b = n - 1;
    let w = offset + union - 1;
    while (b >= 0) {
      const bi = from[base + b * stride] as number;
      const ai = a >= offset ? (idx[a] as number) : -1;
      if (ai > bi) {
        idx[w] = ai;
        cnt[w--] = cnt[a--] as number;
      } else if (ai === bi) {
        idx[w] = ai;
        cnt[w--] = (cnt[a--] as number) + (fromCounts[base + b * stride + countOffset] as number);
        b--;
      } else {
        idx[w] = bi;
        cnt[w--] = fromCounts[base + b * stride + countOffset] as number;
        b--;
      }
    }
    this.size = union;
  }

  private grow(needed: number): void {
    // Room to spare, so the next few merges of a similar histogram fit in place.
    const capacity = Math.min(COUNTS_LENGTH, Math.max(needed, Math.ceil(needed * 1.5), 8));
    const { idx, cnt, offset, size, chunk } = this;
    const old = this.capacity;
    this.allocate(capacity);
    const to = this.offset;
    for (let k = 0; k < size; k++) {
      this.idx[to + k] = idx[offset + k] as number;
      this.cnt[to + k] = cnt[offset + k] as number;
    }
    if (this.pool !== undefined && old > 0) this.pool.give(chunk, offset, old);
  }

  /** Percentiles (µs) of these counts, as percentilesOfDense gives for the same counts. */
  percentiles(quantiles: readonly number[]): number[] {
    return percentilesOfSparse(this.indices, this.counts, this.size, quantiles);
  }

  /** Adds these counts into a dense array of the layout. */
  addTo(dense: Float64Array): void {
    const { idx, cnt, offset } = this;
    for (let k = offset; k < offset + this.size; k++) {
      const index = idx[k] as number;
      dense[index] = (dense[index] as number) + (cnt[k] as number);
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
