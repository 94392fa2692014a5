// Prometheus answers turned into what the embedded store answers: each result series becomes a
// telemetry key (StatKey) with an aggregate, and a `PrometheusView` groups them with the same
// `query(window, groupOf)` the public API already calls on the store. Pure: no I/O.
//
// Counts are `increase()` over the window (Prometheus extrapolates to the whole window, as Linkerd's
// `stat` does), so RPS = count / window. Latency comes as Linkerd's 26 buckets; each bucket's count is
// spread over the exact-latency layout linearly in value across the bucket, so the percentiles the
// public API computes are Prometheus's `histogram_quantile` (linear within a bucket), up to the
// layout's 1 % resolution. The +Inf bucket counts at the highest finite bound, as histogram_quantile does.
import { COUNTS_LENGTH, highestMicrosAt, indexOfMicros, lowestMicrosAt } from '../../../telemetry/exact-latency.ts';
import { destination, type Aggregate, type Direction, type KeyClasses, type PodReport, type QueryResult, type ScopeKind, type StatKey } from '../keys.ts';
import type { TelemetryView } from '../view.ts';
import { DESTINATION_LABELS, SOURCE_OWNER_LABELS, type QueryPart } from './queries.ts';

/** One series of an instant-vector answer: its labels and value. */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The telemetry key a series belongs to (undefined when it names no direction). */
export function keyOfSeries(scope: ScopeKind, labels: Readonly<Record<string, string>>): StatKey | undefined {
  const direction = labels['direction'];
  if (direction !== 'inbound' && direction !== 'outbound') return undefined;
  let workload = '';
  for (const [kind, label] of SOURCE_OWNER_LABELS) {
    const name = labels[label];
    if (name !== undefined && name !== '') {
      workload = `${kind}/${name}`;
      break;
    }
  }
  const dst: Record<string, string> = {};
  for (const label of DESTINATION_LABELS) {
    const value = labels[label];
    if (value !== undefined && value !== '') dst[label.slice('dst_'.length)] = value;
  }
  const routeScope = scope === 'route' || scope === 'actual';
  return {
    namespace: labels['namespace'] ?? '',
    pod: labels['pod'] ?? '',
    workload,
    direction: direction as Direction,
    scope,
    // Route metrics name the destination `dst`; request metrics carry the `authority`.
    authority: scope === 'tcp' ? '' : ((routeScope ? labels['dst'] : labels['authority']) ?? ''),
    route: routeScope ? (labels['rt_route'] ?? '') : '',
    ...destination(dst),
  };
}

const keyId = (k: StatKey): string =>
  [k.namespace, k.pod, k.workload, k.direction, k.scope, k.authority, k.route, k.dstNamespace, k.dstWorkload, k.dstPod, k.dstService].join('\0');

interface Entry {
  readonly key: StatKey;
  readonly agg: Aggregate;
  /** Cumulative latency bucket counts by upper bound (ms; Infinity for +Inf), until `finish`. */
  buckets?: Map<number, number>;
}

function emptyAggregate(): Aggregate {
  return { requests: 0, success: 0, failure: 0, tlsRequests: 0, opened: 0, closed: 0, readBytes: 0, writeBytes: 0, openConnections: 0, latency: undefined };
}

/** Adds `count` spread linearly over [loUs, hiUs) into the dense layout. */
export function spreadInto(dense: Float64Array, loUs: number, hiUs: number, count: number): void {
  if (!(count > 0)) return;
  if (!(hiUs > loUs)) {
    const index = indexOfMicros(loUs);
    dense[index] = (dense[index] as number) + count;
    return;
  }
  const width = hiUs - loUs;
  const last = Math.min(indexOfMicros(hiUs), COUNTS_LENGTH - 1);
  for (let index = indexOfMicros(loUs); index <= last; index++) {
    const from = Math.max(loUs, lowestMicrosAt(index));
    const to = Math.min(hiUs, highestMicrosAt(index) + 1);
    if (to > from) dense[index] = (dense[index] as number) + (count * (to - from)) / width;
  }
}

/** Dense layout counts from cumulative buckets (upper bound in ms → count up to it). */
export function denseFromBuckets(cumulative: ReadonlyMap<number, number>): Float64Array | undefined {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  const dense = new Float64Array(COUNTS_LENGTH);
  let below = 0;
  let lower = 0;
  let any = false;
  for (const bound of bounds) {
    const total = cumulative.get(bound) ?? 0;
    const count = total - below;
    if (count > 0) {
      any = true;
      if (bound === Infinity) spreadInto(dense, lower * 1000, lower * 1000, count);
      else spreadInto(dense, lower * 1000, bound * 1000, count);
    }
    below = Math.max(below, total);
    if (bound !== Infinity) lower = bound;
  }
  return any ? dense : undefined;
}

/** The answers of one view's queries, keyed as the store keys its data. */
export class PrometheusView implements TelemetryView {
  private readonly entries = new Map<string, Entry>();
  private readonly pods = new Map<string, PodReport>();
  private readonly windowMs: number;
  private readonly at: number;
  private readonly source: string;

  constructor(windowMs: number, at: number, source: string) {
    this.windowMs = windowMs;
    this.at = at;
    this.source = source;
  }

  /** Adds the samples of one query (see queries.ts) to the keys they belong to. */
  add(scope: ScopeKind, part: QueryPart, samples: readonly Sample[]): void {
    for (const { metric, value } of samples) {
      if (!Number.isFinite(value) || value < 0) continue;
      const key = keyOfSeries(scope, metric);
      if (key === undefined) continue;
      const id = keyId(key);
      let entry = this.entries.get(id);
      if (entry === undefined) this.entries.set(id, (entry = { key, agg: emptyAggregate() }));
      const agg = entry.agg;
      switch (part) {
        case 'responses':
        case 'actualResponses':
          if (metric['classification'] === 'failure') agg.failure += value;
          else agg.success += value;
          agg.requests += value;
          if (metric['tls'] === 'true') agg.tlsRequests += value;
          break;
        case 'latency': {
          const le = metric['le'] === '+Inf' ? Infinity : Number(metric['le']);
          if (Number.isNaN(le)) break;
          entry.buckets ??= new Map();
          entry.buckets.set(le, (entry.buckets.get(le) ?? 0) + value);
          break;
        }
        case 'opened':
        case 'closed':
        case 'readBytes':
        case 'writeBytes':
        case 'openConnections':
          agg[part] += value;
          break;
      }
      if (key.pod !== '' && value > 0) {
        const podId = `${key.namespace}/${key.pod}`;
        if (!this.pods.has(podId)) {
          this.pods.set(podId, { namespace: key.namespace, pod: key.pod, workload: key.workload, lastReport: this.at, firstReport: this.at, reportIntervalMs: 0 });
        }
      }
    }
  }

  /** Turns the latency buckets gathered into layout counts; call once all queries are in. */
  finish(): this {
    for (const entry of this.entries.values()) {
      if (entry.buckets !== undefined) entry.agg.latency = denseFromBuckets(entry.buckets);
      delete entry.buckets;
    }
    return this;
  }

  get keyCount(): number {
    return this.entries.size;
  }

  query(_windowMs: number, groupOf: (key: StatKey) => string | undefined, _now?: number, only?: KeyClasses): QueryResult {
    const groups = new Map<string, Aggregate>();
    for (const { key, agg } of this.entries.values()) {
      if (only?.directions !== undefined && !only.directions.includes(key.direction)) continue;
      if (only?.scopes !== undefined && !only.scopes.includes(key.scope)) continue;
      const group = groupOf(key);
      if (group === undefined) continue;
      let into = groups.get(group);
      if (into === undefined) groups.set(group, (into = emptyAggregate()));
      addAggregate(into, agg);
    }
    return { seconds: this.windowMs / 1000, groups };
  }

  reportingPods(): PodReport[] {
    return [...this.pods.values()];
  }

  podReport(namespace: string, pod: string): PodReport | undefined {
    return this.pods.get(`${namespace}/${pod}`);
  }

  describe(): string {
    return `metrics from Prometheus at ${this.source}: ${this.entries.size} series in the last ${Math.round(this.windowMs / 1000)} s`;
  }
}

function addAggregate(into: Aggregate, from: Aggregate): void {
  into.requests += from.requests;
  into.success += from.success;
  into.failure += from.failure;
  into.tlsRequests += from.tlsRequests;
  into.opened += from.opened;
  into.closed += from.closed;
  into.readBytes += from.readBytes;
  into.writeBytes += from.writeBytes;
  into.openConnections += from.openConnections;
  if (from.latency !== undefined) {
    const dense = (into.latency ??= new Float64Array(COUNTS_LENGTH));
    for (let i = 0; i < dense.length; i++) dense[i] = (dense[i] as number) + (from.latency[i] as number);
  }
}
