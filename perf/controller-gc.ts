// `npx node perf/controller-gc.ts [--node-flags "<flags>"] [--args "<controller flags>"] [--seconds N]
// [--out FILE]`: the 2,000-proxy mesh (lib/mesh-ingest.ts) against a controller started with extra
// Node/V8 flags, its stdout (where `--trace-gc`, `--trace-gc-nvp` print) kept in FILE. For what
// perf/controller-profile.ts cannot show: how much each scavenge promotes and how long it takes
// (`--node-flags --trace-gc-nvp`), whether a V8 setting such as `--max-semi-space-size=128` changes the
// controller's CPU, or the cost of a component (`--args "--dashboard-addr off"`). V8's trace flags are
// not allowed in NODE_OPTIONS, hence a process of its own. Bounded: the controller is stopped by PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MESH_2000, discoveryYaml, readyAddress, readyProxyApi } from './lib/controller-load.ts';
import { DEFAULT_MESH_OPTIONS, benchMeshIngest } from './lib/mesh-ingest.ts';
import { sleep } from './lib/procs.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const option = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const words = (text: string | undefined): string[] => (text ?? '').split(' ').filter((w) => w !== '');
const seconds = Number(option('--seconds') ?? 10) || 10;
const out = option('--out') ?? join(tmpdir(), 'sluice-controller-gc.log');

const dir = mkdtempSync(join(tmpdir(), 'sluice-ctl-gc-'));
writeFileSync(join(dir, 'mesh.yaml'), discoveryYaml(3));
const args = [
  ...words(option('--node-flags')),
  join(root, 'bin', 'sluice-controller.js'),
  ...['--discovery', 'file', '--discovery-file', join(dir, 'mesh.yaml'), '--proxy-api-addr', '127.0.0.1:0', '--public-api-addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--log', 'info'],
  ...words(option('--args')),
];
const child = spawn(process.execPath, args, { stdio: ['ignore', openSync(out, 'w'), 'pipe'] });
let stderr = '';
child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-16384)));
try {
  const deadline = Date.now() + 20_000;
  while (readyProxyApi(stderr) === null) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the controller did not start: ${stderr.slice(-800)}`);
    await sleep(50);
  }
  const publicApi = readyAddress(stderr, 'public-api');
  const admin = readyAddress(stderr, 'admin');
  if (publicApi === null || admin === null) throw new Error('controller did not say where its public API and admin are');
  const addrs = { proxyApi: readyProxyApi(stderr) as string, publicApi, admin };
  const r = await benchMeshIngest({ ...DEFAULT_MESH_OPTIONS, shape: MESH_2000, seconds }, addrs, child.pid as number, (l) => console.log(l));
  console.log(`${r.cpuUsPerReport.toFixed(0)} µs/call; controller stdout in ${out}`);
} finally {
  child.kill('SIGTERM');
  await sleep(300);
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
