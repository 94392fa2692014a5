// Groups a run's slow requests (by scheduled send time) into bursts: requests less than `gapMs` apart
// belong to one. A stall (a GC pause, a timer's batch of work, the scheduler running another process)
// shows as one burst of many requests; per-request cost shows as many bursts of one.

export interface SlowRequest {
  /** Scheduled send time, ms from the generator's start. */
  atMs: number;
  us: number;
}

export interface SlowBurst {
  startMs: number;
  spanMs: number;
  count: number;
  worstUs: number;
}

/** Bursts in order of size (most slow requests first), then of time. */
export function slowBursts(slow: readonly SlowRequest[], gapMs: number): SlowBurst[] {
  const sorted = [...slow].sort((a, b) => a.atMs - b.atMs);
  const bursts: SlowBurst[] = [];
  let cur: SlowBurst | undefined;
  let lastMs = -Infinity;
  for (const r of sorted) {
    if (cur === undefined || r.atMs - lastMs > gapMs) {
      cur = { startMs: r.atMs, spanMs: 0, count: 0, worstUs: 0 };
      bursts.push(cur);
    }
    cur.count++;
    cur.spanMs = r.atMs - cur.startMs;
    if (r.us > cur.worstUs) cur.worstUs = r.us;
    lastMs = r.atMs;
  }
  return bursts.sort((a, b) => b.count - a.count || a.startMs - b.startMs);
}
