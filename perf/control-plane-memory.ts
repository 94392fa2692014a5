// Idle memory of a meshed proxy: a controller (file discovery) and a backend, a proxy whose
// SLUICE_PROXY_DESTINATION_SVC_ADDR points at the controller, started as the image starts it (its
// shebang's Node options), which resolves one Service through Destination for one request and then
// idles while it reports telemetry; its resident set is sampled once it has settled. With `--probe` it
// also records which gRPC/protobuf modules the proxy loads (perf/lib/module-probe.ts), then connects to
// the Tap port once (the Tap server may load grpc-js, on its first connection) and records again.
//
//   npx node perf/control-plane-memory.ts [--root DIR] [--workers 0,1] [--runs 1] [--probe [--list]] [--baseline]
//
// `--root` runs the proxy of another checkout (e.g. an extracted older commit) against the same
// controller, so that two versions are compared in one run. Not a load test: one request per proxy.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MESH_AUTHORITY, meshDiscoveryYaml } from './lib/mesh.ts';
import { installCleanupHandlers, memory, sleep, start, stop, stopAll } from './lib/procs.ts';
import { SLUICE_BIN, shebangNodeOptions, sluiceEnv, sluicePorts, startController, waitSluiceReady } from './lib/sluice-proc.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PROBE = fileURLToPath(new URL('./lib/module-probe.ts', import.meta.url));

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const proxyRoot = resolve(arg('root') ?? ROOT);
const workerCounts = (arg('workers') ?? '0,1').split(',').map(Number);
const runs = Number(arg('runs') ?? 1);
const probe = process.argv.includes('--probe');
/** No controller: the same proxy outside the mesh (the request goes to a forward address), for comparison. */
const baseline = process.argv.includes('--baseline');

function get(port: number, authority: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host: authority }, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function loaded(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((u) => u.replace(/^.*node_modules\//, ''));
  } catch {
    return [];
  }
}

async function measure(controllerAddr: string, backendPort: number, backendHits: () => number, workers: number, dir: string): Promise<void> {
  const ports = await sluicePorts();
  const bin = join(proxyRoot, ...SLUICE_BIN);
  const probeFile = join(dir, `modules-${workers}-${Date.now()}.txt`);
  const env = sluiceEnv(ports, baseline ? { workers, outboundForward: backendPort } : { workers, destination: controllerAddr });
  const nodeArgs = [...shebangNodeOptions(bin)];
  if (probe) {
    env['SLUICE_MODULE_PROBE_FILE'] = probeFile;
    nodeArgs.push('--import', PROBE);
  }
  const proc = start(`proxy-w${workers}`, process.execPath, [...nodeArgs, bin], { env, cwd: proxyRoot });
  try {
    await waitSluiceReady(proc, ports.admin);
    const before = backendHits();
    const status = await get(ports.outbound, MESH_AUTHORITY);
    if (status !== 200 || backendHits() !== before + 1) throw new Error(`the request through the proxy failed (status ${status})`);
    // Settle: telemetry reports go out every 5 s; the collector and heap come to rest.
    await sleep(12_000);
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(memory(proc.pid).rss);
      await sleep(1000);
    }
    const line: Record<string, unknown> = { root: proxyRoot, workers, controller: !baseline, idleRssMb: +(median(samples) / 2 ** 20).toFixed(1), peakMb: +(memory(proc.pid).peak / 2 ** 20).toFixed(1) };
    if (probe) {
      line['grpcModulesIdle'] = loaded(probeFile).length;
      line['firstIdle'] = process.argv.includes('--list') ? loaded(probeFile) : loaded(probeFile).slice(0, 3);
      const tap = net.connect({ host: '127.0.0.1', port: ports.tap });
      await new Promise((done) => tap.once('connect', done));
      await sleep(1500);
      tap.destroy();
      line['grpcModulesAfterTap'] = loaded(probeFile).length;
      line['firstAfterTap'] = loaded(probeFile).slice(0, 3);
    }
    console.log(JSON.stringify(line));
  } finally {
    await stop(proc);
  }
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cp-memory-'));
  let hits = 0;
  const backend = http.createServer((_req, res) => {
    hits++;
    res.end('ok');
  });
  await new Promise<void>((done) => backend.listen(0, '127.0.0.1', done));
  const backendPort = (backend.address() as net.AddressInfo).port;
  const controller = await startController(ROOT, dir, meshDiscoveryYaml({ ip: '127.0.0.1', port: backendPort, meshed: false }), undefined);
  try {
    for (let run = 0; run < runs; run++) for (const workers of workerCounts) await measure(controller.proxyApi, backendPort, () => hits, workers, dir);
  } finally {
    await stop(controller.proc);
    backend.close();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
