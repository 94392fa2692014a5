// Returns freed memory to the system once the proxy goes idle. A burst of traffic leaves the C heap
// (OpenSSL, libuv and V8's off-heap buffers, in every thread's malloc arena) holding pages it freed
// but keeps: 5-8 MB after a saturation run. glibc gives them back only when asked (malloc_trim), and
// asking takes the arenas' locks — up to ~15 ms right after a burst, during which a worker that
// allocates waits — so it is asked only when every thread was idle over the last interval (event
// loop utilization below 2 %), once per idle period, never under load. Go's runtime scavenger and
// tcmalloc's release rate do the same job for their heaps.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** Busy share of the interval below which a thread counts as idle. */
export const IDLE_UTILIZATION = 0.02;

export interface TrimState {
  /** Trimmed since the proxy was last busy: nothing new to give back. */
  trimmed: boolean;
}

/** Pure: whether to trim now, given the busiest thread's utilization over the last interval. */
export function shouldTrim(state: TrimState, busiest: number): boolean {
  if (busiest >= IDLE_UTILIZATION) {
    state.trimmed = false;
    return false;
  }
  if (state.trimmed) return false;
  state.trimmed = true;
  return true;
}

/** Something whose event loop utilization can be read: `performance` or a Worker's `performance`. */
export interface EluSource {
  eventLoopUtilization(current?: EventLoopUtilization, previous?: EventLoopUtilization): EventLoopUtilization;
}

export interface IdleTrimOptions {
  intervalMs: number;
  /** The threads to watch (the main thread and every worker); read anew each tick (workers restart). */
  threads: () => readonly EluSource[];
  /** Gives memory back; false when the platform cannot (then the trimmer stops). */
  trim: () => boolean;
  onTrim?: (rssBefore: number, rssAfter: number, ms: number) => void;
}

/** Starts the trimmer (an unref'd timer); returns its stop function. No-op when intervalMs is 0. */
export function startIdleTrim(o: IdleTrimOptions): () => void {
  if (!(o.intervalMs > 0)) return () => {};
  // Primed now, so the first tick already judges an interval.
  let last = new Map<EluSource, EventLoopUtilization>(o.threads().map((t) => [t, t.eventLoopUtilization()]));
  const state: TrimState = { trimmed: false };
  const timer = setInterval(() => {
    let busiest = 0;
    const seen = new Map<EluSource, EventLoopUtilization>();
    for (const t of o.threads()) {
      const now = t.eventLoopUtilization();
      const before = last.get(t);
      seen.set(t, now);
      // A thread seen for the first time (a replaced worker) has no interval yet: busy until the next tick.
      busiest = Math.max(busiest, before === undefined ? 1 : t.eventLoopUtilization(now, before).utilization);
    }
    // Rebuilt each tick: a replaced worker's entry goes with it.
    last = seen;
    if (!shouldTrim(state, busiest)) return;
    const rssBefore = process.memoryUsage.rss();
    const t0 = performance.now();
    if (!o.trim()) {
      clearInterval(timer);
      return;
    }
    o.onTrim?.(rssBefore, process.memoryUsage.rss(), performance.now() - t0);
  }, o.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
