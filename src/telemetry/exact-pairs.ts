// Exact latencies as flat `[index, count, index, count …]` pairs (exact-latency.ts layout) with indices
// ascending and never repeated: the form a serving thread drains them in, the form the HDR encoder
// reads, and so the form the proxy's telemetry accumulator keeps them in. Summing two such lists is one
// linear merge, where a Map per histogram cost a hash insert per pair and a sort of boxed entries per
// report. Pure.

/** Whether `pairs` has indices strictly ascending (a trailing odd number is ignored, as everywhere here). */
export function isSortedPairs(pairs: readonly number[]): boolean {
  for (let i = 2; i + 1 < pairs.length; i += 2) if ((pairs[i] as number) <= (pairs[i - 2] as number)) return false;
  return true;
}

/** Pairs in any order, possibly repeating an index, as sorted pairs with repeats summed. */
export function sortPairs(pairs: readonly number[]): number[] {
  const n = pairs.length >> 1;
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  order.sort((a, b) => (pairs[2 * a] as number) - (pairs[2 * b] as number) || a - b);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const at = 2 * (order[k] as number);
    const index = pairs[at] as number;
    const count = pairs[at + 1] as number;
    if (out.length > 0 && out[out.length - 2] === index) out[out.length - 1] = (out[out.length - 1] as number) + count;
    else out.push(index, count);
  }
  return out;
}

export interface PairsMerge {
  /** The sum of both lists, sorted. */
  readonly pairs: number[];
  /** Indices that were in `extra` only and were kept. */
  readonly added: number;
  /** The counts of indices left out because `room` ran out. */
  readonly droppedCount: number;
}

/**
 * Sums two sorted pair lists into a new one. An index that `base` lacks takes one unit of `room`; once
 * it is used up such indices are left out (their counts summed in `droppedCount`), so that the caller
 * can bound how many distinct values it keeps. Neither input is changed.
 */
export function mergeSortedPairs(base: readonly number[], extra: readonly number[], room = Infinity): PairsMerge {
  const out: number[] = [];
  let added = 0;
  let droppedCount = 0;
  let i = 0;
  let j = 0;
  const baseEnd = base.length - 1;
  const extraEnd = extra.length - 1;
  while (i < baseEnd || j < extraEnd) {
    const a = i < baseEnd ? (base[i] as number) : Infinity;
    const b = j < extraEnd ? (extra[j] as number) : Infinity;
    if (a < b) {
      out.push(a, base[i + 1] as number);
      i += 2;
    } else if (a === b) {
      out.push(a, (base[i + 1] as number) + (extra[j + 1] as number));
      i += 2;
      j += 2;
    } else {
      if (added < room) {
        out.push(b, extra[j + 1] as number);
        added++;
      } else {
        droppedCount += extra[j + 1] as number;
      }
      j += 2;
    }
  }
  return { pairs: out, added, droppedCount };
}
