// `npx node perf/controller-profile.ts [--seconds N] [--no-prof] [--compare]`: the controller's telemetry ingestion
// under the simulated 2,000-proxy mesh (lib/mesh-ingest.ts), profiled with `node --cpu-prof`; prints
// the mesh figures and the top self-time functions. A short, one-section companion to `npm run perf --
// --only controller` for finding where ingestion time goes. Profiles go to perf/results/profile/.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MESH_2000, discoveryYaml, readyAddress } from './lib/controller-load.ts';
import { DEFAULT_MESH_OPTIONS, benchMeshIngest } from './lib/mesh-ingest.ts';
import { formatHotSpots, topFromCpuProfiles, type CpuProfile } from './lib/profile-summary.ts';
import { startController } from './lib/sluice-proc.ts';
import { sleep, stop } from './lib/procs.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const seconds = Number(argv[argv.indexOf('--seconds') + 1] ?? 8) || 8;
const profile = !argv.includes('--no-prof');
const compare = argv.includes('--compare');
const profDir = join(root, 'perf', 'results', 'profile', 'controller');
rmSync(profDir, { recursive: true, force: true });
mkdirSync(profDir, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'sluice-ctl-prof-'));
const previous = process.env['NODE_OPTIONS'];
if (profile) process.env['NODE_OPTIONS'] = `${previous ?? ''} --cpu-prof --cpu-prof-dir=${profDir}`.trim();
const ctl = await startController(root, dir, discoveryYaml(3), undefined);
if (previous === undefined) delete process.env['NODE_OPTIONS'];
else process.env['NODE_OPTIONS'] = previous;
try {
  const tail = ctl.proc.stderrTail();
  const publicApi = readyAddress(tail, 'public-api');
  const admin = readyAddress(tail, 'admin');
  if (publicApi === null || admin === null) throw new Error('controller did not say where its public API and admin are');
  const addrs = { proxyApi: ctl.proxyApi, publicApi, admin };
  // --compare: one call per direction and batched calls, alternately, against the same controller.
  const forms = compare ? [false, true, false, true] : [true];
  for (const batched of forms) {
    const r = await benchMeshIngest({ ...DEFAULT_MESH_OPTIONS, shape: MESH_2000, seconds, batched, ...(compare ? { warmupSeconds: 3, statRepeats: 3 } : {}) }, addrs, ctl.proc.pid, (l) => console.log(l));
    const perProxy = r.cpuUsPerReport * (batched ? 1 : 2);
    console.log(`${batched ? 'batched' : 'per direction'}: ${r.cpuUsPerReport.toFixed(0)} µs/call, ${perProxy.toFixed(0)} µs per proxy and interval; report bytes ${r.reportBytes.join(' + ')}`);
  }
} finally {
  await stop(ctl.proc);
  rmSync(dir, { recursive: true, force: true });
}
await sleep(200);
if (profile) {
  const profiles = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile);
  const { total, idle, spots } = topFromCpuProfiles(profiles, 40, root);
  console.log(`busy ${total.toFixed(0)} ms, idle ${idle.toFixed(0)} ms`);
  console.log(formatHotSpots(spots, 'ms'));
}

/** Milliseconds of samples with a function of each name on the stack (inclusive time). */
function inclusive(profiles: readonly CpuProfile[], names: readonly string[]): Map<string, number> {
  const out = new Map<string, number>(names.map((n) => [n, 0]));
  for (const p of profiles) {
    const nodes = p.nodes as Array<CpuProfile['nodes'][number] & { children?: number[] }>;
    const parent = new Map<number, number>();
    for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const byId = new Map(nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const seen = new Set<string>();
      for (let id: number | undefined = p.samples[i]; id !== undefined; id = parent.get(id)) {
        const name = byId.get(id)?.callFrame.functionName ?? '';
        if (out.has(name) && !seen.has(name)) {
          seen.add(name);
          out.set(name, (out.get(name) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
        }
      }
    }
  }
  return out;
}
if (profile) {
  const profiles = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile);
  for (const [name, ms] of inclusive(profiles, (process.env['INCLUSIVE'] ?? 'decodeReportRequest,ingest,statSummary,query,Report,maintain,processTicksAndRejections,onSessionHeaders,onStreamRead').split(','))) console.log(`inclusive ${name}: ${ms.toFixed(0)} ms`);
}

/** Self time by where the function lives: the project's modules, grpc-js, Node's http2, the rest. */
function byArea(profiles: readonly CpuProfile[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of profiles) {
    const area = new Map<number, string>();
    for (const n of p.nodes) {
      const { url, functionName } = n.callFrame;
      const a = url.includes('@grpc/grpc-js') ? 'grpc-js' : url.includes('node:internal/http2') ? 'node http2' : url.includes('/src/control/telemetry') ? 'telemetry store/decode' : url.includes('/src/control/public-api') ? 'public api' : url.includes('/src/') ? 'other src' : url.startsWith('node:') ? 'node other' : url === '' ? functionName : 'other js';
      area.set(n.id, a);
    }
    for (let i = 0; i < p.samples.length; i++) {
      const a = area.get(p.samples[i] as number) ?? '?';
      out.set(a, (out.get(a) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
    }
  }
  return new Map([...out].sort((x, y) => y[1] - x[1]).slice(0, 16));
}
if (profile) {
  const profiles = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile);
  for (const [name, ms] of byArea(profiles)) console.log(`area ${name}: ${ms.toFixed(0)} ms`);
}
