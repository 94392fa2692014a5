// The read side of the telemetry store: the slots a window covers, summed per group. Pure over the
// key states and gauges it is given (store.ts picks which: the classes a query can use, or rollups).
import type { Aggregate, Direction, QueryResult, StatKey } from './keys.ts';
import { COARSE_SLOT_MS, FINE_RETENTION_MS, FINE_SLOT_MS, RETENTION_MS, type Gauge, type KeyState } from './key-state.ts';
import { addSlot, emptyAggregate } from './slots.ts';
import type { CoverageWindow } from './coverage.ts';

/** A query window on the slot grid: 10-second slots up to 10 minutes, minute slots as well beyond. */
export interface QueryWindow {
  readonly ms: number;
  readonly fineOnly: boolean;
  /** Start of the first slot read. */
  readonly firstStart: number;
  readonly fineFirst: number;
  readonly coarseFirst: number;
  readonly fineLast: number;
}

export function queryWindow(windowMs: number, now: number): QueryWindow {
  const ms = Math.min(Math.max(windowMs, FINE_SLOT_MS), RETENTION_MS);
  const fineOnly = ms <= FINE_RETENTION_MS;
  const grid = fineOnly ? FINE_SLOT_MS : COARSE_SLOT_MS;
  const firstStart = Math.floor((now - ms) / grid) * grid;
  return { ms, fineOnly, firstStart, fineFirst: Math.floor(firstStart / FINE_SLOT_MS), coarseFirst: Math.floor(firstStart / COARSE_SLOT_MS), fineLast: Math.floor(now / FINE_SLOT_MS) };
}

/**
 * Sums the slots of `states` within the window per group (`groupOf`; undefined = leave out), and the
 * open-connection gauges of proxies that reported within it. `dataSince`: the store's start, or the
 * time before which it dropped data to stay within its bound (the window's seconds are cut to it).
 * `gaugeDirections`: the gauge records `groupOf` can accept a key of (the others are not offered to it:
 * a query of one direction skipped all of the other's gauges one by one, ~12,000 at 2,000 proxies).
 * Each aggregate's coverageScale weighs its keys' coverage factors (coverage.ts), so that a rate is over
 * the time its reports cover. `stamp`: distinct per query.
 */
export function aggregateStates(
  states: Iterable<KeyState>,
  gauges: Iterable<{ readonly direction: Direction; readonly at: number; readonly intervalMs: number; readonly entries: readonly Gauge[] }>,
  window: QueryWindow,
  groupOf: (key: StatKey) => string | undefined,
  now: number,
  dataSince: number,
  gaugeDirections: readonly Direction[] = ['inbound', 'outbound'],
  stamp = 0,
): QueryResult {
  const { fineOnly, firstStart, fineFirst, coarseFirst, fineLast } = window;
  // Less than the window when the store is younger, or dropped older slices to stay within maxBytes.
  const seconds = Math.max(1, (now - Math.max(firstStart, Math.min(dataSince, now - FINE_SLOT_MS))) / 1000);
  const coverage: CoverageWindow = { stamp, start: now - seconds * 1000, now, fineFirst, fineLast };
  const groups = new Map<string, Aggregate>();
  const aggregate = (group: string): Aggregate => {
    let agg = groups.get(group);
    if (agg === undefined) {
      agg = emptyAggregate();
      groups.set(group, agg);
    }
    return agg;
  };
  for (const state of states) {
    if (state.lastReport < firstStart) continue;
    const group = groupOf(state.key);
    if (group === undefined) continue;
    const agg = aggregate(group);
    const factor = fineOnly ? (state.coverage?.factor(coverage) ?? 1) : 1;
    // Short windows look up their few slots; long ones walk what the key holds.
    if (fineOnly && fineLast - fineFirst < state.fine.size) {
      for (let index = fineFirst; index <= fineLast; index++) {
        const slot = state.fine.get(index);
        if (slot !== undefined) addSlot(agg, slot, factor);
      }
    } else {
      for (const [index, slot] of state.fine) if (index >= fineFirst) addSlot(agg, slot, factor);
    }
    if (!fineOnly) for (const [index, slot] of state.coarse) if (index >= coarseFirst) addSlot(agg, slot);
  }
  // Gauges: the latest value of every proxy that reported within the window (or its last two intervals).
  for (const gauge of gaugeDirections.length === 0 ? [] : gauges) {
    if (!gaugeDirections.includes(gauge.direction)) continue;
    const fresh = Math.max(window.ms, 2 * gauge.intervalMs);
    if (gauge.at < now - fresh) continue;
    for (const entry of gauge.entries) {
      const group = groupOf(entry.key);
      if (group !== undefined) aggregate(group).openConnections += entry.open;
    }
  }
  return { seconds, groups };
}
