// Reads `perf sched timehist` output (one line per time a thread left a CPU: end time, CPU, task[tid],
// wait, scheduling delay and run time in ms) and answers: in a window of time, which threads held the
// core, and for how long. Used by perf/latency-probe.ts to name what ran while requests were stalled.

export interface RunSlice {
  tid: number;
  comm: string;
  /** Seconds, the clock perf recorded with. */
  start: number;
  end: number;
  /** Scheduling delay before this slice: how long the thread waited runnable, ms. */
  schedDelayMs: number;
}

// `<idle>` has no [tid]: it gets tid 0.
const LINE = /^\s*(\d+\.\d+)\s+\[(\d+)\]\s+(.+?)(?:\[(\d+)(?:\/\d+)?\])?\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s*$/;

export function parseTimehist(text: string): RunSlice[] {
  const out: RunSlice[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const end = Number(m[1]);
    const runMs = Number(m[7]);
    out.push({ tid: Number(m[4] ?? 0), comm: (m[3] as string).trim(), start: end - runMs / 1000, end, schedDelayMs: Number(m[6]) });
  }
  return out;
}

export interface WindowShare {
  who: string;
  ms: number;
  longestMs: number;
}

/** Time each label held the CPU within [from, to] (seconds), largest first; `label` names a slice. */
export function windowShares(slices: readonly RunSlice[], from: number, to: number, label: (s: RunSlice) => string): WindowShare[] {
  const by = new Map<string, WindowShare>();
  for (const s of slices) {
    const overlap = Math.min(s.end, to) - Math.max(s.start, from);
    if (overlap <= 0) continue;
    const who = label(s);
    const e = by.get(who) ?? { who, ms: 0, longestMs: 0 };
    e.ms += overlap * 1000;
    e.longestMs = Math.max(e.longestMs, (s.end - s.start) * 1000);
    by.set(who, e);
  }
  return [...by.values()].sort((a, b) => b.ms - a.ms);
}
