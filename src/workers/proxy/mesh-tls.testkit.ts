// Test kit for mesh TLS: identities made with the project's own PKI (src/control/identity/pki.ts), a
// proxy run in this process (the stacks of one serving thread, as a worker runs them, with listeners of
// its own, discovery answered from a table, and `ctx.identity` set as the 'identity' message sets it),
// and a TCP relay that records every byte crossing the mesh hop.
import type http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  certificatesToPem,
  createIssuer,
  createTrustAnchor,
  generateKeyPair,
  issueLeaf,
  privateKeyToPem,
  type CaCredential,
} from '../../control/identity/pki.ts';
import { parseProxyConfig } from '../../config/proxy-config.ts';
import { authorizationActive } from '../../config/inbound-policy-config.ts';
import { Logger } from '../../log/logger.ts';
import { renderPrometheus } from '../../telemetry/metrics.ts';
import type { DiscoveryState, EndpointData } from '../discovery/state.ts';
import type { LocalIdentity } from '../transport/local-identity.ts';
import { WorkerContext } from './context.ts';
import { ProxyStacks } from './stacks.ts';

export const identityName = (sa: string, ns = 'default'): string => `${sa}.${ns}.serviceaccount.identity.sluice.cluster.local`;

export interface TestPki {
  readonly anchor: CaCredential;
  readonly issuer: CaCredential;
}

export async function testPki(): Promise<TestPki> {
  const anchor = await createTrustAnchor();
  return { anchor, issuer: await createIssuer(anchor) };
}

export interface LeafOptions {
  /** Anchors the holder trusts; default the PKI's own. */
  readonly trust?: readonly CaCredential[];
  readonly lifetimeMs?: number;
  readonly now?: Date;
}

/** A LocalIdentity as the Identity service would issue it: leaf + issuer chain, PKCS#8 key, anchors. */
export async function leafIdentity(pki: TestPki, name: string, options: LeafOptions = {}): Promise<LocalIdentity> {
  const keys = await generateKeyPair();
  const leaf = await issueLeaf(pki.issuer, { identity: name, publicKey: keys.publicKey, lifetimeMs: options.lifetimeMs, now: options.now });
  return {
    name,
    certChainPem: certificatesToPem([leaf, pki.issuer.certificate]),
    keyPem: await privateKeyToPem(keys.privateKey),
    trustAnchorsPem: certificatesToPem((options.trust ?? [pki.anchor]).map((a) => a.certificate)),
    notAfterMs: leaf.notAfter.getTime(),
  };
}

export interface InProcessProxy {
  readonly ctx: WorkerContext;
  readonly stacks: ProxyStacks;
  readonly inboundPort: number;
  readonly outboundPort: number;
  /** What the Destination service answers, by `host:port`; unknown names are not in the mesh. */
  readonly destinations: Map<string, DiscoveryState>;
  /** Log lines (debug and up). */
  readonly logs: string[];
  metrics(): string;
  close(): Promise<void>;
}

/** Endpoint data of a meshed endpoint (its identity, also as SNI), as the acceptor decodes it. */
export function meshEndpoint(port: number, identity: string | undefined, labels: Record<string, string> = {}): EndpointData {
  const base = { host: '127.0.0.1', port, labels };
  return identity === undefined ? base : { ...base, tlsIdentity: { identity, serverName: identity } };
}

export function resolved(...endpoints: EndpointData[]): DiscoveryState {
  return { kind: 'resolved', endpoints, profile: undefined };
}

/** A proxy in this process. `env` as the proxy's environment; discovery is always on. */
export async function startInProcessProxy(env: Record<string, string>, identity: LocalIdentity | undefined): Promise<InProcessProxy> {
  const logs: string[] = [];
  const config = parseProxyConfig({ SLUICE_PROXY_WORKERS: '0', SLUICE_PROXY_DESTINATION_PROFILE_NETWORKS: '127.0.0.0/8', ...env });
  const ctx = new WorkerContext(config, new Logger('debug', 'plain', 'test', (line) => logs.push(line)));
  ctx.identity = identity;
  const stacks = new ProxyStacks(ctx);
  if (authorizationActive(config.inboundPolicy)) await stacks.enableAuthorization();
  const destinations = new Map<string, DiscoveryState>();
  stacks.enableDiscovery({
    resolve: (authority) => setImmediate(() => stacks.updateDestination(authority, destinations.get(authority) ?? { kind: 'fallback', reason: 'not_found' })),
    release: () => {},
  });
  const servers: net.Server[] = [];
  const serve = async (direction: 'inbound' | 'outbound'): Promise<number> => {
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
      const { port } = server.address() as AddressInfo;
      stacks.serve(socket, { direction, originalDst: undefined, listen: { host: '127.0.0.1', port } });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  const inboundPort = await serve('inbound');
  const outboundPort = await serve('outbound');
  return {
    ctx,
    stacks,
    inboundPort,
    outboundPort,
    destinations,
    logs,
    metrics: () => renderPrometheus(ctx.snapshot()),
    close: async () => {
      for (const server of servers) server.close();
      await stacks.drain(200);
    },
  };
}

export interface RecordedConnection {
  /** Bytes from the outbound proxy towards the inbound one, and back. */
  toServer: Buffer[];
  toClient: Buffer[];
}

export interface Relay {
  readonly port: number;
  readonly connections: RecordedConnection[];
  close(): Promise<void>;
}

/** A TCP relay to `targetPort` that keeps every byte it forwards: the wire between two proxies. */
export async function startRelay(targetPort: number): Promise<Relay> {
  const connections: RecordedConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const record: RecordedConnection = { toServer: [], toClient: [] };
    connections.push(record);
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (d: Buffer) => record.toServer.push(d));
    upstream.on('data', (d: Buffer) => record.toClient.push(d));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sum of the series of `name` whose labels include every `want` pair (exact label text). */
export function seriesValue(text: string, name: string, want: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(want).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * A test application on one port that tells its clients apart by their first bytes, as a pod's app
 * behind the inbound proxy sees them: `ECHO …` is echoed back (opaque TCP), the HTTP/2 preface goes to
 * `h2`, anything else to `h1`.
 */
export async function serveByFirstBytes(h1: http.Server, h2: http2.Http2Server): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const text = first.toString('latin1');
      if (text.startsWith('ECHO ')) {
        socket.on('data', (d: Buffer) => socket.write(d));
        socket.on('end', () => socket.end());
        socket.resume();
      } else if (text.startsWith('PRI * HTTP/2.0')) {
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
