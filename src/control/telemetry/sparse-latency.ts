// Latency counts of one time slot and key, kept sparse: most traffic touches a few dozen of the layout's
// 3 328 indices (src/telemetry/exact-latency.ts), so sorted index/count arrays cost a fraction of a
// dense array. Merging two is one linear pass.
import { COUNTS_LENGTH } from '../../telemetry/exact-latency.ts';

export class SparseLatency {
  indices: Uint16Array;
  counts: Float64Array;

  constructor(indices: Uint16Array = new Uint16Array(0), counts: Float64Array = new Float64Array(0)) {
    this.indices = indices;
    this.counts = counts;
  }

  /** From flat `[index, count …]` pairs in any order. */
  static fromPairs(pairs: readonly number[]): SparseLatency {
    // Decoded histograms arrive sorted by index without repeats: take them as they are.
    const n = pairs.length >> 1;
    let ordered = true;
    for (let i = 0, last = -1; i < n; i++) {
      const index = pairs[2 * i] as number;
      if (!(index > last && index < COUNTS_LENGTH && (pairs[2 * i + 1] as number) > 0)) {
        ordered = false;
        break;
      }
      last = index;
    }
    if (ordered) {
      const indices = new Uint16Array(n);
      const counts = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        indices[i] = pairs[2 * i] as number;
        counts[i] = pairs[2 * i + 1] as number;
      }
      return new SparseLatency(indices, counts);
    }
    const byIndex = new Map<number, number>();
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const index = pairs[i] as number;
      const count = pairs[i + 1] as number;
      if (index < 0 || index >= COUNTS_LENGTH || !(count > 0)) continue;
      byIndex.set(index, (byIndex.get(index) ?? 0) + count);
    }
    const sorted = [...byIndex].sort((a, b) => a[0] - b[0]);
    return new SparseLatency(Uint16Array.from(sorted, (e) => e[0]), Float64Array.from(sorted, (e) => e[1]));
  }

  get size(): number {
    return this.indices.length;
  }

  /** Bytes held, roughly (arrays plus object overhead). */
  get bytes(): number {
    return 64 + this.indices.byteLength + this.counts.byteLength;
  }

  total(): number {
    let sum = 0;
    for (const c of this.counts) sum += c;
    return sum;
  }

  /** Adds `other` into this one. */
  merge(other: SparseLatency): void {
    if (other.size === 0) return;
    if (this.size === 0) {
      this.indices = other.indices.slice();
      this.counts = other.counts.slice();
      return;
    }
    const a = this.indices;
    const b = other.indices;
    const indices = new Uint16Array(a.length + b.length);
    const counts = new Float64Array(a.length + b.length);
    let i = 0;
    let j = 0;
    let n = 0;
    while (i < a.length || j < b.length) {
      const ai = i < a.length ? (a[i] as number) : Infinity;
      const bj = j < b.length ? (b[j] as number) : Infinity;
      if (ai === bj) {
        indices[n] = ai;
        counts[n++] = (this.counts[i++] as number) + (other.counts[j++] as number);
      } else if (ai < bj) {
        indices[n] = ai;
        counts[n++] = this.counts[i++] as number;
      } else {
        indices[n] = bj;
        counts[n++] = other.counts[j++] as number;
      }
    }
    this.indices = indices.slice(0, n);
    this.counts = counts.slice(0, n);
  }

  /** Adds these counts into a dense array of the layout (for percentiles over many slots and keys). */
  addTo(dense: Float64Array): void {
    for (let k = 0; k < this.indices.length; k++) {
      const index = this.indices[k] as number;
      dense[index] = (dense[index] as number) + (this.counts[k] as number);
    }
  }
}
