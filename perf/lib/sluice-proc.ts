// Starting Sluice for the benchmark and the profiler: the proxy's environment on free loopback ports,
// waiting for it to be ready, a controller with file discovery for the mesh path, and reading /metrics.
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { start, stop, sleep } from './procs.ts';
import type { StartOptions, Started } from './procs.ts';
import { freePort } from './net.ts';
import { httpStatus } from './probe.ts';
import { readyAddress, readyProxyApi } from './controller-load.ts';
import { MESH_CONTEXT } from './mesh.ts';

export const SLUICE_BIN = ['bin', 'sluice-proxy.js'];
export const CONTROLLER_BIN = ['bin', 'sluice-controller.js'];

/**
 * The Node options on the proxy's shebang line (`#!/usr/bin/env -S node --max-semi-space-size=…`), as
 * the image runs it. Started as `node <bin>` the shebang is skipped, and heap sizes set later from
 * JavaScript no longer reach the main thread's heap: the benchmark passes them itself so that it
 * measures the proxy as deployed.
 */
export function shebangNodeOptions(binPath: string): string[] {
  const first = readFileSync(binPath, 'utf8').split('\n', 1)[0] ?? '';
  const words = first.startsWith('#!') ? first.slice(2).trim().split(/\s+/) : [];
  const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  return node < 0 ? [] : words.slice(node + 1);
}

export interface SluicePorts {
  outbound: number;
  inbound: number;
  admin: number;
  tap: number;
}

export async function sluicePorts(): Promise<SluicePorts> {
  return { outbound: await freePort(), inbound: await freePort(), admin: await freePort(), tap: await freePort() };
}

export interface SluiceRouting {
  workers: number;
  /** Forward addresses (ports on 127.0.0.1); left out, the proxy has none for that direction. */
  outboundForward?: number;
  inboundForward?: number;
  /** The controller's proxy API (`host:port`): the proxy resolves services through Destination, as in a pod. */
  destination?: string;
  /** SLUICE_PROXY_IDENTITY_* (mesh-identity.ts): the proxy gets a certificate and speaks mTLS; left out, it has no identity. */
  identity?: Readonly<Record<string, string>>;
}

/**
 * The proxy's environment: every listener on a free loopback port (Tap stays on, as deployed, but not on
 * its default 0.0.0.0:4190), forward addresses and controller as asked (and only those), worker count,
 * quiet logs. Any other SLUICE_PROXY_* variable in our own environment is passed through unchanged.
 */
export function sluiceEnv(p: SluicePorts, r: SluiceRouting): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLUICE_PROXY_OUTBOUND_LISTEN_ADDR: `127.0.0.1:${p.outbound}`,
    SLUICE_PROXY_INBOUND_LISTEN_ADDR: `127.0.0.1:${p.inbound}`,
    SLUICE_PROXY_ADMIN_LISTEN_ADDR: `127.0.0.1:${p.admin}`,
    SLUICE_PROXY_TAP_LISTEN_ADDR: `127.0.0.1:${p.tap}`,
    SLUICE_PROXY_WORKERS: String(r.workers),
    SLUICE_PROXY_LOG: 'warn',
  };
  // Routing is the target's: none inherited from our own environment.
  for (const k of ['OUTBOUND_FORWARD_ADDR', 'INBOUND_FORWARD_ADDR', 'DESTINATION_SVC_ADDR', 'DESTINATION_CONTEXT']) delete env[`SLUICE_PROXY_${k}`];
  // Nor an identity: a plaintext target must stay plaintext whatever our environment holds.
  for (const k of Object.keys(env)) if (k.startsWith('SLUICE_PROXY_IDENTITY_')) delete env[k];
  if (r.identity !== undefined) Object.assign(env, r.identity);
  if (r.outboundForward !== undefined) env['SLUICE_PROXY_OUTBOUND_FORWARD_ADDR'] = `127.0.0.1:${r.outboundForward}`;
  if (r.inboundForward !== undefined) env['SLUICE_PROXY_INBOUND_FORWARD_ADDR'] = `127.0.0.1:${r.inboundForward}`;
  if (r.destination !== undefined) {
    env['SLUICE_PROXY_DESTINATION_SVC_ADDR'] = r.destination;
    env['SLUICE_PROXY_DESTINATION_CONTEXT'] = MESH_CONTEXT;
  }
  return env;
}

/** A description (with its stderr) if the process exited already, else null. */
export function checkAlive(p: Started): string | null {
  return p.child.exitCode !== null || p.child.signalCode !== null
    ? `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}): ${p.stderrTail().trim().slice(-1500)}`
    : null;
}

/** Waits for GET /ready on the admin port to answer 200; throws if the process exits or after `timeoutMs`. */
export async function waitSluiceReady(proc: Started, admin: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = checkAlive(proc);
    if (dead !== null) throw new Error(dead);
    if ((await httpStatus(admin, '/ready', 500)) === 200) return;
    if (Date.now() > deadline) {
      throw new Error(`${proc.name}: admin /ready on 127.0.0.1:${admin} did not answer 200 within ${timeoutMs / 1000} s; stderr: ${proc.stderrTail().trim().slice(-1000)}`);
    }
    await sleep(100);
  }
}

export interface SluiceInstance extends SluicePorts {
  proc: Started;
}

/**
 * `node <shebang options> bin/sluice-proxy.js` (through taskset, which execs: the PID is the proxy's own), once ready;
 * on `ports` chosen beforehand when another process must know them first.
 */
export async function startSluice(root: string, name: string, core: number | undefined, routing: SluiceRouting, chosen?: SluicePorts): Promise<SluiceInstance> {
  const ports = chosen ?? (await sluicePorts());
  const bin = join(root, ...SLUICE_BIN);
  // SLUICE_PERF_PROXY_NODE_ARGS: extra Node options for experiments (e.g. `--perf-basic-prof` for `perf report`).
  const extra = process.env['SLUICE_PERF_PROXY_NODE_ARGS']?.split(' ').filter((w) => w !== '') ?? [];
  // SLUICE_PERF_PROXY_STDOUT=<dir>: the proxy's stdout (where V8's --trace-* options print) to <dir>/<name>.out.
  const outDir = process.env['SLUICE_PERF_PROXY_STDOUT'];
  const onStdout = outDir === undefined ? undefined : (chunk: Buffer): void => appendFileSync(join(outDir, `${name}.out`), chunk);
  const proc = start(name, process.execPath, [...shebangNodeOptions(bin), ...extra, bin], { core, env: sluiceEnv(ports, routing), ...(onStdout === undefined ? {} : { onStdout }) });
  try {
    await waitSluiceReady(proc, ports.admin);
  } catch (err) {
    await stop(proc);
    throw err;
  }
  return { proc, ...ports };
}

export interface RunningController {
  proc: Started;
  /** Its proxy API (Destination, Telemetry), `127.0.0.1:<port>`. */
  proxyApi: string;
  /** Its Identity service, `127.0.0.1:<port>`, when `extraArgs` turned it on (issuer files, `--identity-addr`). */
  identity?: string;
}

/**
 * `sluice-controller --discovery file` serving `yaml` (written to `dir`), every listener on a loopback
 * port the OS picks; resolves once it logged `controller ready` with its proxy API address.
 */
export async function startController(
  root: string,
  dir: string,
  yaml: string,
  core: number | undefined,
  timeoutMs = 20_000,
  extraArgs: readonly string[] = [],
  priority: Pick<StartOptions, 'nice' | 'idle'> = {},
): Promise<RunningController> {
  const file = join(dir, 'mesh.yaml');
  writeFileSync(`${file}.tmp`, yaml);
  renameSync(`${file}.tmp`, file);
  const args = [join(root, ...CONTROLLER_BIN), '--discovery', 'file', '--discovery-file', file, '--proxy-api-addr', '127.0.0.1:0', '--public-api-addr', '127.0.0.1:0', '--log', 'info', ...extraArgs];
  const proc = start('sluice-controller', process.execPath, args, { core, ...priority });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const addr = readyProxyApi(proc.stderrTail());
    if (addr !== null) {
      const identity = readyAddress(proc.stderrTail(), 'identity');
      return identity === null ? { proc, proxyApi: addr } : { proc, proxyApi: addr, identity };
    }
    const dead = checkAlive(proc);
    if (dead !== null || Date.now() > deadline) {
      await stop(proc);
      throw new Error(dead ?? `sluice-controller did not log "controller ready" within ${timeoutMs / 1000} s: ${proc.stderrTail().trim().slice(-800)}`);
    }
    await sleep(50);
  }
}

/** GET /metrics on a proxy's admin port, as text. */
export function fetchMetrics(admin: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: admin, path: '/metrics', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET /metrics on 127.0.0.1:${admin}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET /metrics on 127.0.0.1:${admin}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
