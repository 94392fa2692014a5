// The proxy's unsent telemetry for one direction: worker deltas summed series by series until a report
// gets through (telemetry-report-builder.ts then turns them into a `Telemetry.Report` request,
// proto/telemetry.proto). Its size is bounded by the number of series (at most `maxSeries`), not by how
// long the controller stays away. Exact latencies stay in the sorted-pairs form the workers drain them in
// (src/telemetry/exact-pairs.ts): usually adopted as they come, merged linearly when a series has more
// than one delta, never spread into a Map.
import { isSortedPairs, mergeSortedPairs, sortPairs } from '../telemetry/exact-pairs.ts';
import { LATENCY_BUCKETS_MS } from '../telemetry/metrics.ts';
import type { DeltaValue } from '../telemetry/report-delta.ts';

export interface PendingHistogram {
  readonly buckets: Float64Array;
  /** Exact latencies as sorted `[index, count …]` pairs; replaced when more come, never changed in place. */
  exact: readonly number[];
}

export type PendingValue = number | PendingHistogram;

/** Linkerd's latency buckets and the +Inf one. */
export const BUCKETS = LATENCY_BUCKETS_MS.length + 1;
/** Conduit's `histogram_bucket_bounds_tenth_ms`: Linkerd's buckets in tenths of a ms, then u32::MAX. */
export const BUCKET_BOUNDS_TENTH_MS: readonly number[] = [...LATENCY_BUCKETS_MS.map((ms) => ms * 10), 0xffffffff];

/** Distinct exact-latency values kept per accumulator (two numbers each); past it new values are dropped. */
export const MAX_EXACT_ENTRIES = 500_000;

const NO_PAIRS: readonly number[] = [];

/**
 * One family's series: label strings and values in the order first added (read by index: the report
 * builder walks them without the iterator objects a Map's entries cost code that is not yet optimized,
 * which code run every 5 s mostly is), and where each label string is.
 */
export class FamilySeries<V> {
  readonly labels: string[] = [];
  readonly values: V[] = [];
  private readonly index = new Map<string, number>();

  /** Where `labels` is, or -1. */
  indexOf(labels: string): number {
    return this.index.get(labels) ?? -1;
  }

  push(labels: string, value: V): void {
    this.index.set(labels, this.labels.length);
    this.labels.push(labels);
    this.values.push(value);
  }

  get size(): number {
    return this.labels.length;
  }
}

export class SeriesAccumulator {
  readonly maxSeries: number;
  /** Series refused because the accumulator was full (their counts are lost). */
  dropped = 0;
  /** Exact latencies left out because MAX_EXACT_ENTRIES was reached (their bucket counts are kept). */
  droppedExact = 0;
  private exactEntries = 0;
  private readonly families = new Map<string, FamilySeries<PendingValue>>();
  private gauges = new Map<string, FamilySeries<number>>();
  private size = 0;

  constructor(maxSeries: number) {
    this.maxSeries = maxSeries;
  }

  /** True when there are no counts to send (gauges alone do not count). */
  get empty(): boolean {
    return this.size === 0;
  }

  get seriesCount(): number {
    return this.size;
  }

  /** Adds a counter or histogram delta. */
  add(family: string, labels: string, value: DeltaValue): void {
    let series = this.families.get(family);
    if (series === undefined) {
      series = new FamilySeries();
      this.families.set(family, series);
    }
    const at = series.indexOf(labels);
    if (at === -1) {
      if (this.size >= this.maxSeries) {
        this.dropped++;
        return;
      }
      this.size++;
      if (typeof value === 'number') {
        series.push(labels, value);
      } else {
        const pending: PendingHistogram = { buckets: new Float64Array(BUCKETS), exact: NO_PAIRS };
        this.addHistogram(pending, value.buckets, value.exact);
        series.push(labels, pending);
      }
      return;
    }
    const prior = series.values[at] as PendingValue;
    if (typeof prior === 'number') {
      if (typeof value === 'number') series.values[at] = prior + value;
      return;
    }
    if (typeof value === 'number') return;
    this.addHistogram(prior, value.buckets, value.exact);
  }

  private addHistogram(into: PendingHistogram, buckets: readonly number[], exact: readonly number[]): void {
    for (let i = 0; i < BUCKETS; i++) into.buckets[i] = (into.buckets[i] as number) + (buckets[i] ?? 0);
    if (exact.length < 2) return;
    // A worker drains its pairs sorted; anything else (or an odd trailing number) is put in order first.
    const sorted = exact.length % 2 === 0 && isSortedPairs(exact) ? exact : sortPairs(exact);
    const room = MAX_EXACT_ENTRIES - this.exactEntries;
    if (into.exact.length === 0 && sorted.length / 2 <= room) {
      into.exact = sorted;
      this.exactEntries += sorted.length / 2;
      return;
    }
    const merged = mergeSortedPairs(into.exact, sorted, room);
    into.exact = merged.pairs;
    this.exactEntries += merged.added;
    this.droppedExact += merged.droppedCount;
  }

  /** Replaces the gauges (current values, summed over threads by the caller). */
  setGauges(gauges: ReadonlyMap<string, ReadonlyMap<string, number>>): void {
    this.gauges = new Map();
    for (const [family, series] of gauges) {
      const table = new FamilySeries<number>();
      for (const [labels, value] of series) table.push(labels, value);
      this.gauges.set(family, table);
    }
  }

  /** Counters and histograms by family. */
  get counted(): ReadonlyMap<string, FamilySeries<PendingValue>> {
    return this.families;
  }

  /** Gauges (current values) by family. */
  get current(): ReadonlyMap<string, FamilySeries<number>> {
    return this.gauges;
  }
}
