// What a serving thread hands to the telemetry reporter: the change of its request, response, latency
// and TCP series since the previous collection, as plain data (it crosses threads). Counters are read
// where they already live, so the request path pays nothing beyond the exact-latency record.
import { exactLatency } from './exact-latency.ts';
import { Histogram, LATENCY_BUCKETS_MS, type Counter, type MetricKind, type Registry } from './metrics.ts';

/** The families reported to the controller (Linkerd's names; route_* exist once routes are in use). */
export const REPORTED_FAMILIES: readonly string[] = [
  'request_total',
  'response_total',
  'response_latency_ms',
  'route_request_total',
  'route_response_total',
  'route_response_latency_ms',
  'route_actual_request_total',
  'route_actual_response_total',
  'route_actual_response_latency_ms',
  'tcp_open_total',
  'tcp_close_total',
  'tcp_open_connections',
  'tcp_read_bytes_total',
  'tcp_write_bytes_total',
];

export interface HistogramDelta {
  /** Per-bucket counts (Linkerd's 25 buckets + overflow) since the previous collection. */
  readonly buckets: readonly number[];
  /** Exact latencies since the previous collection: flat `[index, count …]` (exact-latency.ts layout). */
  readonly exact: readonly number[];
}

export type DeltaValue = number | HistogramDelta;

export interface FamilyDelta {
  readonly name: string;
  /** `gauge` values are current values, not changes. */
  readonly kind: MetricKind;
  readonly series: ReadonlyArray<readonly [labels: string, value: DeltaValue]>;
}

export type TelemetryDelta = readonly FamilyDelta[];

const BUCKETS = LATENCY_BUCKETS_MS.length + 1;

/** Collects one thread's deltas. Creating one turns exact-latency recording on for the thread. */
export class TelemetryCollector {
  private readonly registry: Registry;
  private readonly beforeCollect: (() => void) | undefined;
  private readonly lastValue = new WeakMap<Counter, number>();
  private readonly lastBuckets = new WeakMap<Histogram, Float64Array>();

  /** `beforeCollect` folds in what is counted lazily (bytes of open sockets). */
  constructor(registry: Registry, beforeCollect?: () => void) {
    this.registry = registry;
    this.beforeCollect = beforeCollect;
    exactLatency.enabled = true;
  }

  collect(): TelemetryDelta {
    this.beforeCollect?.();
    const out: FamilyDelta[] = [];
    for (const name of REPORTED_FAMILIES) {
      const family = this.registry.find(name);
      if (family === undefined) continue;
      const series: Array<readonly [string, DeltaValue]> = [];
      for (const [labels, metric] of family.series as Map<string, Counter | Histogram>) {
        if (metric instanceof Histogram) {
          const delta = this.histogramDelta(metric);
          if (delta !== undefined) series.push([labels, delta]);
        } else if (family.kind === 'gauge') {
          // Sent while non-zero, and once more when it drops to zero; absent means zero.
          const last = this.lastValue.get(metric) ?? 0;
          if (metric.value !== 0 || last !== 0) series.push([labels, metric.value]);
          this.lastValue.set(metric, metric.value);
        } else {
          const delta = metric.value - (this.lastValue.get(metric) ?? 0);
          if (delta !== 0) series.push([labels, delta]);
          this.lastValue.set(metric, metric.value);
        }
      }
      if (series.length > 0) out.push({ name, kind: family.kind, series });
    }
    return out;
  }

  private histogramDelta(histogram: Histogram): HistogramDelta | undefined {
    let last = this.lastBuckets.get(histogram);
    if (last === undefined) {
      last = new Float64Array(BUCKETS);
      this.lastBuckets.set(histogram, last);
    }
    let changed = false;
    const buckets = new Array<number>(BUCKETS);
    for (let i = 0; i < BUCKETS; i++) {
      const now = histogram.counts[i] as number;
      const delta = now - (last[i] as number);
      buckets[i] = delta;
      if (delta !== 0) changed = true;
      last[i] = now;
    }
    const exact = histogram.exact?.drain() ?? [];
    if (!changed && exact.length === 0) return undefined;
    return { buckets, exact };
  }
}
