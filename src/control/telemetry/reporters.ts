// What the telemetry store keeps per reporting proxy rather than per key: the last sequence number
// (retries are recognised), the pod and when it reported, its open-connection gauges, and the keys of
// its last report in order (store.ts keyState compares each scope with the key at the same place).
//
// Every record is updated in place, report after report: a proxy reports every few seconds, so a
// record made anew per report lived just long enough for the garbage collector's scavenges to copy it
// and promote it to the old generation, where it then died (about 2 KiB per proxy and interval at
// 2,000 proxies). Bounded: past `max` entries the first recorded go; `maintain` drops proxies silent
// for RETENTION_MS.
import type { Direction, PodReport, StatKey } from './keys.ts';
import { RETENTION_MS, type Gauge, type KeyState } from './key-state.ts';
import { ProxyCoverage, WorkloadCoverage } from './coverage.ts';

/** A proxy's keys of one direction, in report order, and the request contexts they came from. */
export interface RecentKeys {
  at: number;
  readonly states: KeyState[];
  /** The request context object each key came from (undefined for transports). */
  readonly ctxs: Array<object | undefined>;
}

/** A proxy's coverage (one direction), and its workload's, which it is counted in. */
export interface CoverageEntry {
  readonly proxy: ProxyCoverage;
  readonly workload: WorkloadCoverage;
  readonly workloadKey: string;
}

/** A proxy's open-connection gauges of one direction, from its last report. */
export interface GaugeRecord {
  /** Which side of the proxy the gauges are of: a query of the other direction skips the record. */
  readonly direction: Direction;
  at: number;
  intervalMs: number;
  readonly entries: Gauge[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class Reporters {
  private readonly sequences = new Map<string, { sequence: number; at: number }>();
  readonly gauges = new Map<string, GaugeRecord>();
  readonly pods = new Map<string, Mutable<PodReport>>();
  private readonly recentKeys = new Map<string, RecentKeys>();
  /** The time each proxy's reports cover (by the origin prefix: namespace, pod, workload, direction). */
  private readonly proxyCoverage = new Map<string, CoverageEntry>();
  /** The same per workload and direction, for rollups. */
  private readonly workloadCoverage = new Map<string, WorkloadCoverage>();

  /**
   * Whether a report with this instance, direction and sequence was applied already (a retry), noting
   * it as the latest when it was not. Reports without an instance or sequence are never retries.
   */
  isRetry(instance: string, direction: Direction, sequence: number, at: number): boolean {
    if (instance === '' || sequence <= 0) return false;
    const seqKey = `${instance}\0${direction}`;
    const seen = this.sequences.get(seqKey);
    if (seen !== undefined && sequence <= seen.sequence) {
      seen.at = at;
      return true;
    }
    if (seen === undefined) this.sequences.set(seqKey, { sequence, at });
    else {
      seen.sequence = sequence;
      seen.at = at;
    }
    return false;
  }

  /** Notes a report of the pod (kept in the order pods last reported, as `reportingPods` lists them). */
  notePod(namespace: string, pod: string, workload: string, at: number, reportIntervalMs: number): void {
    const podKey = `${namespace}/${pod}`;
    const prior = this.pods.get(podKey);
    if (prior === undefined) {
      this.pods.set(podKey, { namespace, pod, workload, lastReport: at, firstReport: at, reportIntervalMs });
      return;
    }
    this.pods.delete(podKey);
    prior.workload = workload;
    prior.lastReport = at;
    prior.reportIntervalMs = reportIntervalMs;
    this.pods.set(podKey, prior);
  }

  /** The keys of the proxy's last report in this direction (`prefix`), to be overwritten by this one's. */
  recent(prefix: string, at: number): RecentKeys {
    let recent = this.recentKeys.get(prefix);
    if (recent === undefined) this.recentKeys.set(prefix, (recent = { at, states: [], ctxs: [] }));
    recent.at = at;
    return recent;
  }

  /**
   * Notes the time a report covers (`coveredMs` before `at`) for its proxy and direction (`prefix`),
   * and returns the proxy's coverage and that of its workload and direction.
   */
  cover(prefix: string, namespace: string, workload: string, direction: Direction, at: number, coveredMs: number, intervalMs: number): CoverageEntry {
    let entry = this.proxyCoverage.get(prefix);
    if (entry === undefined) {
      // The key of its workload is built once per proxy, not per report.
      const workloadKey = `${namespace}\0${workload}\0${direction}`;
      let shared = this.workloadCoverage.get(workloadKey);
      if (shared === undefined) this.workloadCoverage.set(workloadKey, (shared = new WorkloadCoverage()));
      entry = { proxy: new ProxyCoverage(), workload: shared, workloadKey };
      shared.proxies.add(entry.proxy);
      this.proxyCoverage.set(prefix, entry);
    }
    entry.proxy.add(at, coveredMs, intervalMs);
    return entry;
  }

  /** The gauge record of a proxy and direction (`id`), its entries to be overwritten (see setGauge). */
  gaugeRecord(id: string, direction: Direction, at: number, intervalMs: number): GaugeRecord {
    let record = this.gauges.get(id);
    if (record === undefined) this.gauges.set(id, (record = { direction, at, intervalMs, entries: [] }));
    record.at = at;
    record.intervalMs = intervalMs;
    return record;
  }

  /** Bounds every map to `max` entries, the first recorded going first. */
  bound(max: number): void {
    if (this.sequences.size <= max && this.gauges.size <= max && this.pods.size <= max && this.recentKeys.size <= max && this.proxyCoverage.size <= max) return;
    for (const map of [this.sequences, this.gauges, this.pods, this.recentKeys] as Array<Map<string, unknown>>) {
      while (map.size > max) map.delete(map.keys().next().value as string);
    }
    while (this.proxyCoverage.size > max) this.forgetCoverage(this.proxyCoverage.keys().next().value as string);
  }

  private forgetCoverage(prefix: string): void {
    const entry = this.proxyCoverage.get(prefix);
    if (entry === undefined) return;
    this.proxyCoverage.delete(prefix);
    entry.workload.proxies.delete(entry.proxy);
    if (entry.workload.proxies.size === 0) this.workloadCoverage.delete(entry.workloadKey);
  }

  /** Drops the records of proxies that did not report for RETENTION_MS. */
  maintain(now: number): void {
    for (const [key, seen] of this.sequences) if (seen.at <= now - RETENTION_MS) this.sequences.delete(key);
    for (const [key, gauge] of this.gauges) if (gauge.at <= now - RETENTION_MS) this.gauges.delete(key);
    for (const [key, pod] of this.pods) if (pod.lastReport <= now - RETENTION_MS) this.pods.delete(key);
    for (const [key, recent] of this.recentKeys) if (recent.at <= now - RETENTION_MS) this.recentKeys.delete(key);
    for (const [key, entry] of this.proxyCoverage) if (entry.proxy.last <= now - RETENTION_MS) this.forgetCoverage(key);
  }
}

/** Writes gauge `n` of a record (reusing the entry there), for `key`. */
export function setGauge(record: GaugeRecord, n: number, key: StatKey, open: number): void {
  const entry = record.entries[n];
  if (entry === undefined) record.entries.push({ key, open });
  else {
    entry.key = key;
    entry.open = open;
  }
}
