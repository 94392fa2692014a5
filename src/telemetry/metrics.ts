// Metric primitives kept local to one thread, snapshots that cross threads as plain data, a merge, and
// the Prometheus text rendering. Series are keyed by their preformatted label string so the hot path
// increments a field on an object it already holds: no allocation per request.
import { ExactLatency, exactLatency } from './exact-latency.ts';

/** Linkerd's latency buckets (ms), unchanged since Conduit 0.4, so existing dashboards keep working. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000,
  40000, 50000,
];

export class Counter {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class Histogram {
  /** One slot per finite bucket plus +Inf; counts are per bucket, made cumulative when rendered. */
  readonly counts = new Float64Array(LATENCY_BUCKETS_MS.length + 1);
  sum = 0;
  count = 0;
  /** Exact latencies (µs) since the last telemetry collection; only while reporting is on. */
  exact: ExactLatency | undefined;

  observe(ms: number): void {
    let i = 0;
    const n = LATENCY_BUCKETS_MS.length;
    while (i < n && ms > (LATENCY_BUCKETS_MS[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += ms;
    this.count++;
    if (exactLatency.enabled) (this.exact ??= new ExactLatency()).record(ms * 1000);
  }
}

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface HistogramValue {
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

export interface FamilySnapshot {
  readonly name: string;
  readonly help: string;
  readonly kind: MetricKind;
  readonly series: ReadonlyArray<readonly [labels: string, value: number | HistogramValue]>;
}

export type Snapshot = readonly FamilySnapshot[];

export class Family<M extends Counter | Histogram> {
  readonly name: string;
  readonly help: string;
  readonly kind: MetricKind;
  readonly series = new Map<string, M>();
  private readonly make: () => M;

  constructor(name: string, help: string, kind: MetricKind, make: () => M) {
    this.name = name;
    this.help = help;
    this.kind = kind;
    this.make = make;
  }

  /** The series for a label string (see `labels()`), created on first use. */
  get(labelString: string): M {
    let metric = this.series.get(labelString);
    if (metric === undefined) {
      metric = this.make();
      this.series.set(labelString, metric);
    }
    return metric;
  }

  snapshot(): FamilySnapshot {
    const series: Array<readonly [string, number | HistogramValue]> = [];
    for (const [labelString, metric] of this.series) {
      if (metric instanceof Histogram) {
        series.push([labelString, { counts: Array.from(metric.counts), sum: metric.sum, count: metric.count }]);
      } else {
        series.push([labelString, metric.value]);
      }
    }
    return { name: this.name, help: this.help, kind: this.kind, series };
  }
}

export class Registry {
  private readonly families: Array<Family<Counter> | Family<Histogram>> = [];

  counter(name: string, help: string): Family<Counter> {
    return this.add(new Family(name, help, 'counter', () => new Counter()));
  }

  gauge(name: string, help: string): Family<Counter> {
    return this.add(new Family(name, help, 'gauge', () => new Counter()));
  }

  histogram(name: string, help: string): Family<Histogram> {
    return this.add(new Family(name, help, 'histogram', () => new Histogram()));
  }

  snapshot(): Snapshot {
    return this.families.map((f) => f.snapshot());
  }

  /** The family registered under `name`, for readers other than Prometheus (telemetry reports). */
  find(name: string): Family<Counter> | Family<Histogram> | undefined {
    return this.families.find((f) => f.name === name);
  }

  private add<F extends Family<Counter> | Family<Histogram>>(family: F): F {
    this.families.push(family);
    return family;
  }
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Formats labels once, in the given order: `direction="inbound",authority="web:80"`. */
export function labels(pairs: Readonly<Record<string, string | number>>): string {
  let out = '';
  for (const key in pairs) {
    if (out !== '') out += ',';
    out += `${key}="${escapeLabelValue(String(pairs[key]))}"`;
  }
  return out;
}

export function joinLabels(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a},${b}`;
}

/** Sums snapshots from several threads; families and series are matched by name and label string. */
export function mergeSnapshots(snapshots: readonly Snapshot[]): Snapshot {
  const byName = new Map<string, { help: string; kind: MetricKind; series: Map<string, number | HistogramValue> }>();
  for (const snapshot of snapshots) {
    for (const family of snapshot) {
      let merged = byName.get(family.name);
      if (merged === undefined) {
        merged = { help: family.help, kind: family.kind, series: new Map() };
        byName.set(family.name, merged);
      }
      for (const [labelString, value] of family.series) {
        const prior = merged.series.get(labelString);
        merged.series.set(labelString, prior === undefined ? value : addValues(prior, value));
      }
    }
  }
  return [...byName].map(([name, f]) => ({ name, help: f.help, kind: f.kind, series: [...f.series] }));
}

function addValues(a: number | HistogramValue, b: number | HistogramValue): number | HistogramValue {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (typeof a === 'object' && typeof b === 'object') {
    return { counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)), sum: a.sum + b.sum, count: a.count + b.count };
  }
  throw new TypeError('cannot merge a histogram with a counter');
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
}

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(snapshot: Snapshot): string {
  const lines: string[] = [];
  for (const family of snapshot) {
    if (family.series.length === 0) continue;
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.kind}`);
    for (const [labelString, value] of family.series) {
      if (typeof value === 'number') {
        lines.push(`${family.name}${labelString === '' ? '' : `{${labelString}}`} ${formatNumber(value)}`);
        continue;
      }
      let cumulative = 0;
      for (let i = 0; i < value.counts.length; i++) {
        cumulative += value.counts[i] as number;
        const le = i < LATENCY_BUCKETS_MS.length ? String(LATENCY_BUCKETS_MS[i]) : '+Inf';
        lines.push(`${family.name}_bucket{${joinLabels(labelString, `le="${le}"`)}} ${cumulative}`);
      }
      const braces = labelString === '' ? '' : `{${labelString}}`;
      lines.push(`${family.name}_sum${braces} ${formatNumber(value.sum)}`, `${family.name}_count${braces} ${value.count}`);
    }
  }
  return lines.join('\n') + '\n';
}
