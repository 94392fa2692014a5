// What `npm run perf` measures side by side: how to start each target for a protocol, in front of the
// backend, and which of its processes are "the proxy" (for CPU and memory).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, stop, which } from './lib/procs.ts';
import type { Started } from './lib/procs.ts';
import { freePort } from './lib/net.ts';
import { MESH_AUTHORITY, inboundPathProblem, meshDiscoveryYaml, meshPathProblem } from './lib/mesh.ts';
import { CONTROLLER_BIN, SLUICE_BIN, checkAlive, fetchMetrics, sluicePorts, startController, startSluice } from './lib/sluice-proc.ts';
import { CLIENT_IDENTITY, SERVER_IDENTITY, prepareMeshIdentity } from './lib/mesh-identity.ts';
import { meshTlsProblem } from './lib/mtls-path.ts';
import type { SluiceInstance } from './lib/sluice-proc.ts';
import { haproxyArgs, haproxyConfig } from './peers/haproxy.ts';
import { nginxArgs, nginxConfig } from './peers/nginx.ts';
import type { Protocol } from './lib/types.ts';

export interface TargetContext {
  protocol: Protocol;
  backendPort: number;
  /** Core for the proxy (shared with the backend). */
  core: number | undefined;
  /**
   * Core for the chain's processes that are neither proxy nor backend: the controller. In a cluster it
   * runs in its own pod, not on the sidecar's CPU; on the proxy core its periodic work (ingesting the
   * proxies' reports, a few ms at a time) would queue the proxies' requests behind it.
   */
  controlCore: number | undefined;
  root: string;
  /** Private scratch directory for this instance. */
  dir: string;
}

/**
 * The mesh targets' controller runs on the load core under SCHED_IDLE: the generator always wins the
 * core, and the controller (not on the request path: Destination answers once, reports are
 * asynchronous) uses what is left. At normal priority its report ingestion and garbage collection made
 * the generator send late (send lag p99 1.7-6 ms against under 1 ms for the other targets); at nice 19
 * (until session 10) a slice it had begun still ran to its end before a waking generator got the core.
 */
const CONTROLLER_PRIORITY = { idle: true } as const;

export interface RunningTarget {
  /** Where clients connect. */
  port: number;
  /** Host / :authority every client sends; absent: the address they connect to (`127.0.0.1:<port>`). */
  authority?: string;
  /** The proxy processes of the chain (empty for direct), measured for CPU and memory. */
  proxies: Started[];
  /** Processes the chain needs that are not the proxy (the controller): CPU reported apart, never as proxy CPU. */
  helpers?: Started[];
  /** After the warm-up: throws when the traffic did not take the path the target claims (e.g. the mesh path). */
  confirmPath?: () => Promise<void>;
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

function stopAllOf(list: Started[]): () => Promise<void> {
  return async () => {
    await Promise.all(list.map((p) => stop(p)));
  };
}

/** The first process of the chain (proxies, controller) that has exited, described; null while all run. */
export function firstDead(t: RunningTarget): string | null {
  for (const p of [...t.proxies, ...(t.helpers ?? [])]) {
    const dead = checkAlive(p);
    if (dead !== null) return dead;
  }
  return null;
}

/** Extra Node options for the Node peers (`SLUICE_PERF_PEER_NODE_ARGS`, for experiments; as SLUICE_PERF_PROXY_NODE_ARGS for Sluice). */
function peerNodeArgs(): string[] {
  return process.env['SLUICE_PERF_PEER_NODE_ARGS']?.split(' ').filter((w) => w !== '') ?? [];
}

/** How a Node peer is chained, and what each of its processes is told beyond its ports. */
interface PeerChain {
  /** Processes in a row (client → first → … → backend); 1 by default. */
  hops?: number;
  /** Why the peer cannot run here, or null (default: it always can). */
  unavailable?: () => string | null;
  /** Called once per start: the extra arguments of hop `i` (0 = the one the client connects to). */
  args?: (ctx: TargetContext) => (hop: number) => string[];
}

/**
 * A Node peer (perf/peers/<script>): one process, or `chain.hops` of them in a row, each started as the
 * one-process peer is, with its own extra arguments.
 */
function nodePeer(name: string, script: string, protocols: readonly Protocol[], description: string, chain: PeerChain = {}): Target {
  const hops = chain.hops ?? 1;
  return {
    name,
    description,
    protocols,
    unavailable: chain.unavailable ?? (() => null),
    async start(ctx) {
      const argsOf = chain.args?.(ctx) ?? (() => []);
      const started: Started[] = [];
      let next = ctx.backendPort;
      for (let i = hops - 1; i >= 0; i--) {
        const port = await freePort();
        const label = hops === 1 ? name : `${name}-${String.fromCharCode(65 + i)}`;
        const args = [...peerNodeArgs(), join(ctx.root, 'perf', 'peers', script), '--port', String(port), '--target-port', String(next), ...argsOf(i)];
        started.push(start(label, process.execPath, args, { core: ctx.core }));
        next = port;
      }
      return { port: next, proxies: started.reverse(), notes: [], stop: stopAllOf(started) };
    },
  };
}

/**
 * Two bare Node pipes whose hop is mutual TLS (perf/peers/tls-pipe.ts): client → A (TLS out) → B (TLS
 * in) → backend, a fresh self-signed P-256 pair (openssl) as both sides' certificate and trust anchor.
 */
const nodeTlsPipe2 = nodePeer(
  'node-tls-pipe-2',
  'tls-pipe.ts',
  ALL,
  'two bare Node pipes chained with a mutual-TLS hop between them (client → A → TLS → B → backend): the floor of sluice-mesh-2-mtls',
  {
    hops: 2,
    unavailable: () => (which('openssl') === null ? 'openssl is not installed' : null),
    args(ctx) {
      const certFile = join(ctx.dir, 'tls-pipe.crt');
      const keyFile = join(ctx.dir, 'tls-pipe.key');
      const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=tls-pipe', '-addext', 'subjectAltName=DNS:tls-pipe'], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`node-tls-pipe-2: openssl could not make a certificate: ${made.stderr}`);
      return (hop) => ['--side', hop === 0 ? 'client' : 'server', '--cert', certFile, '--key', keyFile];
    },
  },
);

// ── Sluice ──

function sluiceUnavailable(root: string): string | null {
  return existsSync(join(root, ...SLUICE_BIN)) ? null : `${SLUICE_BIN.join('/')} does not exist yet`;
}

function meshUnavailable(root: string): string | null {
  return sluiceUnavailable(root) ?? (existsSync(join(root, ...CONTROLLER_BIN)) ? null : `${CONTROLLER_BIN.join('/')} does not exist yet`);
}

/** Sluice with forward addresses only: what the benchmark measured before the mesh targets. */
function sluiceForward(name: string, workers: number, description: string): Target {
  return {
    name,
    description,
    protocols: ALL,
    unavailable: sluiceUnavailable,
    async start(ctx) {
      const a = await startSluice(ctx.root, name, ctx.core, { workers, outboundForward: ctx.backendPort, inboundForward: ctx.backendPort });
      return { port: a.outbound, proxies: [a.proc], notes: [], stop: stopAllOf([a.proc]) };
    },
  };
}

const sluice2: Target = {
  name: 'sluice-2',
  description: 'Sluice, two proxies as in a mesh: client → A outbound → B inbound → backend, 1 worker each',
  protocols: ALL,
  unavailable: sluiceUnavailable,
  async start(ctx) {
    const b = await startSluice(ctx.root, 'sluice-B', ctx.core, { workers: 1, outboundForward: ctx.backendPort, inboundForward: ctx.backendPort });
    let a: SluiceInstance;
    try {
      a = await startSluice(ctx.root, 'sluice-A', ctx.core, { workers: 1, outboundForward: b.inbound, inboundForward: ctx.backendPort });
    } catch (err) {
      await stop(b.proc);
      throw err;
    }
    return { port: a.outbound, proxies: [a.proc, b.proc], notes: [], stop: stopAllOf([a.proc, b.proc]) };
  },
};

/**
 * The path production traffic takes: a controller (file discovery) knows the Service
 * backend.perf.svc.cluster.local:80; clients send that authority; proxy A has a Destination address and no
 * outbound forward address, so a request it could not resolve through the controller fails rather than
 * quietly taking the forward path. With `twoProxies` the Service's endpoint is proxy B's inbound
 * listener, which forwards to the backend (B has the controller address too, as every proxy in a pod).
 * With `mtls` the controller also runs its Identity service (issuer files, local-mesh tokens), both
 * proxies hold certificates from it (A as perf-client.perf, B as backend.perf: the identity the discovery
 * file gives the endpoint), so the A → B hop is mutual TLS; confirmPath then proves that from the metrics.
 */
function sluiceMesh(name: string, twoProxies: boolean, description: string, mtls = false): Target {
  return {
    name,
    description,
    protocols: ALL,
    unavailable: meshUnavailable,
    async start(ctx) {
      const started: Started[] = [];
      try {
        // B's ports are chosen first: its inbound listener is the Service's endpoint in the discovery file.
        const bPorts = twoProxies ? await sluicePorts() : undefined;
        const endpoint = { ip: '127.0.0.1', port: bPorts?.inbound ?? ctx.backendPort, meshed: twoProxies };
        const identity = mtls ? await prepareMeshIdentity(join(ctx.dir, 'identity')) : undefined;
        const identityArgs = identity === undefined ? [] : [...identity.controllerArgs, '--identity-addr', '127.0.0.1:0'];
        const ctl = await startController(ctx.root, ctx.dir, meshDiscoveryYaml(endpoint), ctx.controlCore, undefined, identityArgs, CONTROLLER_PRIORITY);
        started.push(ctl.proc);
        const identityAddr = ctl.identity;
        if (identity !== undefined && identityAddr === undefined) throw new Error(`${name}: the controller logged no identity address: ${ctl.proc.stderrTail().trim().slice(-800)}`);
        const envFor = (serviceAccount: string) => (identity === undefined || identityAddr === undefined ? undefined : identity.proxyEnv(serviceAccount, identityAddr));
        let b: SluiceInstance | undefined;
        if (bPorts !== undefined) {
          const routing = { workers: 1, inboundForward: ctx.backendPort, destination: ctl.proxyApi, identity: envFor('backend') };
          b = await startSluice(ctx.root, `${name}-B`, ctx.core, routing, bPorts);
          started.push(b.proc);
        }
        const a = await startSluice(ctx.root, twoProxies ? `${name}-A` : name, ctx.core, { workers: 1, destination: ctl.proxyApi, identity: envFor('perf-client') });
        started.push(a.proc);
        const proxies = b === undefined ? [a.proc] : [a.proc, b.proc];
        const addr = `${endpoint.ip}:${endpoint.port}`;
        const confirmPath = async (): Promise<void> => {
          const metricsA = await fetchMetrics(a.admin);
          const metricsB = b === undefined ? '' : await fetchMetrics(b.admin);
          const problem = meshPathProblem(metricsA, addr) ?? (b === undefined ? null : inboundPathProblem(metricsB));
          if (problem !== null) throw new Error(`${name}: not the mesh path: ${problem}`);
          const tlsProblem = mtls ? meshTlsProblem(metricsA, metricsB, { endpoint: addr, serverId: SERVER_IDENTITY, clientId: CLIENT_IDENTITY }) : null;
          if (tlsProblem !== null) throw new Error(`${name}: the hop between the proxies is not mTLS: ${tlsProblem}`);
        };
        return { port: a.outbound, authority: MESH_AUTHORITY, proxies, helpers: [ctl.proc], confirmPath, notes: [], stop: stopAllOf(started) };
      } catch (err) {
        await stopAllOf(started)();
        throw err;
      }
    },
  };
}

const sluice = sluiceForward('sluice', 1, 'Sluice, one proxy (client → outbound listener → backend), SLUICE_PROXY_WORKERS=1');
const sluiceW0 = sluiceForward('sluice-w0', 0, 'Sluice, one proxy, SLUICE_PROXY_WORKERS=0 (everything on the main thread)');
const sluiceMesh1 = sluiceMesh(
  'sluice-mesh',
  false,
  `Sluice, one proxy on the mesh path: the client sends ${MESH_AUTHORITY}, the proxy (1 worker) resolves it through the controller's Destination API (file discovery) to the backend`,
);
const sluiceMesh2 = sluiceMesh(
  'sluice-mesh-2',
  true,
  'Sluice, two proxies on the mesh path: client → A outbound (Destination resolves the Service to B) → B inbound → backend, 1 worker each',
);
const sluiceMesh2Mtls = sluiceMesh(
  'sluice-mesh-2-mtls',
  true,
  "as sluice-mesh-2, with identities: both proxies hold certificates from the controller's Identity service and the A → B hop is mutual TLS (checked in the proxies' metrics)",
  true,
);

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

/** Two HAProxies chained (client → A → B → backend): the yardstick for Sluice's two-proxy chains, same core. */
const haproxy2: Target = {
  name: 'haproxy-2',
  description: 'two HAProxies chained (client → A → B → backend), each as `haproxy`: the peer of the two-proxy chains',
  protocols: ALL,
  unavailable: () => (which('haproxy') === null ? 'haproxy is not installed' : null),
  async start(ctx) {
    const started: Started[] = [];
    let next = ctx.backendPort;
    for (const name of ['haproxy-B', 'haproxy-A']) {
      const port = await freePort();
      const cfg = join(ctx.dir, `${name}.cfg`);
      writeFileSync(cfg, haproxyConfig({ listenPort: port, backendPort: next, protocol: ctx.protocol }));
      started.push(start(name, which('haproxy') ?? 'haproxy', haproxyArgs(cfg), { core: ctx.core }));
      next = port;
    }
    return { port: next, proxies: started.reverse(), notes: [], stop: stopAllOf(started) };
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
  sluiceMesh1,
  sluiceMesh2,
  sluiceMesh2Mtls,
  sluiceW0,
  haproxy,
  haproxy2,
  nginx,
  nodePeer('node-tcp-pipe', 'tcp-pipe.ts', ALL, 'bare Node TCP pipe (net + pipe), no parsing: the floor for a Node proxy'),
  nodePeer('node-tcp-pipe-2', 'tcp-pipe.ts', ALL, 'two bare Node TCP pipes chained (client → A → B → backend): the floor for a chain of two Node proxies', {
    hops: 2,
  }),
  nodeTlsPipe2,
  nodePeer('node-naive-http', 'naive-http.ts', ['h1'], 'naive Node HTTP/1.1 proxy: node:http server + node:http keep-alive Agent'),
  nodePeer('node-naive-h2', 'naive-h2.ts', ['h2c', 'grpc'], 'naive Node HTTP/2 proxy: node:http2 server + one node:http2 client session'),
];

export const BACKENDS: Record<Protocol, string> = { h1: 'h1.ts', h2c: 'h2c.ts', grpc: 'grpc.ts' };
