// The controller section of `npm run perf`: 1,000 concurrent Destination.Get watch streams on one
// controller (memory per stream; time for an endpoint change in the discovery file to reach every
// stream), then Telemetry.Report ingestion (reports/s, controller CPU per report), then a paced
// 2,000-proxy mesh (CPU share of a core, stat latency, memory; lib/mesh-ingest.ts), its reports on
// ReportStream as proxies send them, and/or as unary Report calls to compare (`--mesh-transport`).
// See docs/performance.md.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../src/api/proto.ts';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE } from '../src/api/telemetry-messages.ts';
import type { ReportRequest } from '../src/api/telemetry-messages.ts';
import { BENCH_NAMESPACE, BENCH_SERVICE, FIRST_ENDPOINT_PORT, MESH_2000, benchReport, benchRequestScopes, discoveryYaml, readyAddress, readyProxyApi, spread } from './lib/controller-load.ts';
import { DEFAULT_MESH_OPTIONS, benchMeshIngest, type MeshIngestResult, type MeshTransport } from './lib/mesh-ingest.ts';
import type { Spread } from './lib/controller-load.ts';
import { memory, sleep, start, stop, timeout, treeCpuSeconds } from './lib/procs.ts';

export interface ControllerBenchOptions {
  root: string;
  /** Scratch directory for the discovery file. */
  dir: string;
  core: number | undefined;
  streams: number;
  channels: number;
  endpoints: number;
  changes: number;
  telemetryClients: number;
  telemetrySeconds: number;
  settleMs: number;
  /** The paced mesh, once per entry, in this order, against the same controller (ReportStream / unary Report). */
  meshTransports: readonly MeshTransport[];
  log: (line: string) => void;
}

export interface ControllerResult {
  ok: boolean;
  error?: string;
  streams: number;
  channels: number;
  endpoints: number;
  /** Controller VmRSS before any stream, with all streams open (after their first update), bytes. */
  rssIdle: number;
  rssWithStreams: number;
  bytesPerStream: number;
  /** Milliseconds from opening the streams until all had their first `add`. */
  allSubscribedMs: number;
  /** One per endpoint change: time from the file's rename into place until each stream got the new endpoint, ms. */
  propagation: Spread[];
  telemetry?: {
    clients: number;
    seconds: number;
    reports: number;
    errors: number;
    reportsPerSecond: number;
    controllerCpuUsPerReport: number;
    reportBytes: number;
  };
  /**
   * A 2,000-proxy mesh reporting every 5 s, paced: CPU share, stat latency and memory (mesh-ingest.ts);
   * the run that sent reports as proxies do (on ReportStream) when there was one.
   */
  mesh?: MeshIngestResult;
  /** Every mesh run, in the order run (one per transport asked for). */
  meshRuns?: MeshIngestResult[];
}

type GetCall = grpc.ClientReadableStream<{ add?: { addrs?: Array<{ addr?: { port?: number } }> } }>;

export function defaultControllerOptions(root: string, dir: string, core: number | undefined, log: (line: string) => void): ControllerBenchOptions {
  return { root, dir, core, streams: 1000, channels: 10, endpoints: 3, changes: 3, telemetryClients: 16, telemetrySeconds: 5, settleMs: 1000, meshTransports: ['stream'], log };
}

async function waitReady(p: ReturnType<typeof start>, ms: number): Promise<string> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const addr = readyProxyApi(p.stderrTail());
    if (addr !== null) return addr;
    if (p.child.exitCode !== null) throw new Error(`controller exited: ${p.stderrTail().trim().slice(-600)}`);
    await sleep(50);
  }
  throw new Error('controller did not log "controller ready" in time');
}

export async function benchController(o: ControllerBenchOptions): Promise<ControllerResult> {
  const result: ControllerResult = {
    ok: false,
    streams: o.streams,
    channels: o.channels,
    endpoints: o.endpoints,
    rssIdle: 0,
    rssWithStreams: 0,
    bytesPerStream: 0,
    allSubscribedMs: 0,
    propagation: [],
  };
  const file = join(o.dir, 'mesh.yaml');
  // Replaced by rename, as editors and ConfigMap updates do: the controller never reads a half-written file.
  const writeYaml = (endpoints: number): void => {
    writeFileSync(`${file}.tmp`, discoveryYaml(endpoints));
    renameSync(`${file}.tmp`, file);
  };
  writeYaml(o.endpoints);
  const ctl = start('controller', process.execPath, [join(o.root, 'bin', 'sluice-controller.js'), '--discovery', 'file', '--discovery-file', file, '--proxy-api-addr', '127.0.0.1:0', '--public-api-addr', '127.0.0.1:0'], { core: o.core });
  const clients: grpc.Client[] = [];
  const calls: GetCall[] = [];
  try {
    const addr = await waitReady(ctl, 20_000);
    await sleep(o.settleMs);
    result.rssIdle = memory(ctl.pid).rss;
    o.log(`controller: idle RSS ${(result.rssIdle / 1e6).toFixed(1)} MB, proxy API ${addr}`);

    const Destination = lookup<grpc.ServiceClientConstructor>(loadProto('destination.proto'), 'io.linkerd.proxy.destination.Destination');
    // A local subchannel pool per client: each channel gets its own HTTP/2 connection, like separate proxies.
    const channelOptions = { 'grpc.use_local_subchannel_pool': 1 };
    for (let c = 0; c < o.channels; c++) clients.push(new Destination(addr, grpc.credentials.createInsecure(), channelOptions));
    const path = `${BENCH_SERVICE}.${BENCH_NAMESPACE}.svc.cluster.local:80`;
    /** Per stream: ports seen so far, and the waiter for a given port. */
    const seen = Array.from({ length: o.streams }, () => new Set<number>());
    let waitingPort = -1;
    let changeStart = 0;
    let arrivals: number[] = [];
    let onAllArrived: (() => void) | undefined;
    let subscribed = 0;
    let onAllSubscribed: (() => void) | undefined;
    let failure: Error | undefined;
    const t0 = performance.now();
    for (let i = 0; i < o.streams; i++) {
      const client = clients[i % o.channels] as grpc.Client;
      const get = (client as unknown as Record<string, (req: object) => GetCall>)['Get'] as (req: object) => GetCall;
      const call = get.call(client, { scheme: 'k8s', path, context_token: `{"ns":"client-${i}"}` });
      calls.push(call);
      const mine = seen[i] as Set<number>;
      call.on('data', (u: { add?: { addrs?: Array<{ addr?: { port?: number } }> } }) => {
        const now = performance.now();
        const added = u.add?.addrs ?? [];
        if (added.length === 0) return;
        const first = mine.size === 0;
        for (const a of added) {
          const port = a.addr?.port ?? 0;
          if (port === waitingPort && !mine.has(port)) {
            arrivals.push(now - changeStart);
            if (arrivals.length === o.streams) onAllArrived?.();
          }
          mine.add(port);
        }
        if (first && ++subscribed === o.streams) onAllSubscribed?.();
      });
      call.on('error', (e: grpc.ServiceError) => {
        if (e.code !== grpc.status.CANCELLED) failure ??= e;
      });
    }
    const within = <T>(ms: number, what: string, p: Promise<T>): Promise<T> =>
      Promise.race([p, timeout(ms).then(() => Promise.reject(new Error(`${what} took over ${ms} ms${failure === undefined ? '' : `: ${failure.message}`}`)))]);
    await within(30_000, `subscribing ${o.streams} streams`, new Promise<void>((r) => (subscribed === o.streams ? r() : (onAllSubscribed = r))));
    result.allSubscribedMs = performance.now() - t0;
    await sleep(o.settleMs);
    result.rssWithStreams = memory(ctl.pid).rss;
    result.bytesPerStream = (result.rssWithStreams - result.rssIdle) / o.streams;
    o.log(
      `controller: ${o.streams} streams on ${o.channels} channels subscribed in ${Math.round(result.allSubscribedMs)} ms; ` +
        `RSS ${(result.rssWithStreams / 1e6).toFixed(1)} MB → ${(result.bytesPerStream / 1024).toFixed(1)} KiB per stream`,
    );

    for (let k = 0; k < o.changes; k++) {
      const endpoints = o.endpoints + k + 1;
      arrivals = [];
      waitingPort = FIRST_ENDPOINT_PORT + endpoints - 1;
      const done = new Promise<void>((r) => (onAllArrived = r));
      changeStart = performance.now();
      writeYaml(endpoints);
      await within(15_000, `endpoint change ${k + 1} reaching every stream`, done);
      const s = spread(arrivals);
      result.propagation.push(s);
      o.log(`controller: change ${k + 1}: new endpoint reached ${s.count} streams, p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`);
      await sleep(300);
    }
    if (failure !== undefined) throw failure;
    for (const c of calls) c.cancel();
    calls.length = 0;
    for (const c of clients) c.close();
    clients.length = 0;
    await sleep(500);

    result.telemetry = await telemetryLoad(o, addr, ctl.pid);
    const t = result.telemetry;
    o.log(`controller: telemetry ${Math.round(t.reportsPerSecond).toLocaleString('en-US')} reports/s (${t.clients} clients, ${t.reportBytes} B each), controller CPU ${Math.round(t.controllerCpuUsPerReport)} µs/report, errors ${t.errors}`);
    if (ctl.child.exitCode !== null) throw new Error(`controller died: ${ctl.stderrTail().trim().slice(-600)}`);
    const publicApi = readyAddress(ctl.stderrTail(), 'public-api');
    const admin = readyAddress(ctl.stderrTail(), 'admin');
    if (publicApi === null || admin === null) throw new Error('the controller did not say where its public API and admin server are');
    result.meshRuns = [];
    for (const transport of o.meshTransports) {
      result.meshRuns.push(await benchMeshIngest({ ...DEFAULT_MESH_OPTIONS, shape: MESH_2000, transport }, { proxyApi: addr, publicApi, admin }, ctl.pid, o.log));
      if (ctl.child.exitCode !== null) throw new Error(`controller died: ${ctl.stderrTail().trim().slice(-600)}`);
    }
    result.mesh = result.meshRuns.find((m) => m.transport === 'stream') ?? result.meshRuns[0];
    if (result.meshRuns.length > 1) {
      o.log(`controller mesh: ${result.meshRuns.map((m) => `${m.transport} ${m.cpuPercentOfCore.toFixed(1)} % (${Math.round(m.cpuUsPerReport)} µs/report)`).join(' vs ')}`);
    }
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    o.log(`controller: FAILED: ${result.error.split('\n')[0]}`);
  } finally {
    for (const c of calls) c.cancel();
    for (const c of clients) c.close();
    await stop(ctl);
  }
  return result;
}

async function telemetryLoad(o: ControllerBenchOptions, addr: string, pid: number): Promise<NonNullable<ControllerResult['telemetry']>> {
  const Telemetry = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE);
  const channels = Math.min(o.telemetryClients, 4);
  const clients = Array.from({ length: channels }, () => new Telemetry(addr, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  const scopes = benchRequestScopes(20);
  const encoded = (Telemetry.service['Report']?.requestSerialize(benchReport(scopes, 0, 1)) as Buffer | undefined)?.length ?? 0;
  const send = (client: grpc.Client, req: ReportRequest): Promise<void> =>
    new Promise((resolve, reject) => {
      const report = (client as unknown as Record<string, unknown>)['Report'] as (r: ReportRequest, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void;
      report.call(client, req, { deadline: Date.now() + 10_000 }, (e) => (e === null ? resolve() : reject(e)));
    });
  let measuring = false;
  let stopAt = 0;
  let reports = 0;
  let errors = 0;
  const loop = async (id: number): Promise<void> => {
    const client = clients[id % channels] as grpc.Client;
    let sequence = 0;
    while (performance.now() < stopAt) {
      try {
        await send(client, benchReport(scopes, id, ++sequence));
        if (measuring) reports++;
      } catch {
        if (measuring) errors++;
      }
    }
  };
  try {
    // 1 s warm-up (same load, not counted), then the measured seconds.
    const warm = performance.now();
    stopAt = warm + 1000 + o.telemetrySeconds * 1000;
    const loops = Array.from({ length: o.telemetryClients }, (_, i) => loop(i));
    await sleep(1000);
    const cpu0 = treeCpuSeconds(pid);
    const m0 = performance.now();
    measuring = true;
    await sleep(o.telemetrySeconds * 1000);
    measuring = false;
    const cpu1 = treeCpuSeconds(pid);
    const seconds = (performance.now() - m0) / 1000;
    await Promise.all(loops);
    return {
      clients: o.telemetryClients,
      seconds,
      reports,
      errors,
      reportsPerSecond: reports / seconds,
      controllerCpuUsPerReport: reports === 0 ? 0 : ((cpu1 - cpu0) * 1e6) / reports,
      reportBytes: encoded,
    };
  } finally {
    for (const c of clients) c.close();
  }
}
