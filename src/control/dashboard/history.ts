// The last ten minutes of every resource's golden metrics, for the dashboard's sparklines. The public
// API answers "how was it over the last window", not "how did it change", so the dashboard server
// samples StatSummary (10 s windows) every `intervalMs` (sampler.ts) and keeps the samples in a ring per resource.
// Kept in the server rather than the page so that a page opened now shows the minutes before it.
import type { HistoryResponse, HistorySeries } from '../../api/dashboard-messages.ts';
import type { StatRow, StatSummaryRequest, StatSummaryResponse } from '../../api/public-messages.ts';

export const HISTORY_INTERVAL_MS = 10_000;
export const HISTORY_SPAN_MS = 10 * 60_000;
/** Bound on the resources followed; past it the ones not seen longest are dropped. */
export const MAX_SERIES = 5_000;

export interface Sample {
  readonly t: number;
  readonly rps: number | null;
  readonly success: number | null;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  readonly p99Ms: number | null;
}

/** A row's sample: rates over the seconds the row's window covered. */
export function sampleOf(row: StatRow, t: number): Sample {
  const stats = row.stats ?? undefined;
  const seconds = row.window_seconds !== undefined && row.window_seconds > 0 ? row.window_seconds : 10;
  if (stats === undefined) return { t, rps: null, success: null, p50Ms: null, p95Ms: null, p99Ms: null };
  const ok = Number(stats.success_count ?? 0);
  const failed = Number(stats.failure_count ?? 0);
  const total = ok + failed;
  return {
    t,
    rps: total / seconds,
    success: total === 0 ? null : ok / total,
    p50Ms: Number(stats.latency_ms_p50 ?? 0),
    p95Ms: Number(stats.latency_ms_p95 ?? 0),
    p99Ms: Number(stats.latency_ms_p99 ?? 0),
  };
}

/** `deployment/emojivoto/web` for a row. */
export function seriesKey(row: StatRow): string | undefined {
  const r = row.resource;
  if (r?.type === undefined || r.name === undefined || r.name === '') return undefined;
  return `${r.type}/${r.namespace ?? ''}/${r.name}`;
}

export class StatHistory {
  private readonly rings = new Map<string, Sample[]>();
  readonly intervalMs: number;
  readonly spanMs: number;
  private readonly maxSeries: number;

  constructor(intervalMs = HISTORY_INTERVAL_MS, spanMs = HISTORY_SPAN_MS, maxSeries = MAX_SERIES) {
    this.intervalMs = intervalMs;
    this.spanMs = spanMs;
    this.maxSeries = maxSeries;
  }

  get size(): number {
    return this.rings.size;
  }

  /** Adds one sample per row of the responses, taken at `t`; forgets samples older than the span. */
  record(t: number, responses: readonly StatSummaryResponse[]): void {
    for (const response of responses) {
      for (const table of response.ok?.stat_tables ?? []) {
        for (const row of table.pod_group?.rows ?? []) {
          const key = seriesKey(row);
          if (key === undefined) continue;
          let ring = this.rings.get(key);
          if (ring === undefined) {
            ring = [];
          } else {
            // Re-inserted so that Map order is "least recently seen first", the eviction order.
            this.rings.delete(key);
          }
          this.rings.set(key, ring);
          ring.push(sampleOf(row, t));
        }
      }
    }
    const oldest = t - this.spanMs;
    for (const [key, ring] of this.rings) {
      while (ring.length > 0 && (ring[0] as Sample).t <= oldest) ring.shift();
      if (ring.length === 0) this.rings.delete(key);
    }
    for (const key of this.rings.keys()) {
      if (this.rings.size <= this.maxSeries) break;
      this.rings.delete(key);
    }
  }

  /** The series whose key passes `wanted`, column-wise (the shape charts take). */
  query(wanted: (key: string) => boolean): HistoryResponse {
    const series: Record<string, HistorySeries> = {};
    for (const [key, ring] of this.rings) {
      if (!wanted(key)) continue;
      series[key] = {
        t: ring.map((s) => s.t),
        rps: ring.map((s) => s.rps),
        success: ring.map((s) => s.success),
        p50Ms: ring.map((s) => s.p50Ms),
        p95Ms: ring.map((s) => s.p95Ms),
        p99Ms: ring.map((s) => s.p99Ms),
      };
    }
    return { intervalMs: this.intervalMs, spanMs: this.spanMs, series };
  }
}

/** What one sampling round asks: every namespace, workload and pod, and every service as its meshed clients saw it. */
export const SAMPLE_REQUESTS: readonly StatSummaryRequest[] = [
  { selector: { resource: { namespace: '', type: 'namespace', name: '' } }, time_window: '10s', none: {} },
  { selector: { resource: { namespace: '', type: 'all', name: '' } }, time_window: '10s', none: {} },
  { selector: { resource: { namespace: '', type: 'service', name: '' } }, time_window: '10s', from_resource: { namespace: '', type: 'namespace', name: '' } },
];
