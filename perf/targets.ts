// What `npm run perf` measures side by side: how to start each target for a protocol, in front of the
// backend, and which of its processes are "the proxy" (for CPU and memory).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { start, stop, sleep } from './lib/procs.ts';
import type { Started } from './lib/procs.ts';
import { freePort } from './lib/net.ts';
import { httpStatus } from './lib/probe.ts';
import { haproxyArgs, haproxyConfig } from './peers/haproxy.ts';
import { nginxArgs, nginxConfig } from './peers/nginx.ts';
import type { Protocol } from './lib/types.ts';

export interface TargetContext {
  protocol: Protocol;
  backendPort: number;
  /** Core for the proxy (shared with the backend). */
  core: number | undefined;
  root: string;
  /** Private scratch directory for this instance. */
  dir: string;
}

export interface RunningTarget {
  /** Where clients connect. */
  port: number;
  /** The proxy processes of the chain (empty for direct), measured for CPU and memory. */
  proxies: Started[];
  notes: string[];
  stop(): Promise<void>;
}

export interface Target {
  name: string;
  /** One line for the docs and the tables. */
  description: string;
  protocols: readonly Protocol[];
  /** Why this target cannot run here (missing binary…), or null. */
  unavailable(root: string): string | null;
  start(ctx: TargetContext): Promise<RunningTarget>;
}

const ALL: readonly Protocol[] = ['h1', 'h2c', 'grpc'];

export function which(bin: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, bin);
    if (d !== '' && existsSync(p)) return p;
  }
  return null;
}

function stopAllOf(list: Started[]): () => Promise<void> {
  return async () => {
    await Promise.all(list.map((p) => stop(p)));
  };
}

/** A description (with its stderr) if the process exited already, else null. */
function checkAlive(p: Started): string | null {
  return p.child.exitCode !== null || p.child.signalCode !== null
    ? `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}): ${p.stderrTail().trim().slice(-1500)}`
    : null;
}

/** The first proxy of the chain that has exited, described; null while all run. */
export function firstDead(t: RunningTarget): string | null {
  for (const p of t.proxies) {
    const dead = checkAlive(p);
    if (dead !== null) return dead;
  }
  return null;
}

function nodePeer(name: string, script: string, protocols: readonly Protocol[], description: string): Target {
  return {
    name,
    description,
    protocols,
    unavailable: () => null,
    async start(ctx) {
      const port = await freePort();
      const p = start(name, process.execPath, [join(ctx.root, 'perf', 'peers', script), '--port', String(port), '--target-port', String(ctx.backendPort)], {
        core: ctx.core,
      });
      return { port, proxies: [p], notes: [], stop: stopAllOf([p]) };
    },
  };
}

// ── Sluice ──

export const SLUICE_BIN = ['bin', 'sluice-proxy.js'];

interface SluiceInstance {
  proc: Started;
  outbound: number;
  inbound: number;
  admin: number;
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

/**
 * The proxy's environment: every listener on a free loopback port (Tap stays on, as deployed, but not on
 * its default 0.0.0.0:4190), both forward addresses, worker count, quiet logs. Any other SLUICE_PROXY_*
 * variable in our own environment is passed through unchanged.
 */
export function sluiceEnv(p: SluicePorts, workers: number, outboundForward: number, inboundForward: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SLUICE_PROXY_OUTBOUND_LISTEN_ADDR: `127.0.0.1:${p.outbound}`,
    SLUICE_PROXY_INBOUND_LISTEN_ADDR: `127.0.0.1:${p.inbound}`,
    SLUICE_PROXY_ADMIN_LISTEN_ADDR: `127.0.0.1:${p.admin}`,
    SLUICE_PROXY_TAP_LISTEN_ADDR: `127.0.0.1:${p.tap}`,
    SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${outboundForward}`,
    SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${inboundForward}`,
    SLUICE_PROXY_WORKERS: String(workers),
    SLUICE_PROXY_LOG: 'warn',
  };
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

async function startSluice(ctx: TargetContext, name: string, workers: number, outboundForward: number, inboundForward: number): Promise<SluiceInstance> {
  const ports = await sluicePorts();
  // Spawned as `node bin/sluice-proxy.js` (through taskset, which execs): the PID is the proxy's own.
  const proc = start(name, process.execPath, [join(ctx.root, ...SLUICE_BIN)], { core: ctx.core, env: sluiceEnv(ports, workers, outboundForward, inboundForward) });
  try {
    await waitSluiceReady(proc, ports.admin);
  } catch (err) {
    await stop(proc);
    throw err;
  }
  return { proc, ...ports };
}

function sluiceUnavailable(root: string): string | null {
  return existsSync(join(root, ...SLUICE_BIN)) ? null : `${SLUICE_BIN.join('/')} does not exist yet`;
}

const sluice: Target = {
  name: 'sluice',
  description: 'Sluice, one proxy (client → outbound listener → backend), SLUICE_PROXY_WORKERS=1',
  protocols: ALL,
  unavailable: sluiceUnavailable,
  async start(ctx) {
    const a = await startSluice(ctx, 'sluice', 1, ctx.backendPort, ctx.backendPort);
    return { port: a.outbound, proxies: [a.proc], notes: [], stop: stopAllOf([a.proc]) };
  },
};

const sluiceW0: Target = {
  name: 'sluice-w0',
  description: 'Sluice, one proxy, SLUICE_PROXY_WORKERS=0 (everything on the main thread)',
  protocols: ALL,
  unavailable: sluiceUnavailable,
  async start(ctx) {
    const a = await startSluice(ctx, 'sluice-w0', 0, ctx.backendPort, ctx.backendPort);
    return { port: a.outbound, proxies: [a.proc], notes: [], stop: stopAllOf([a.proc]) };
  },
};

const sluice2: Target = {
  name: 'sluice-2',
  description: 'Sluice, two proxies as in a mesh: client → A outbound → B inbound → backend, 1 worker each',
  protocols: ALL,
  unavailable: sluiceUnavailable,
  async start(ctx) {
    const b = await startSluice(ctx, 'sluice-B', 1, ctx.backendPort, ctx.backendPort);
    let a: SluiceInstance;
    try {
      a = await startSluice(ctx, 'sluice-A', 1, b.inbound, ctx.backendPort);
    } catch (err) {
      await stop(b.proc);
      throw err;
    }
    return { port: a.outbound, proxies: [a.proc, b.proc], notes: [], stop: stopAllOf([a.proc, b.proc]) };
  },
};

// ── Peers ──

const direct: Target = {
  name: 'direct',
  description: 'no proxy: client → backend',
  protocols: ALL,
  unavailable: () => null,
  async start(ctx) {
    return { port: ctx.backendPort, proxies: [], notes: [], stop: async () => {} };
  },
};

const haproxy: Target = {
  name: 'haproxy',
  description: 'HAProxy (Debian), nbthread 1, keep-alive both sides; h2c/gRPC with `proto h2` on bind and server',
  protocols: ALL,
  unavailable: () => (which('haproxy') === null ? 'haproxy is not installed' : null),
  async start(ctx) {
    const port = await freePort();
    const cfg = join(ctx.dir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig({ listenPort: port, backendPort: ctx.backendPort, protocol: ctx.protocol }));
    const p = start('haproxy', which('haproxy') ?? 'haproxy', haproxyArgs(cfg), { core: ctx.core });
    return { port, proxies: [p], notes: [], stop: stopAllOf([p]) };
  },
};

const nginx: Target = {
  name: 'nginx',
  description: 'nginx (Debian), 1 worker, upstream keepalive; h2c/gRPC front `listen … http2`, upstream `grpc_pass`',
  protocols: ALL,
  unavailable: () => (which('nginx') === null ? 'nginx is not installed' : null),
  async start(ctx) {
    const port = await freePort();
    const dir = join(ctx.dir, 'nginx');
    mkdirSync(dir, { recursive: true });
    const cfg = join(dir, 'nginx.conf');
    writeFileSync(cfg, nginxConfig({ listenPort: port, backendPort: ctx.backendPort, protocol: ctx.protocol }, { dir }));
    const p = start('nginx', which('nginx') ?? 'nginx', nginxArgs(cfg, { dir }), { core: ctx.core });
    const notes = ctx.protocol === 'h2c' ? ['nginx cannot proxy_pass to an h2c upstream; this run uses grpc_pass (its only HTTP/2 upstream)'] : [];
    return { port, proxies: [p], notes, stop: stopAllOf([p]) };
  },
};

export const TARGETS: readonly Target[] = [
  direct,
  sluice,
  sluice2,
  sluiceW0,
  haproxy,
  nginx,
  nodePeer('node-tcp-pipe', 'tcp-pipe.ts', ALL, 'bare Node TCP pipe (net + pipe), no parsing: the floor for a Node proxy'),
  nodePeer('node-naive-http', 'naive-http.ts', ['h1'], 'naive Node HTTP/1.1 proxy: node:http server + node:http keep-alive Agent'),
  nodePeer('node-naive-h2', 'naive-h2.ts', ['h2c', 'grpc'], 'naive Node HTTP/2 proxy: node:http2 server + one node:http2 client session'),
];

export const BACKENDS: Record<Protocol, string> = { h1: 'h1.ts', h2c: 'h2c.ts', grpc: 'grpc.ts' };
