// Which requests of a fixed-rate run a freeze of a core held up (pure; the generator applies it at the end
// of its run). Freeze windows come from the sentinels' logs (perf/loadgen/freeze-sentinel.ts): one
// "<start ms> <end ms>" line per freeze on CLOCK_MONOTONIC, "<start ms> <end ms> k" where the machine's
// own kernel housekeeping (kdamond) held the core instead. A request is freeze-touched when its life, from
// its scheduled send to its response, overlaps a window on any core of the run: it waited for the
// machine, not for the proxy. A request sent after a freeze ended but queued behind what the freeze
// held back is not touched: how fast a chain drains that backlog is its own doing and stays measured.

/** [start, end] in ms on CLOCK_MONOTONIC, sorted by start, not overlapping. */
export type FreezeWindow = readonly [number, number];

/** Which windows of a log: freezes (the core ran nothing), kernel housekeeping (`k`), or both. */
export type WindowKind = 'freeze' | 'housekeeping' | 'all';

/** Pure: the windows of any number of sentinel logs, merged into one sorted, non-overlapping list. */
export function parseFreezeLogs(texts: readonly string[], kind: WindowKind = 'all'): FreezeWindow[] {
  const raw: Array<[number, number]> = [];
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const [a, b, tag, extra] = line.trim().split(' ');
      if (a === undefined || b === undefined || extra !== undefined || (tag !== undefined && tag !== 'k')) continue;
      if (kind !== 'all' && (tag === 'k') !== (kind === 'housekeeping')) continue;
      const start = Number(a);
      const end = Number(b);
      if (Number.isFinite(start) && Number.isFinite(end) && end > start) raw.push([start, end]);
    }
  }
  raw.sort((x, y) => x[0] - y[0]);
  const merged: Array<[number, number]> = [];
  for (const w of raw) {
    const last = merged[merged.length - 1];
    if (last !== undefined && w[0] <= last[1]) last[1] = Math.max(last[1], w[1]);
    else merged.push([w[0], w[1]]);
  }
  return merged;
}

/** Pure: whether [start, end] (ms) overlaps any of `windows` (sorted, non-overlapping). Binary search. */
export function overlapsFreeze(windows: readonly FreezeWindow[], start: number, end: number): boolean {
  // The first window that ends at or after `start`: the only one that can overlap if any does.
  let lo = 0;
  let hi = windows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((windows[mid] as FreezeWindow)[1] < start) lo = mid + 1;
    else hi = mid;
  }
  const w = windows[lo];
  return w !== undefined && w[0] <= end;
}

/** Pure: the windows that overlap [start, end] and the ms of them inside it. */
export function freezesWithin(windows: readonly FreezeWindow[], start: number, end: number): { count: number; frozenMs: number } {
  let count = 0;
  let frozenMs = 0;
  for (const [a, b] of windows) {
    if (b < start || a > end) continue;
    count++;
    frozenMs += Math.min(b, end) - Math.max(a, start);
  }
  return { count, frozenMs };
}
