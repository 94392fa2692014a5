// The time a proxy's reports in a query window actually cover, so that the store's rates are counts
// over the time the counts cover. A proxy reports every few seconds and each report lands in the
// 10-second slot of its arrival, so a window holds a whole number of reports whose covered time differs
// from the window's length by up to one report interval at each end: ±8 % of a minute at 5 s, which
// made `stat` move by several percent from one query to the next and disagree with Prometheus, whose
// rate() divides by the samples' own span. A key's counts are scaled by the time its proxy was
// reporting within the window over the time its reports there cover (`factor`); workload rollups by
// the sums over the workload's proxies. Windows beyond the fine slots (over 10 minutes) are not scaled:
// one interval is under 1 % of them.
import { FINE_RETENTION_MS, FINE_SLOT_MS } from './key-state.ts';

/** Fine slots a proxy's coverage is remembered for (the fine retention and the slot being filled). */
const RING = FINE_RETENTION_MS / FINE_SLOT_MS + 2;
/** The factor's bounds: a window whose reports are this far off the clock is not corrected further. */
const MIN_FACTOR = 0.5;
const MAX_FACTOR = 2;

/** One query's window, as the factors need it. */
export interface CoverageWindow {
  /** Distinguishes queries: a factor is worked out once per query and kept until the next. */
  readonly stamp: number;
  /** Where the window's seconds start (its first slot, or later when the store holds less). */
  readonly start: number;
  readonly now: number;
  readonly fineFirst: number;
  readonly fineLast: number;
}

/** What one proxy (one direction of it) reported when: the milliseconds its reports cover per fine slot. */
export class ProxyCoverage {
  /** When its first report arrived, and how long before that the report's counts began. */
  private first = NaN;
  private firstIntervalMs = 0;
  /** When its last report arrived (NaN before the first). */
  last = NaN;
  private intervalMs = 0;
  private readonly coveredMs = new Float64Array(RING);
  /** Requests and connection events of the reports per slot: a workload's proxies are weighted by them. */
  private readonly eventsOf = new Float64Array(RING);
  private readonly slotOf = new Float64Array(RING).fill(NaN);
  private stamp = -1;
  /** The last query's figures (see measure), reused in place. */
  private readonly window = { coveredMs: 0, events: 0, factor: 1, liveMs: 0 };

  /** A report that arrived at `at` and covers the `coveredMs` before it; its proxy reports every `intervalMs`. */
  add(at: number, coveredMs: number, intervalMs: number): void {
    if (Number.isNaN(this.first)) {
      this.first = at;
      this.firstIntervalMs = coveredMs;
    }
    if (Number.isNaN(this.last) || at > this.last) this.last = at;
    this.intervalMs = intervalMs > 0 ? intervalMs : coveredMs;
    const slot = Math.floor(at / FINE_SLOT_MS);
    const i = slot % RING;
    if (this.slotOf[i] !== slot) {
      this.slotOf[i] = slot;
      this.coveredMs[i] = 0;
      this.eventsOf[i] = 0;
    }
    (this.coveredMs[i] as number) += coveredMs;
  }

  /** Counts `n` requests or connection events of the report that arrived at `at` (after `add`). */
  countEvents(at: number, n: number): void {
    const slot = Math.floor(at / FINE_SLOT_MS);
    const i = slot % RING;
    if (this.slotOf[i] === slot) (this.eventsOf[i] as number) += n;
  }

  /** Milliseconds covered by the reports that arrived in fine slots `fineFirst`..`fineLast`. */
  covered(fineFirst: number, fineLast: number): number {
    const sums = { coveredMs: 0, events: 0 };
    this.sumInto(sums, fineFirst, fineLast);
    return sums.coveredMs;
  }

  /** Sums covered time and events of the window's slots (7 for a minute, each at its place in the ring) into `into`. */
  private sumInto(into: { coveredMs: number; events: number }, fineFirst: number, fineLast: number): void {
    let covered = 0;
    let events = 0;
    for (let slot = Math.max(fineFirst, fineLast - RING + 1); slot <= fineLast; slot++) {
      const i = slot % RING;
      if (this.slotOf[i] !== slot) continue;
      covered += this.coveredMs[i] as number;
      events += this.eventsOf[i] as number;
    }
    into.coveredMs = covered;
    into.events = events;
  }

  /**
   * Milliseconds of the window in which the proxy was reporting: from the start of its first report's
   * counts (or the window's start) to now, or to its last report when it has fallen silent for more than
   * two intervals (its counts then stand for the time it was there, as Prometheus's do).
   */
  live(start: number, now: number): number {
    if (Number.isNaN(this.first)) return 0;
    const from = Math.max(start, this.first - this.firstIntervalMs);
    const silent = now - this.last > 2 * this.intervalMs + 1_000;
    return Math.max(0, (silent ? this.last : now) - from);
  }

  /** The factor for this proxy's keys in `window`: live over covered time, 1 when nothing is covered. */
  factor(window: CoverageWindow): number {
    return this.measure(window).factor;
  }

  /** This proxy's covered time, events and factor in `window`, worked out once per query. */
  measure(window: CoverageWindow): { readonly coveredMs: number; readonly events: number; readonly factor: number; readonly liveMs: number } {
    if (this.stamp !== window.stamp) {
      this.stamp = window.stamp;
      this.sumInto(this.window, window.fineFirst, window.fineLast);
      this.window.liveMs = this.live(window.start, window.now);
      this.window.factor = ratio(this.window.liveMs, this.window.coveredMs);
    }
    return this.window;
  }
}

/**
 * The proxies of one workload (one direction), for its rollups: their factors weighted by their events
 * in the window, as the rollup's counts are their sums (by covered time when none had any).
 */
export class WorkloadCoverage {
  readonly proxies = new Set<ProxyCoverage>();
  private stamp = -1;
  private factorValue = 1;

  factor(window: CoverageWindow): number {
    if (this.stamp !== window.stamp) {
      this.stamp = window.stamp;
      let events = 0;
      let weighted = 0;
      let live = 0;
      let covered = 0;
      for (const proxy of this.proxies) {
        const m = proxy.measure(window);
        if (m.coveredMs === 0) continue;
        events += m.events;
        weighted += m.events * m.factor;
        covered += m.coveredMs;
        live += m.liveMs;
      }
      this.factorValue = events > 0 ? weighted / events : ratio(live, covered);
    }
    return this.factorValue;
  }
}

function ratio(live: number, covered: number): number {
  if (covered <= 0 || live <= 0) return 1;
  return Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, live / covered));
}
