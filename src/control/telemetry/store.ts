// The controller's telemetry store: what proxies reported, aggregated by key (reporting pod and workload,
// direction, authority, route, destination) into time slots, for an hour.
//
// Slots: 10 s for the last 10 minutes, then folded into 1-minute slots until they are an hour old.
// Each slot of a key holds request counts by classification, TLS requests, TCP opens/closes/bytes and
// the merged exact latencies (sparse HDR counts, src/telemetry/exact-latency.ts layout). Open connections
// are a gauge: the latest value each proxy reported.
//
// Memory is bounded twice: at most `maxKeys` keys (past it the least recently reported are dropped
// whole, 1 % of the bound at a time), and about `maxBytes` of slot data: past that the oldest time slice of every key goes first,
// so a mesh too big for an hour keeps its recent minutes whole (queries then cover what is kept, and
// say so in `seconds`). A time-slice index makes folding and trimming visit only the slices concerned.
// Proxies that retry a report they already sent (same instance and sequence) are recognised and not
// counted twice. Inbound request and TCP counts are also summed per workload as they arrive (rollups,
// kept like keys but not counted as series), so `stat` of workloads and namespaces reads one series
// per workload instead of one per pod. docs/performance.md has the figures at 2,000 proxies.
import type { ReportRequest, RequestScope } from '../../api/telemetry-messages.ts';
import { latencyPairsInto } from './latency-pairs.ts';
import { SparseLatency } from './sparse-latency.ts';
import type { TelemetryBackend, TelemetryView } from './view.ts';
import {
  classify,
  classOf,
  destination,
  NO_DESTINATION,
  sameDestination,
  type Destination,
  type Direction,
  type KeyClasses,
  type PodReport,
  type QueryResult,
  type ScopeKind,
  type StatKey,
} from './keys.ts';
import { COARSE_SLOT_MS, FINE_RETENTION_MS, FINE_SLOT_MS, RETENTION_MS, type KeyState } from './key-state.ts';
import { LatencyPool } from './latency-pool.ts';
import { Reporters, setGauge, type RecentKeys } from './reporters.ts';
import type { ProxyCoverage, WorkloadCoverage } from './coverage.ts';
import { addTransport, emptySlot, mergeSlot, type Slot } from './slots.ts';
import { aggregateStates, queryWindow } from './store-query.ts';

export { COARSE_SLOT_MS, FINE_RETENTION_MS, FINE_SLOT_MS, RETENTION_MS } from './key-state.ts';
export { classify, destination, type Aggregate, type Direction, type KeyClasses, type PodReport, type QueryResult, type ScopeKind, type StatKey } from './keys.ts';

/** A 2,000-proxy mesh holds ~46,000 keys (docs/performance.md, controller ingestion). */
export const DEFAULT_MAX_KEYS = 100_000;
/** About 2.5 minutes of a 2,000-proxy mesh, a whole hour of a few hundred proxies (docs/performance.md). */
export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;
/**
 * Fixed cost of a key (its key object, id, state and slot maps), and of a slot without latencies, for
 * the byte bound: measured as heap growth after a forced GC on a 2,000-proxy mesh (46,000 keys).
 */
const KEY_BYTES = 1400;
const SLOT_BYTES = 300;
/** Slots of discarded time slices kept for new ones (a new slice of this mesh makes ~46,000). */
const MAX_SPARE_SLOTS = 65_536;

/** The reporting side of a report's keys, and its part of their ids. */
interface Origin {
  readonly namespace: string;
  readonly pod: string;
  readonly workload: string;
  readonly direction: Direction;
  readonly prefix: string;
  /**
   * The keys of this proxy's previous report in this direction, overwritten in place by this report's
   * (`count` so far), and the request context object each came from (undefined for transports): the
   * controller's decoder hands out the same object for the same bytes (report-decode.ts), so the same
   * object at the same place as last time is the same key, without comparing a string.
   */
  readonly recent: RecentKeys;
  count: number;
  /** This report's workload rollups, by scope, once looked up. */
  rollups: Partial<Record<ScopeKind, KeyState>> | undefined;
  /** The time this proxy's reports cover, and its workload's (rates are scaled by them: coverage.ts). */
  readonly coverage: { readonly proxy: ProxyCoverage; readonly workload: WorkloadCoverage };
}

function newKey(origin: Origin, kind: ScopeKind, authority: string, route: string, dstLabels: Readonly<Record<string, string>> | undefined): StatKey {
  const dst = dstLabels === undefined ? NO_DESTINATION : destination(dstLabels);
  return { namespace: origin.namespace, pod: origin.pod, workload: origin.workload, direction: origin.direction, scope: kind, authority, route, ...dst };
}

/**
 * Classes with per-workload rollups: every report also adds its inbound `svc` and `tcp` counts to one
 * series per (namespace, workload), so `stat` of workloads and namespaces reads ~200 series instead of
 * every pod's at 2,000 proxies (docs/performance.md). Their sums are the pods' sums exactly.
 */
const ROLLED_UP: ReadonlySet<string> = new Set([classOf('inbound', 'svc'), classOf('inbound', 'tcp')]);
const rollupClass = (cls: string): string => `rollup:${cls}`;
const isRollupClass = (cls: string): boolean => cls.startsWith('rollup:');

const DIRECTIONS: readonly Direction[] = ['inbound', 'outbound'];
const SCOPES: readonly ScopeKind[] = ['svc', 'route', 'actual', 'tcp'];

export interface StoreOptions {
  readonly maxKeys?: number;
  readonly maxBytes?: number;
  readonly now?: () => number;
}

export class TelemetryStore implements TelemetryView, TelemetryBackend {
  readonly maxKeys: number;
  readonly maxBytes: number;
  readonly startedAt: number;
  /** Keys dropped and time slices trimmed to stay within the bounds, reports ignored as retries; for SelfCheck, metrics and tests. */
  readonly counters = { evictedKeys: 0, trimmedSlices: 0, duplicateReports: 0, reports: 0, badHistograms: 0 };
  private readonly now: () => number;
  /**
   * By id. Not kept in report order (moving every key of every report to the end of a 46,000-entry
   * Map was a tenth of ingestion): eviction finds the least recently reported by their `lastReport`.
   */
  private readonly keys = new Map<string, KeyState>();
  /** Per-workload rollups (ROLLED_UP), apart from the keys: `maxKeys` bounds series; these are at most one per workload and class. */
  private readonly rollups = new Map<string, KeyState>();
  private bytes = 0;
  /** Per reporting proxy: sequences, pods, gauges and the keys of its last report (reporters.ts). */
  private readonly reporters = new Reporters();
  /** Where the slots' latencies are kept, and slots of discarded slices for reuse (slot, discardSlot). */
  private readonly latencyPool = new LatencyPool();
  private readonly spareSlots: Slot[] = [];
  /**
   * Time slices: the keys holding a slot of each fine (10 s) and coarse (minute) index. Arrays, not
   * Sets (a slice of this mesh holds ~46,000 keys: growing a Set that size cost more than the rest of
   * the slot's creation): a dropped key stays listed until its slices go, and is skipped (`dropped`).
   */
  private readonly fineTimes = new Map<number, KeyState[]>();
  private readonly coarseTimes = new Map<number, KeyState[]>();
  /** Keys by direction and scope, so that a query reads only the classes it can use. */
  private readonly byClass = new Map<string, Set<KeyState>>();
  /** Scratch for one histogram's latency pairs at a time (latencyOf). */
  private readonly pairs: number[] = [];
  /** A rollup reported before this time was dropped whole (evicted): windows starting earlier read keys. */
  private rollupsWholeSince = 0;
  /** Data before this time was dropped to stay within `maxBytes` (0 = none). */
  private horizon = 0;

  constructor(options: StoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  get keyCount(): number {
    return this.keys.size;
  }

  /** Approximate bytes of slot data held (what `maxBytes` bounds). */
  get byteSize(): number {
    return this.bytes;
  }

  /**
   * Applies what one Report call carries: the report and those batched inside it (a proxy sends its
   * outbound report inside its inbound one), each on its own. Returns false when all were retries.
   */
  ingestCall(report: ReportRequest, receivedAt = this.now()): boolean {
    let applied = this.ingest(report, receivedAt);
    for (const batched of report.batched ?? []) applied = this.ingest(batched, receivedAt) || applied;
    return applied;
  }

  /** Applies one report (not what is batched in it: see ingestCall). Returns false when it was a retry of a report already applied. */
  ingest(report: ReportRequest, receivedAt = this.now()): boolean {
    const direction: Direction = report.proxy === 'OUTBOUND' ? 'outbound' : 'inbound';
    const instance = report.instance_id ?? '';
    if (this.reporters.isRetry(instance, direction, report.sequence ?? 0, receivedAt)) {
      this.counters.duplicateReports++;
      return false;
    }
    this.counters.reports++;
    const namespace = report.process?.scheduled_namespace ?? '';
    const pod = report.process?.scheduled_instance ?? '';
    const workload = report.process?.workload ?? '';
    const reportIntervalMs = report.report_interval_ms ?? 0;
    this.reporters.notePod(namespace, pod, workload, receivedAt, reportIntervalMs);

    const prefix = [namespace, pod, workload, direction].join('\0');
    const coveredMs = (report.interval_ms ?? 0) > 0 ? (report.interval_ms as number) : reportIntervalMs;
    const coverage = this.reporters.cover(prefix, namespace, workload, direction, receivedAt, coveredMs, reportIntervalMs);
    const origin: Origin = { namespace, pod, workload, direction, prefix, recent: this.reporters.recent(prefix, receivedAt), count: 0, rollups: undefined, coverage };
    const bounds = report.histogram_bucket_bounds_tenth_ms ?? [];
    let events = 0;
    for (const scope of report.requests ?? []) {
      this.ingestScope(origin, scope, bounds, receivedAt);
      if (scope.ctx?.route_scope !== true) events += scope.count ?? 0;
    }

    const transports = direction === 'inbound' ? (report.server_transports ?? []) : (report.client_transports ?? []);
    const gauges = this.reporters.gaugeRecord(`${instance === '' ? `${namespace}/${pod}` : instance}\0${direction}`, direction, receivedAt, reportIntervalMs);
    let gaugeCount = 0;
    for (const transport of transports) {
      const state = this.keyState(origin, 'tcp', '', '', transport.dst_labels, undefined, receivedAt);
      const slot = state === undefined ? undefined : this.slot(state, receivedAt);
      events += (transport.connects ?? 0) + (transport.disconnect_count ?? 0);
      if (slot !== undefined) {
        addTransport(slot, transport);
        const rollup = this.rollupState(origin, 'tcp', receivedAt);
        const rollupSlot = rollup === undefined ? undefined : this.slot(rollup, receivedAt);
        if (rollupSlot !== undefined) addTransport(rollupSlot, transport);
      }
      if ((transport.open_connections ?? 0) > 0) {
        const key = state?.key ?? newKey(origin, 'tcp', '', '', transport.dst_labels);
        setGauge(gauges, gaugeCount++, key, transport.open_connections ?? 0);
      }
    }
    gauges.entries.length = gaugeCount;
    coverage.proxy.countEvents(receivedAt, events);
    origin.recent.states.length = origin.count;
    origin.recent.ctxs.length = origin.count;
    this.enforceBounds();
    return true;
  }

  private ingestScope(origin: Origin, scope: RequestScope, bounds: readonly number[], at: number): void {
    const ctx = scope.ctx ?? {};
    const kind: ScopeKind = ctx.route_scope === true ? (ctx.actual === true ? 'actual' : 'route') : 'svc';
    const route = kind === 'svc' ? '' : (ctx.route_labels?.['route'] ?? '');
    const state = this.keyState(origin, kind, ctx.authority ?? '', route, ctx.dst_labels, scope.ctx, at);
    const slot = state === undefined ? undefined : this.slot(state, at);
    if (state === undefined || slot === undefined) return;
    const rollup = this.rollupState(origin, kind, at);
    const rollupSlot = rollup === undefined ? undefined : this.slot(rollup, at);
    const requests = scope.count ?? 0;
    slot.requests += requests;
    if (rollupSlot !== undefined) rollupSlot.requests += requests;
    const tls = ctx.tls === 'true';
    for (const response of scope.responses ?? []) {
      const status = response.ctx?.http_status_code ?? 0;
      let success = 0;
      let failure = 0;
      for (const end of response.ends ?? []) {
        const streams = end.streams ?? 0;
        if (classify(status, end.ctx ?? {}) === 'success') success += streams;
        else failure += streams;
      }
      const length = this.latencyOf(response.latency_hdr, response.response_latency_counts, bounds);
      this.addResponses(state, slot, success, failure, tls, length);
      if (rollup !== undefined && rollupSlot !== undefined) this.addResponses(rollup, rollupSlot, success, failure, tls, length);
    }
  }

  /** Adds a response scope's counts, and the first `pairsLength` numbers of `this.pairs` as its latencies. */
  private addResponses(state: KeyState, slot: Slot, success: number, failure: number, tls: boolean, pairsLength: number): void {
    slot.success += success;
    slot.failure += failure;
    if (tls) slot.tlsRequests += success + failure;
    if (pairsLength > 0) {
      const before = slot.latency?.bytes ?? 0;
      (slot.latency ??= new SparseLatency(0, this.latencyPool)).addPairs(this.pairs, pairsLength);
      const grown = slot.latency.bytes - before;
      state.bytes += grown;
      this.bytes += grown;
    }
  }

  /** A response scope's latencies as pairs in `this.pairs` (latency-pairs.ts); how many numbers. */
  private latencyOf(hdr: Uint8Array | undefined, buckets: readonly number[] | undefined, bounds: readonly number[]): number {
    const length = latencyPairsInto(this.pairs, hdr, buckets, bounds);
    if (length >= 0) return length;
    this.counters.badHistograms++;
    return latencyPairsInto(this.pairs, undefined, buckets, bounds);
  }

  /**
   * The state of a key, created as needed, its last report time updated; undefined when `at` is
   * already past retention. The key's id is built from the parts without a StatKey object, which is
   * only made for a new key. `ctx`: the request context the parts come from (see Origin.ctxs).
   */
  private keyState(origin: Origin, kind: ScopeKind, authority: string, route: string, dstLabels: Readonly<Record<string, string>> | undefined, ctx: object | undefined, at: number): KeyState | undefined {
    if (at <= this.now() - RETENTION_MS) return undefined;
    // A proxy lists its series in the same order every report: the key at the same place last time is
    // most often this one, and comparing strings is cheaper than building and hashing the id.
    const { states, ctxs } = origin.recent;
    const position = origin.count++;
    const cached = states[position];
    const cachedCtx = ctxs[position];
    ctxs[position] = ctx;
    let state: KeyState | undefined;
    if (cached !== undefined && !cached.dropped && ctx !== undefined && cachedCtx === ctx) {
      state = cached;
    } else if (cached !== undefined && !cached.dropped && cached.key.scope === kind && cached.key.authority === authority && cached.key.route === route && sameDestination(cached.key, dstLabels)) {
      state = cached;
    } else {
      const dst = dstLabels === undefined ? NO_DESTINATION : destination(dstLabels);
      const id = `${origin.prefix}\0${kind}\0${authority}\0${route}\0${dst.dstNamespace}\0${dst.dstWorkload}\0${dst.dstPod}\0${dst.dstService}`;
      state = this.keys.get(id) ?? this.newState(origin, kind, authority, route, dst, id, at);
      state.coverage = origin.coverage.proxy;
    }
    states[position] = state;
    if (state.lastReport < at) state.lastReport = at;
    return state;
  }

  private newState(origin: Origin, kind: ScopeKind, authority: string, route: string, dst: Destination, id: string, at: number): KeyState {
    const key: StatKey = { namespace: origin.namespace, pod: origin.pod, workload: origin.workload, direction: origin.direction, scope: kind, authority, route, ...dst };
    return this.addState(key, id, classOf(key.direction, key.scope), at);
  }

  private addState(key: StatKey, id: string, cls: string, at: number): KeyState {
    const rollup = isRollupClass(cls);
    if (!rollup && this.keys.size >= this.maxKeys) this.evictLeastRecentKeys();
    const state: KeyState = { key, id, cls, lastReport: at, fine: new Map(), coarse: new Map(), bytes: KEY_BYTES, slotIndex: NaN, slot: undefined, dropped: false, coverage: undefined };
    this.bytes += KEY_BYTES;
    (rollup ? this.rollups : this.keys).set(id, state);
    index_(this.byClass, cls, state);
    return state;
  }

  /**
   * The rollup of the report's workload for scopes of `kind` (see ROLLED_UP), created as needed and
   * kept like a key (slots, recency, bounds); undefined for classes without rollups.
   */
  private rollupState(origin: Origin, kind: ScopeKind, at: number): KeyState | undefined {
    const cls = classOf(origin.direction, kind);
    if (!ROLLED_UP.has(cls) || at <= this.now() - RETENTION_MS) return undefined;
    let state = origin.rollups?.[kind];
    if (state === undefined || state.dropped) {
      const id = `\u0001rollup\0${origin.namespace}\0${origin.workload}\0${cls}`;
      state = this.rollups.get(id);
      if (state === undefined) {
        const key: StatKey = { namespace: origin.namespace, pod: '', workload: origin.workload, direction: origin.direction, scope: kind, authority: '', route: '', ...NO_DESTINATION };
        state = this.addState(key, id, rollupClass(cls), at);
      }
      state.coverage = origin.coverage.workload;
      (origin.rollups ??= {})[kind] = state;
    }
    if (state.lastReport < at) state.lastReport = at;
    return state;
  }

  private mapOf(state: KeyState): Map<string, KeyState> {
    return isRollupClass(state.cls) ? this.rollups : this.keys;
  }

  /** The slot of a key at time `at`, created as needed. */
  private slot(state: KeyState, at: number): Slot | undefined {
    const fine = at > this.now() - FINE_RETENTION_MS;
    const index = Math.floor(at / (fine ? FINE_SLOT_MS : COARSE_SLOT_MS));
    if (fine && index === state.slotIndex && state.slot !== undefined) return state.slot;
    const slots = fine ? state.fine : state.coarse;
    let slot = slots.get(index);
    if (slot === undefined) {
      slot = this.spareSlots.pop() ?? emptySlot();
      slots.set(index, slot);
      listIn(fine ? this.fineTimes : this.coarseTimes, index, state);
      state.bytes += SLOT_BYTES;
      this.bytes += SLOT_BYTES;
    }
    if (fine) {
      state.slotIndex = index;
      state.slot = slot;
    }
    return slot;
  }

  /**
   * A slot no key holds any more: its latencies go back to the pool (unless `latencyKept`: handed to
   * another slot) and the slot is kept for a new one (`slot`), so that time slices that come as others
   * go allocate nothing that outlives a report.
   */
  private discardSlot(slot: Slot, latencyKept: boolean): void {
    if (!latencyKept) slot.latency?.release();
    if (this.spareSlots.length >= MAX_SPARE_SLOTS) return;
    slot.requests = slot.success = slot.failure = slot.tlsRequests = 0;
    slot.opened = slot.closed = slot.readBytes = slot.writeBytes = 0;
    slot.latency = undefined;
    this.spareSlots.push(slot);
  }

  /**
   * At `maxKeys`: drops the least recently reported keys, 1 % of the bound at once, so that one scan
   * of the keys serves many new ones (a mesh that churns pods at the bound adds keys steadily).
   */
  private evictLeastRecentKeys(): void {
    const batch = Math.max(1, Math.floor(this.maxKeys / 100));
    const times = new Float64Array(this.keys.size);
    let i = 0;
    for (const state of this.keys.values()) times[i++] = state.lastReport;
    times.sort();
    const threshold = times[Math.min(batch, times.length) - 1] ?? -Infinity;
    let dropped = 0;
    // Ties at the threshold go in the order the keys were created.
    for (const state of this.keys.values()) {
      if (dropped >= batch) break;
      if (state.lastReport > threshold) continue;
      this.drop(state);
      this.counters.evictedKeys++;
      dropped++;
    }
  }

  /**
   * For the byte bound, once a single time slice is left: drops keys and rollups, least recently
   * reported first, until the data fits. Of a key and a rollup reported at the same time the rollup
   * goes first: queries over a window that reaches back before a rollup was dropped read the keys
   * instead (rollupsWholeSince).
   */
  private evictUntilWithinBytes(): void {
    const all = [...this.rollups.values(), ...this.keys.values()];
    all.sort((a, b) => a.lastReport - b.lastReport || Number(isRollupClass(b.cls)) - Number(isRollupClass(a.cls)));
    for (const state of all) {
      if (this.bytes <= this.maxBytes || this.keys.size + this.rollups.size <= 1) break;
      if (isRollupClass(state.cls)) this.rollupsWholeSince = Math.max(this.rollupsWholeSince, state.lastReport + 1);
      this.drop(state);
      this.counters.evictedKeys++;
    }
  }

  /** Removes a key whole. It stays listed in the time slices until they go (they skip it). */
  private drop(state: KeyState): void {
    this.mapOf(state).delete(state.id);
    this.bytes -= state.bytes;
    state.dropped = true;
    for (const slot of state.fine.values()) this.discardSlot(slot, false);
    for (const slot of state.coarse.values()) this.discardSlot(slot, false);
    state.fine.clear();
    state.coarse.clear();
    state.slot = undefined;
    state.slotIndex = NaN;
    unindex(this.byClass, state.cls, state);
  }

  /**
   * Past `maxBytes`, the oldest time slice of every key goes first (retention shrinks, the recent
   * minutes stay whole for every proxy); only within a single remaining slice are the least recently
   * reported keys dropped whole.
   */
  private enforceBounds(): void {
    while (this.bytes > this.maxBytes) {
      if (this.fineTimes.size + this.coarseTimes.size > 1) this.dropOldestSlice();
      else if (this.keys.size + this.rollups.size > 1) this.evictUntilWithinBytes();
      else break;
    }
    // Per-proxy bookkeeping is bounded by the same key limit (first reported first).
    this.reporters.bound(this.maxKeys);
  }

  private dropOldestSlice(): void {
    const coarse = this.coarseTimes.size > 0;
    const times = coarse ? this.coarseTimes : this.fineTimes;
    let oldest = Infinity;
    for (const index of times.keys()) if (index < oldest) oldest = index;
    for (const state of times.get(oldest) ?? []) {
      if (state.dropped) continue;
      const slots = coarse ? state.coarse : state.fine;
      const slot = slots.get(oldest);
      if (slot === undefined) continue;
      slots.delete(oldest);
      if (state.slot === slot) {
        state.slot = undefined;
        state.slotIndex = NaN;
      }
      const freed = SLOT_BYTES + (slot.latency?.bytes ?? 0);
      state.bytes -= freed;
      this.bytes -= freed;
      this.discardSlot(slot, false);
      if (state.fine.size === 0 && state.coarse.size === 0) {
        this.mapOf(state).delete(state.id);
        this.bytes -= state.bytes;
        state.dropped = true;
        unindex(this.byClass, state.cls, state);
      }
    }
    times.delete(oldest);
    this.horizon = Math.max(this.horizon, (oldest + 1) * (coarse ? COARSE_SLOT_MS : FINE_SLOT_MS));
    this.counters.trimmedSlices++;
  }

  /**
   * Folds fine slots older than 10 minutes into minute slots, drops slots older than an hour, keys with
   * no slots left, and bookkeeping of proxies silent for an hour. Call every few seconds. Only the time
   * slices that leave are visited, through the slice index.
   */
  maintain(now = this.now()): void {
    const fineCutoff = Math.floor((now - FINE_RETENTION_MS) / FINE_SLOT_MS);
    const coarseCutoff = Math.floor((now - RETENTION_MS) / COARSE_SLOT_MS);
    const emptied = new Set<KeyState>();
    for (const [index, states] of [...this.fineTimes]) {
      // A fine slot leaves once it has ended 10 minutes ago.
      if (index + 1 > fineCutoff) continue;
      this.fineTimes.delete(index);
      const coarseIndex = Math.floor((index * FINE_SLOT_MS) / COARSE_SLOT_MS);
      for (const state of states) {
        const slot = state.dropped ? undefined : state.fine.get(index);
        if (slot === undefined) continue;
        state.fine.delete(index);
        if (state.slot === slot) {
          state.slot = undefined;
          state.slotIndex = NaN;
        }
        const into = state.coarse.get(coarseIndex);
        if (into === undefined) {
          state.coarse.set(coarseIndex, slot);
          listIn(this.coarseTimes, coarseIndex, state);
        } else {
          const before = (into.latency?.bytes ?? 0) + (slot.latency?.bytes ?? 0);
          // Merging into a slot without latencies hands it the folded slot's (kept, not released).
          const handedOver = into.latency === undefined;
          mergeSlot(into, slot);
          const freed = before - (into.latency?.bytes ?? 0) + SLOT_BYTES;
          state.bytes -= freed;
          this.bytes -= freed;
          this.discardSlot(slot, handedOver);
        }
      }
    }
    for (const [index, states] of [...this.coarseTimes]) {
      if (index + 1 > coarseCutoff) continue;
      this.coarseTimes.delete(index);
      for (const state of states) {
        const slot = state.dropped ? undefined : state.coarse.get(index);
        if (slot === undefined) continue;
        state.coarse.delete(index);
        const freed = SLOT_BYTES + (slot.latency?.bytes ?? 0);
        state.bytes -= freed;
        this.bytes -= freed;
        this.discardSlot(slot, false);
        if (state.fine.size === 0 && state.coarse.size === 0) emptied.add(state);
      }
    }
    for (const state of emptied) if (state.fine.size === 0 && state.coarse.size === 0 && this.mapOf(state).get(state.id) === state) this.drop(state);
    this.reporters.maintain(now);
  }

  /**
   * Aggregates the keys `groupOf` assigns a group to (undefined = leave out) over the last `windowMs`
   * (store-query.ts). `only` limits the keys visited to the classes `groupOf` can accept (an
   * optimisation: the answer is the same).
   */
  private queries = 0;

  query(windowMs: number, groupOf: (key: StatKey) => string | undefined, now = this.now(), only?: KeyClasses): QueryResult {
    const window = queryWindow(windowMs, now);
    const states = this.statesOf(only, window.firstStart >= this.rollupsWholeSince);
    // Every gauge is a transport (`tcp`) key of its record's direction: a query of `only` reads the records it can use.
    const gaugeDirections = only?.scopes !== undefined && !only.scopes.includes('tcp') ? [] : (only?.directions ?? DIRECTIONS);
    return aggregateStates(states, this.reporters.gauges.values(), window, groupOf, now, Math.max(this.startedAt, this.horizon), gaugeDirections, ++this.queries);
  }

  /** The keys of the given classes (all keys when none are given), or their rollups where asked and kept. */
  private *statesOf(only: KeyClasses | undefined, rollupsWhole: boolean): Iterable<KeyState> {
    if (only === undefined) {
      yield* this.keys.values();
      return;
    }
    for (const direction of only.directions ?? DIRECTIONS) {
      for (const scope of only.scopes ?? SCOPES) {
        const cls = classOf(direction, scope);
        const rollups = only.byWorkload === true && rollupsWhole && ROLLED_UP.has(cls) ? this.byClass.get(rollupClass(cls)) : undefined;
        yield* rollups ?? this.byClass.get(cls) ?? [];
      }
    }
  }

  /** Every pod that reported within the hour, with when it last did. */
  reportingPods(): PodReport[] {
    return [...this.reporters.pods.values()];
  }

  podReport(namespace: string, pod: string): PodReport | undefined {
    return this.reporters.pods.get(`${namespace}/${pod}`);
  }

  describe(): string {
    return `${this.keys.size} series kept (${Math.round(this.bytes / 1024)} KiB)`;
  }

  /** The store answers every request itself. */
  async view(): Promise<TelemetryView> {
    return this;
  }
}

function listIn(times: Map<number, KeyState[]>, index: number, state: KeyState): void {
  const states = times.get(index);
  if (states === undefined) times.set(index, [state]);
  else states.push(state);
}

function index_<K>(times: Map<K, Set<KeyState>>, index: K, state: KeyState): void {
  let states = times.get(index);
  if (states === undefined) times.set(index, (states = new Set()));
  states.add(state);
}

function unindex<K>(times: Map<K, Set<KeyState>>, index: K, state: KeyState): void {
  const states = times.get(index);
  if (states === undefined) return;
  states.delete(state);
  if (states.size === 0) times.delete(index);
}
