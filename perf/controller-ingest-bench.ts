// `npx node perf/controller-ingest-bench.ts [--seconds N] [--proxies N]`: the controller's telemetry
// ingestion in-process, without gRPC: the simulated mesh's calls (lib/controller-load.ts meshReports,
// batched as proxies send them) decoded and applied to a TelemetryStore and the peer-identity index,
// as the Telemetry.Report handler does, on a simulated clock (400 calls per second for 2,000 proxies).
// Prints CPU per call, garbage-collection time and what the store holds: the figures that tell decode
// and store changes apart from grpc-js and node:http2 (perf/controller-profile.ts measures the whole).
import { PerformanceObserver } from 'node:perf_hooks';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE } from '../src/api/telemetry-messages.ts';
import { loadProto, lookup } from '../src/api/proto.ts';
import type * as grpc from '@grpc/grpc-js';
import { PeerIdentities } from '../src/control/telemetry/peer-identities.ts';
import { applyReportCall } from '../src/control/telemetry/apply.ts';
import { ReportDecodeCaches } from '../src/control/telemetry/report-decode.ts';
import { TelemetryStore } from '../src/control/telemetry/store.ts';
import { MESH_2000, batchedWithSequence, meshReports } from './lib/controller-load.ts';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) || fallback : fallback);
const paced = argv.includes('--paced');
const seconds = arg('--seconds', 60);
const proxies = Math.min(arg('--proxies', 2000), MESH_2000.deployments * MESH_2000.podsPer);
const intervalMs = 5000;

const method = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE).service['Report'] as grpc.MethodDefinition<object, object>;
const encoded = Array.from({ length: proxies }, (_, i) => meshReports(MESH_2000, i).map((r) => method.requestSerialize(r) as Buffer) as [Buffer, Buffer]);

let clock = 1_800_000_000_000;
const store = new TelemetryStore({ now: () => clock });
const identities = new PeerIdentities();
const caches = argv.includes('--no-cache') ? undefined : new ReportDecodeCaches();
let gcMs = 0;
let gcs = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    gcs++;
  }
});

const calls = Math.round((seconds * 1000 * proxies) / intervalMs);
const stepMs = intervalMs / proxies;
/** Runs `n` calls from call `from`, returning CPU microseconds. */
function run(from: number, n: number): number {
  const cpu0 = process.cpuUsage();
  for (let c = from; c < from + n; c++) {
    const proxy = c % proxies;
    const [inbound, outbound] = encoded[proxy] as [Buffer, Buffer];
    const body = batchedWithSequence(inbound, outbound, Math.floor(c / proxies) + 1);
    clock += stepMs;
    applyReportCall(body, store, identities, clock, caches);
    if (c % proxies === 0) {
      store.maintain(clock);
      identities.maintain(clock);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return cpu.user + cpu.system;
}
// Warm-up: every key exists (one interval), then measure.
run(0, proxies * 2);
observer.observe({ entryTypes: ['gc'] });
const heap0 = process.memoryUsage();
let us = 0;
if (paced) {
  // As the controller sees them: 4 calls every 10 ms of wall time (what lives for a while now survives scavenges).
  for (let done = 0; done < calls; done += 4) {
    us += run(proxies * 2 + done, Math.min(4, calls - done));
    await new Promise((r) => setTimeout(r, 10));
  }
} else us = run(proxies * 2, calls);
await new Promise((r) => setTimeout(r, 50));
observer.disconnect();
const heap1 = process.memoryUsage();
console.log(
  `${calls} calls (${seconds} s of ${proxies} proxies): ${(us / calls).toFixed(1)} µs CPU/call (main thread and helpers), ` +
    `GC ${gcs} pauses ${(gcMs * 1000 / calls).toFixed(1)} µs/call; heap ${(heap0.heapUsed / 1e6).toFixed(0)} → ${(heap1.heapUsed / 1e6).toFixed(0)} MB, ` +
    `array buffers ${(heap1.arrayBuffers / 1e6).toFixed(0)} MB, RSS ${(heap1.rss / 1e6).toFixed(0)} MB; store ${store.describe()}`,
);
