// The mesh part of the controller benchmark: a simulated mesh of proxies (controller-load.ts
// `meshReports`, 2,000 by default) reporting every 5 s, paced as real proxies are (not as fast as
// possible), for a bounded time. Measures the controller's CPU as a share of one core while it ingests
// that mesh, how long `stat` over the whole mesh takes at that size, and the controller's memory.
// Each proxy sends one report per interval, its outbound report batched in its inbound one, as Sluice's
// proxies do (`batched: false`: one per direction, as they did before), as a message on its own
// long-lived Telemetry.ReportStream — 2,000 streams, each answered report by report, as 2,000 proxies
// keep them (`transport: 'unary'`: one Report call per report, as proxies did before). Reports are encoded once
// per proxy and direction; each send only appends sequence numbers, so the generator costs little next
// to what it measures.
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../src/api/proto.ts';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE, type ReportRequest } from '../../src/api/telemetry-messages.ts';
import { decodeLatencyHdr } from '../../src/telemetry/hdr-codec.ts';
import * as hdr from 'hdr-histogram-js';
import { batchedWithSequence, meshReports, withSequence, type MeshShape } from './controller-load.ts';
import { memory, sleep, treeCpuSeconds } from './procs.ts';

export interface MeshIngestOptions {
  readonly shape: MeshShape;
  readonly intervalMs: number;
  /** Seconds of load before measuring (every proxy reports at least once: the keys exist). */
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** `stat` requests timed after the load. */
  readonly statRepeats: number;
  /** `compressed`: latency histograms as the library's compressed V2 (what proxies sent before). */
  readonly hdrForm: 'plain' | 'compressed';
  /** One call per proxy and interval carrying both directions (true), or one call per direction. */
  readonly batched: boolean;
  /** Reports as messages on one ReportStream per simulated proxy, or as unary Report calls. */
  readonly transport: MeshTransport;
  /** HTTP/2 connections the simulated proxies share (the streams or calls spread over them). */
  readonly connections: number;
}

export type MeshTransport = 'stream' | 'unary';

export interface MeshIngestResult {
  proxies: number;
  intervalMs: number;
  seconds: number;
  /** Calls carrying both directions (true) or one call per direction (false). */
  batched: boolean;
  /** How the reports went (absent in results from before ReportStream: unary). */
  transport?: MeshTransport;
  /** Streams open at the end (stream transport), and HTTP/2 connections under them or the calls. */
  streams?: number;
  connections?: number;
  /** Report calls sent and answered while measuring, per second. */
  reportsPerSecond: number;
  /** What the pacing asked for (proxies / interval, × 2 without batching). */
  targetReportsPerSecond: number;
  errors: number;
  /** Controller CPU while ingesting, % of one core. */
  cpuPercentOfCore: number;
  /** Controller CPU per call (both directions of a proxy when batched). */
  cpuUsPerReport: number;
  /** Encoded bytes of one inbound + one outbound report. */
  reportBytes: [number, number];
  /** StatSummary `deploy` over every namespace (the whole mesh), 1-minute window, ms. */
  statMs: { p50: number; max: number; rows: number };
  rssBytes: number;
  /** The telemetry store after the load: keys and estimated bytes (the controller's /metrics). */
  storeKeys: number;
  storeBytes: number;
}

export const DEFAULT_MESH_OPTIONS: Omit<MeshIngestOptions, 'shape'> = {
  intervalMs: 5000,
  warmupSeconds: 6,
  seconds: 15,
  statRepeats: 7,
  hdrForm: 'plain',
  batched: true,
  transport: 'stream',
  connections: 4,
};

/** Re-encodes a report's latency histograms in the library's compressed form. */
function compressHistograms(report: ReportRequest): ReportRequest {
  for (const scope of report.requests ?? []) {
    for (const response of scope.responses ?? []) {
      if (response.latency_hdr === undefined) continue;
      const pairs = decodeLatencyHdr(response.latency_hdr);
      const h = hdr.build({ bitBucketSize: 64, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 2 ** 33, numberOfSignificantValueDigits: 2 });
      for (let i = 0; i < pairs.length; i += 2) h.recordValueWithCount(pairs[i] as number, pairs[i + 1] as number);
      response.latency_hdr = Buffer.from(hdr.encodeIntoCompressedBase64(h), 'base64');
      h.destroy();
    }
  }
  return report;
}

export interface ControllerAddresses {
  readonly proxyApi: string;
  readonly publicApi: string;
  readonly admin: string;
}

/** A gauge or counter without labels from the controller's /metrics, or NaN. */
async function metric(admin: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

/** The highest sequence number a run sent so far (runs against one controller continue from it). */
let lastSequence = 0;

export async function benchMeshIngest(o: MeshIngestOptions, addrs: ControllerAddresses, pid: number, log: (line: string) => void): Promise<MeshIngestResult> {
  const { proxyApi, publicApi } = addrs;
  const Telemetry = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE);
  const method = Telemetry.service['Report'];
  const streamPath = Telemetry.service['ReportStream']?.path;
  if (method === undefined || streamPath === undefined) throw new Error('Telemetry.Report or ReportStream is not in the loaded protos');
  const proxies = o.shape.deployments * o.shape.podsPer;
  const reportBytes: [number, number] = [0, 0];
  /** Per call: the encoded report(s) it carries. */
  const calls: Array<readonly [Buffer] | readonly [Buffer, Buffer]> = [];
  for (let i = 0; i < proxies; i++) {
    const [inbound, outbound] = meshReports(o.shape, i).map((report) => method.requestSerialize(o.hdrForm === 'compressed' ? compressHistograms(report) : report) as Buffer) as [Buffer, Buffer];
    if (i === 0) reportBytes.splice(0, 2, inbound.length, outbound.length);
    if (o.batched) calls.push([inbound, outbound]);
    else calls.push([inbound], [outbound]);
  }
  const encodedCall = (k: number, sequence: number): Buffer => {
    const call = calls[k] as readonly [Buffer] | readonly [Buffer, Buffer];
    return call.length === 2 ? batchedWithSequence(call[0], call[1], sequence) : withSequence(call[0], sequence);
  };
  const clients = Array.from({ length: o.connections }, () => new grpc.Client(proxyApi, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  // Sequences go on from the previous run's against the same controller (else it takes them for retries).
  const sequences = new Array<number>(calls.length).fill(lastSequence);
  let sent = 0;
  let answered = 0;
  let errors = 0;
  let measuring = false;
  let outstanding = 0;
  const failed = (error: Error): void => {
    if (!measuring) return;
    if (errors++ === 0) log(`controller mesh: first error: ${error.message}`);
  };
  /** Stream transport: each simulated proxy's stream (opened on its first report) and its reports awaiting an answer. */
  const streams = new Array<grpc.ClientDuplexStream<Buffer, Buffer> | undefined>(calls.length);
  const unanswered = new Array<number>(calls.length).fill(0);
  const streamFor = (k: number): grpc.ClientDuplexStream<Buffer, Buffer> => {
    const open = streams[k];
    if (open !== undefined) return open;
    const stream = (clients[k % clients.length] as grpc.Client).makeBidiStreamRequest(streamPath, (b: Buffer) => b, (b: Buffer) => b);
    streams[k] = stream;
    stream.on('data', () => {
      unanswered[k]!--;
      outstanding--;
      if (measuring) answered++;
    });
    stream.on('error', (error: Error) => {
      // What was sent on it is lost (a real proxy would send it again on a new stream).
      if (streams[k] === stream) streams[k] = undefined;
      outstanding -= unanswered[k]!;
      unanswered[k] = 0;
      if ((error as grpc.ServiceError).code !== grpc.status.CANCELLED) failed(error);
    });
    return stream;
  };
  const send = (k: number): void => {
    const body = encodedCall(k, ++sequences[k]!);
    outstanding++;
    if (measuring) sent++;
    if (o.transport === 'stream') {
      unanswered[k]!++;
      streamFor(k).write(body);
      return;
    }
    (clients[k % clients.length] as grpc.Client).makeUnaryRequest(
      method.path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      { deadline: Date.now() + 10_000 },
      (error) => {
        outstanding--;
        if (error !== null) failed(error);
        else if (measuring) answered++;
      },
    );
  };
  // Every report has its own phase within the interval: the load is even, as a real mesh's is. Each
  // tick sends what the clock says is due, so a late timer does not lower the rate.
  const perMs = calls.length / o.intervalMs;
  const began = performance.now();
  let due = 0;
  let next = 0;
  let lagged = 0;
  const timer = setInterval(() => {
    const target = Math.floor((performance.now() - began) * perMs);
    if (outstanding > calls.length) {
      // The controller is a whole interval behind: hold back rather than pile up (counted as a shortfall).
      lagged++;
      due = target;
      return;
    }
    for (; due < target; due++) {
      send(next);
      next = (next + 1) % calls.length;
    }
  }, 10);
  try {
    await sleep(o.warmupSeconds * 1000);
    const cpu0 = treeCpuSeconds(pid);
    const t0 = performance.now();
    measuring = true;
    await sleep(o.seconds * 1000);
    const cpu1 = treeCpuSeconds(pid);
    const seconds = (performance.now() - t0) / 1000;
    measuring = false;
    clearInterval(timer);
    const rssBytes = memory(pid).rss;
    const storeKeys = await metric(addrs.admin, 'sluice_controller_telemetry_keys');
    const storeBytes = await metric(addrs.admin, 'sluice_controller_telemetry_bytes');
    const reportsPerSecond = answered / seconds;
    const cpuPercentOfCore = ((cpu1 - cpu0) / seconds) * 100;
    const openStreams = streams.filter((s) => s !== undefined).length;
    const how = o.transport === 'stream' ? `${openStreams} ReportStream streams` : 'unary Report calls';
    log(
      `controller mesh: ${proxies} proxies every ${o.intervalMs / 1000} s as ${how} on ${o.connections} connections: ${Math.round(reportsPerSecond)} reports/s answered ` +
        `(${Math.round((calls.length * 1000) / o.intervalMs)} asked${lagged > 0 ? `, generator held back ${lagged} ticks` : ''}), ` +
        `controller CPU ${cpuPercentOfCore.toFixed(1)} % of a core, ${errors} errors, RSS ${(rssBytes / 1e6).toFixed(0)} MB, ` +
        `store ${storeKeys} keys ${(storeBytes / 1e6).toFixed(0)} MB`,
    );
    await sleep(300);
    const statTimes: number[] = [];
    let rows = 0;
    for (let i = 0; i < o.statRepeats; i++) {
      const s0 = performance.now();
      const response = await fetch(`http://${publicApi}/api/v1/StatSummary`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ selector: { resource: { type: 'deployment' } }, time_window: '1m' }),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await response.json()) as { ok?: { stat_tables?: Array<{ pod_group?: { rows?: unknown[] } }> }; error?: unknown };
      statTimes.push(performance.now() - s0);
      if (body.ok === undefined) throw new Error(`StatSummary failed: ${JSON.stringify(body).slice(0, 300)}`);
      rows = body.ok.stat_tables?.[0]?.pod_group?.rows?.length ?? 0;
    }
    statTimes.sort((a, b) => a - b);
    const statMs = { p50: statTimes[Math.floor(statTimes.length / 2)] ?? 0, max: statTimes[statTimes.length - 1] ?? 0, rows };
    log(`controller mesh: stat deploy over the whole mesh (${rows} rows, 1m): p50 ${statMs.p50.toFixed(1)} ms, max ${statMs.max.toFixed(1)} ms`);
    return {
      proxies,
      intervalMs: o.intervalMs,
      seconds,
      reportsPerSecond,
      targetReportsPerSecond: (calls.length * 1000) / o.intervalMs,
      errors,
      cpuPercentOfCore,
      cpuUsPerReport: answered === 0 ? 0 : ((cpu1 - cpu0) * 1e6) / answered,
      reportBytes,
      batched: o.batched,
      transport: o.transport,
      ...(o.transport === 'stream' ? { streams: openStreams } : {}),
      connections: o.connections,
      statMs,
      rssBytes,
      storeKeys,
      storeBytes,
    };
  } finally {
    clearInterval(timer);
    for (const stream of streams) stream?.end();
    for (const c of clients) c.close();
    lastSequence = Math.max(lastSequence, ...sequences);
  }
}
