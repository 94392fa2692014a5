// Is a slow HTTP/1.1 saturation figure the proxy's or the moment's? Starts several identical Sluice
// proxies at once in front of one backend (all on core 0), then measures them in turn, round after
// round (autocannon from core 1, 3 s each), printing each run's proxy and backend CPU per request. A slow
// level that belongs to one process shows in its column only; one that belongs to the machine shows in
// every process at once — and in the backend's figures too. docs/performance.md, "The core's speed changes".
//   node perf/core-speed.ts [--procs 4] [--rounds 4] [--idle 11]
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, stop, sleep, treeCpuSeconds, cpuSeconds, installCleanupHandlers } from './lib/procs.ts';
import { freePort } from './lib/net.ts';
import { shebangNodeOptions, sluicePorts, sluiceEnv, waitSluiceReady } from './lib/sluice-proc.ts';
import { parseAutocannon } from './lib/saturation.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} takes a number`);
  return value;
}
const procs = flag('--procs', 4);
const rounds = flag('--rounds', 4);
const idleSeconds = flag('--idle', 11);

installCleanupHandlers();
const backendPort = await freePort();
const backend = start('backend', process.execPath, [join(root, 'perf', 'backends', 'h1.ts'), '--port', String(backendPort)], { core: 0 });
await sleep(500);
const bin = join(root, 'bin', 'sluice-proxy.js');
const proxies: Array<{ pid: number; port: number; runs: string[]; stop: () => Promise<void> }> = [];
for (let i = 0; i < procs; i++) {
  const ports = await sluicePorts();
  const proc = start(`sluice-${i}`, process.execPath, [...shebangNodeOptions(bin), bin], { core: 0, env: sluiceEnv(ports, { workers: 1, outboundForward: backendPort, inboundForward: backendPort }) });
  await waitSluiceReady(proc, ports.admin);
  proxies.push({ pid: proc.pid, port: ports.outbound, runs: [], stop: () => stop(proc) });
}
// As `npm run perf` does before its saturation runs: the proxies sit idle first.
await sleep(idleSeconds * 1000);
for (let round = 0; round < rounds; round++) {
  for (const proxy of proxies) {
    const proxy0 = treeCpuSeconds(proxy.pid);
    const backend0 = cpuSeconds(backend.pid);
    const load = spawnSync('taskset', ['-c', '1', process.execPath, join(root, 'node_modules', 'autocannon', 'autocannon.js'), '-c', '32', '-d', '3', '-j', '-n', `http://127.0.0.1:${proxy.port}/`], { encoding: 'utf8', timeout: 30_000 });
    const counts = parseAutocannon(load.stdout);
    const perRequest = (seconds: number): string => (counts.requests === 0 ? '–' : ((seconds * 1e6) / counts.requests).toFixed(1));
    proxy.runs.push(`${perRequest(treeCpuSeconds(proxy.pid) - proxy0)}/${perRequest(cpuSeconds(backend.pid) - backend0)}`);
    await sleep(300);
  }
}
console.log(`proxy / backend CPU µs per request, ${rounds} rounds of 3-s saturation runs taken in turn (a column per round):`);
for (const [i, proxy] of proxies.entries()) console.log(`  proxy ${i}: ${proxy.runs.join('  ')}`);
for (const proxy of proxies) await proxy.stop();
await stop(backend);
