// `npx node perf/dashboard-sampling.ts [--rounds N] [--proxies N]`: the CPU of one round of the dashboard's
// history sampling (the three StatSummary requests of SAMPLE_REQUESTS, recorded into a StatHistory) on a
// telemetry store filled like the controller benchmark's 2,000-proxy mesh (lib/controller-load.ts
// meshReports, ingested as the Telemetry handler does, and kept being ingested between rounds at the
// mesh's 400 calls/s so the 10-s window stays full). The controller's telemetry and public API
// components run in this process on loopback ports; each round (HistorySampler.sampleOnce, as the
// dashboard runs it) is measured with process.cpuUsage, with StatSummary answered:
//   - http: through the public API's HTTP/JSON side (PublicApiClient), as the dashboard sampled before;
//   - in-process: the public API's StatSummary handler called in process (HistorySampler's call).
// `--only <path>` measures one of them (under --cpu-prof, say).
// Rounds of the two alternate. Not a load test: a few dozen rounds, a few seconds.
import { PerformanceObserver } from 'node:perf_hooks';
import type * as grpc from '@grpc/grpc-js';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE } from '../src/api/telemetry-messages.ts';
import { loadProto, lookup } from '../src/api/proto.ts';
import type { StatSummaryRequest, StatSummaryResponse } from '../src/api/public-messages.ts';
import { PublicApiClient } from '../src/control/dashboard/api-client.ts';
import { SAMPLE_REQUESTS, StatHistory } from '../src/control/dashboard/history.ts';
import { HistorySampler, inProcessStatSummary, type StatSummaryCall } from '../src/control/dashboard/sampler.ts';
import { Logger } from '../src/log/logger.ts';
import { applyReportCall } from '../src/control/telemetry/apply.ts';
import { PeerIdentities } from '../src/control/telemetry/peer-identities.ts';
import { ReportDecodeCaches } from '../src/control/telemetry/report-decode.ts';
import { podsOnlyDiscovery, startController } from '../test/support/controller.ts';
import { MESH_2000, batchedWithSequence, meshReports } from './lib/controller-load.ts';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number): number => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) || fallback : fallback);
const rounds = arg('--rounds', 10);
const proxies = Math.min(arg('--proxies', 2000), MESH_2000.deployments * MESH_2000.podsPer);
const INTERVAL_MS = 5000;

const method = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE).service['Report'] as grpc.MethodDefinition<object, object>;
const encoded = Array.from({ length: proxies }, (_, i) => meshReports(MESH_2000, i).map((r) => method.requestSerialize(r) as Buffer) as [Buffer, Buffer]);

const running = await startController(podsOnlyDiscovery(() => []));
const identities = new PeerIdentities();
const caches = new ReportDecodeCaches();
/** Every proxy reports once per interval, spread evenly: call `c` is proxy c % proxies at its turn. */
const stepMs = INTERVAL_MS / proxies;
const start = Date.now() - 3 * INTERVAL_MS;
let calls = 0;
function ingestUntil(now: number): void {
  for (; start + calls * stepMs <= now; calls++) {
    const [inbound, outbound] = encoded[calls % proxies] as [Buffer, Buffer];
    applyReportCall(batchedWithSequence(inbound, outbound, Math.floor(calls / proxies) + 1), running.store, identities, start + calls * stepMs, caches);
  }
}
ingestUntil(Date.now());

const http = new PublicApiClient(`http://${running.publicApi}`);
const allModes: Record<string, StatSummaryCall> = {
  http: (request: StatSummaryRequest) => http.json<StatSummaryResponse>('StatSummary', request),
  'in-process': inProcessStatSummary(running.ctx.publicApi) as StatSummaryCall,
};
// `--only in-process` (say) measures one path, e.g. under --cpu-prof.
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const modes = Object.fromEntries(Object.entries(allModes).filter(([name]) => only === undefined || name === only));
if (Object.keys(modes).length === 0) throw new Error(`--only must be one of ${Object.keys(allModes).join(', ')}`);
const history = new StatHistory();
const log = new Logger('warn', 'plain', 'dashboard');
const samplers: Record<string, HistorySampler> = {};
const cpu: Record<string, number[]> = {};
const wall: Record<string, number[]> = {};
const gc: Record<string, number[]> = {};
/** Main-thread GC pauses (ms) since the last read. */
let gcMs = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
});
observer.observe({ entryTypes: ['gc'] });
for (let round = -1; round < rounds; round++) {
  for (const [name, call] of Object.entries(modes) as Array<[string, StatSummaryCall]>) {
    ingestUntil(Date.now());
    // GC entries are delivered asynchronously: let those of the ingestion arrive before the round.
    await new Promise((resolve) => setTimeout(resolve, 20));
    gcMs = 0;
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    await (samplers[name] ??= new HistorySampler({ history, statSummary: call, log })).sampleOnce();
    const used = process.cpuUsage(cpu0);
    const elapsed = performance.now() - wall0;
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Round -1 warms both paths up (JIT, the HTTP connection): not counted.
    if (round < 0) continue;
    (cpu[name] ??= []).push(used.user + used.system);
    (wall[name] ??= []).push(elapsed);
    (gc[name] ??= []).push(gcMs);
  }
}
// What one round reads and (over HTTP) carries.
const answers = await Promise.all(SAMPLE_REQUESTS.map((request) => http.call('StatSummary', JSON.stringify(request))));
const jsonBytes = answers.reduce((n, a) => n + a.body.length, 0);
const rows = answers.reduce((n, a) => n + (JSON.parse(a.body) as StatSummaryResponse).ok!.stat_tables!.reduce((m, t) => m + (t.pod_group?.rows?.length ?? 0), 0), 0);
for (const [name, sampler] of Object.entries(samplers)) if (sampler.counters.failed > 0) throw new Error(`${name}: ${sampler.counters.failed} rounds failed`);
const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
console.log(`store: ${running.store.describe()}; one round = ${SAMPLE_REQUESTS.length} StatSummary requests, ${rows} rows, ${(jsonBytes / 1e6).toFixed(2)} MB of JSON`);
for (const name of Object.keys(modes)) {
  const us = cpu[name] ?? [];
  console.log(
    `${name.padEnd(11)} CPU per round: median ${(median(us) / 1000).toFixed(1)} ms, mean ${(us.reduce((a, b) => a + b, 0) / us.length / 1000).toFixed(1)} ms ` +
      `(${us.map((u) => (u / 1000).toFixed(0)).join(' ')}); wall median ${median(wall[name] ?? []).toFixed(1)} ms; ` +
      `GC pauses median ${median(gc[name] ?? []).toFixed(1)} ms`,
  );
}
observer.disconnect();
// Where an in-process round goes: each request on its own (they run one after the other anyway).
const inProcess = allModes['in-process'] as StatSummaryCall;
const perRequest: number[][] = SAMPLE_REQUESTS.map(() => []);
for (let round = 0; round < Math.min(rounds, 5); round++) {
  ingestUntil(Date.now());
  for (const [i, request] of SAMPLE_REQUESTS.entries()) {
    const cpu0 = process.cpuUsage();
    await inProcess(request);
    const used = process.cpuUsage(cpu0);
    perRequest[i]?.push(used.user + used.system);
  }
}
const label = (r: StatSummaryRequest): string => `${r.selector?.resource?.type}${r.from_resource !== undefined ? ` --from ${r.from_resource.type}` : ''}`;
console.log(`in-process CPU per request (median): ${SAMPLE_REQUESTS.map((r, i) => `${label(r)} ${(median(perRequest[i] ?? []) / 1000).toFixed(1)} ms`).join(', ')}`);
await running.close();
