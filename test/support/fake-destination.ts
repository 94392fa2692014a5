// A Destination service (io.linkerd.proxy.destination.Destination) for proxy tests, with @grpc/grpc-js:
// tests set the endpoints and profiles of names, make names unknown or failing, hang, stop and restart
// the server (same port), and read which streams the proxy opened. Get streams send the full set first,
// then diffs, as the real controller does.
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../src/api/proto.ts';

export interface FakeEndpoint {
  readonly host: string;
  readonly port: number;
  readonly labels?: Readonly<Record<string, string>>;
  /** The endpoint's mesh identity: sent as `tls_identity` (also as its server name) with the h2 hint. */
  readonly identity?: string;
  /** False: the identity without the h2 hint (the endpoint is not a proxy that takes HTTP/1 as HTTP/2). */
  readonly h2Hint?: boolean;
}

/** A route condition in the ServiceProfile CRD's shape. */
export interface FakeMatch {
  readonly method?: string;
  readonly pathRegex?: string;
  readonly all?: readonly FakeMatch[];
  readonly any?: readonly FakeMatch[];
  readonly not?: FakeMatch;
}

export interface FakeRoute {
  readonly name: string;
  readonly condition: FakeMatch;
  readonly responseClasses?: ReadonlyArray<{ readonly min?: number; readonly max?: number; readonly isFailure: boolean }>;
  readonly isRetryable?: boolean;
  readonly timeoutMs?: number;
}

export interface FakeProfile {
  readonly routes?: readonly FakeRoute[];
  readonly retryBudget?: { readonly retryRatio: number; readonly minRetriesPerSecond: number; readonly ttlMs: number };
  /** For `ip:port` lookups: the service the address belongs to. */
  readonly fullyQualifiedName?: string;
}

export interface Call {
  readonly method: 'Get' | 'GetProfile';
  readonly path: string;
  readonly contextToken: string;
}

interface Service {
  endpoints: FakeEndpoint[];
  labels: Record<string, string>;
}

interface OpenStream {
  readonly method: 'Get' | 'GetProfile';
  readonly path: string;
  readonly call: grpc.ServerWritableStream<unknown, unknown>;
  /** Get: the endpoints this stream has been told about, by `host:port`. */
  readonly sent: Map<string, FakeEndpoint>;
}

const DEFAULT_BUDGET = { retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 };

function ipv4(host: string): number {
  const parts = host.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`fake destination: IPv4 only, got ${host}`);
  return (((parts[0] as number) << 24) >>> 0) + ((parts[1] as number) << 16) + ((parts[2] as number) << 8) + (parts[3] as number);
}

function tcpAddress(e: { host: string; port: number }): object {
  return { ip: { ipv4: ipv4(e.host) }, port: e.port };
}

function duration(ms: number): object {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function requestMatch(m: FakeMatch): object {
  const parts: object[] = [];
  if (m.method !== undefined) parts.push({ method: { registered: m.method } });
  if (m.pathRegex !== undefined) parts.push({ path: { regex: m.pathRegex } });
  if (m.all !== undefined) parts.push({ all: { matches: m.all.map(requestMatch) } });
  if (m.any !== undefined) parts.push({ any: { matches: m.any.map(requestMatch) } });
  if (m.not !== undefined) parts.push({ not: requestMatch(m.not) });
  // The CRD's fields on one condition are all required to match (the controller builds an `all`).
  return parts.length === 1 ? (parts[0] as object) : { all: { matches: parts } };
}

function profileMessage(path: string, profile: FakeProfile | undefined): object {
  const budget = profile?.retryBudget ?? DEFAULT_BUDGET;
  return {
    fully_qualified_name: profile?.fullyQualifiedName ?? path.replace(/:\d+$/, ''),
    retry_budget: { retry_ratio: budget.retryRatio, min_retries_per_second: budget.minRetriesPerSecond, ttl: duration(budget.ttlMs) },
    routes: (profile?.routes ?? []).map((r) => ({
      condition: requestMatch(r.condition),
      metrics_labels: { route: r.name },
      is_retryable: r.isRetryable === true,
      ...(r.timeoutMs !== undefined ? { timeout: duration(r.timeoutMs) } : {}),
      response_classes: (r.responseClasses ?? []).map((c) => ({
        condition: { status: { min: c.min ?? 0, max: c.max ?? 0 } },
        is_failure: c.isFailure,
      })),
    })),
  };
}

export class FakeDestination {
  port = 0;
  readonly calls: Call[] = [];
  private server: grpc.Server | undefined;
  private readonly services = new Map<string, Service>();
  private readonly profiles = new Map<string, FakeProfile>();
  private readonly errors = new Map<string, number>();
  private readonly hanging = new Set<string>();
  private readonly streams = new Set<OpenStream>();

  static async start(): Promise<FakeDestination> {
    const fake = new FakeDestination();
    await fake.listen(0);
    return fake;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Makes `authority` (`name:port`) a service with these endpoints; open Get streams get the diff. */
  setEndpoints(authority: string, endpoints: readonly FakeEndpoint[], labels: Record<string, string> = {}): void {
    this.services.set(authority, { endpoints: [...endpoints], labels });
    this.errors.delete(authority);
    for (const stream of this.streams) if (stream.method === 'Get' && stream.path === authority) this.sendDiff(stream);
  }

  setProfile(authority: string, profile: FakeProfile): void {
    this.profiles.set(authority, profile);
    for (const stream of this.streams) {
      if (stream.method === 'GetProfile' && stream.path === authority) stream.call.write(profileMessage(authority, profile));
    }
  }

  /** Lookups of `authority` end with this gRPC status (e.g. NOT_FOUND) from now on. */
  setError(authority: string, code: grpc.status): void {
    this.errors.set(authority, code);
  }

  /** Lookups of `authority` never answer. */
  hang(authority: string): void {
    this.hanging.add(authority);
  }

  /** Streams open right now, optionally only those of one method and path. */
  open(method?: 'Get' | 'GetProfile', path?: string): number {
    let n = 0;
    for (const s of this.streams) if ((method === undefined || s.method === method) && (path === undefined || s.path === path)) n++;
    return n;
  }

  /** Kills the server and every stream (as a controller that crashes). */
  async stop(): Promise<void> {
    this.server?.forceShutdown();
    this.server = undefined;
    this.streams.clear();
  }

  /** Starts again on the same port, with the same data. */
  async restart(): Promise<void> {
    await this.listen(this.port);
  }

  private async listen(port: number): Promise<void> {
    const root = loadProto('destination.proto');
    const service = lookup<grpc.ServiceClientConstructor>(root, 'io.linkerd.proxy.destination.Destination').service;
    const server = new grpc.Server();
    server.addService(service, {
      Get: (call: grpc.ServerWritableStream<{ path: string; context_token?: string }, unknown>) => this.onCall('Get', call),
      GetProfile: (call: grpc.ServerWritableStream<{ path: string; context_token?: string }, unknown>) => this.onCall('GetProfile', call),
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    this.server = server;
  }

  private onCall(method: 'Get' | 'GetProfile', call: grpc.ServerWritableStream<{ path: string; context_token?: string }, unknown>): void {
    const path = call.request.path;
    this.calls.push({ method, path, contextToken: call.request.context_token ?? '' });
    const stream: OpenStream = { method, path, call: call as grpc.ServerWritableStream<unknown, unknown>, sent: new Map() };
    const error = this.errors.get(path);
    if (error !== undefined) {
      call.emit('error', { code: error, details: `${method} ${path}: status ${error}` });
      return;
    }
    this.streams.add(stream);
    call.on('cancelled', () => this.streams.delete(stream));
    call.on('close', () => this.streams.delete(stream));
    if (this.hanging.has(path)) return;
    if (method === 'GetProfile') {
      const profile = this.profiles.get(path);
      if (profile === undefined && !this.services.has(path)) {
        this.streams.delete(stream);
        call.emit('error', { code: grpc.status.NOT_FOUND, details: `no service ${path}` });
        return;
      }
      call.write(profileMessage(path, profile));
      return;
    }
    if (!this.services.has(path)) {
      this.streams.delete(stream);
      call.emit('error', { code: grpc.status.NOT_FOUND, details: `no service ${path}` });
      return;
    }
    this.sendDiff(stream, true);
  }

  private sendDiff(stream: OpenStream, first = false): void {
    const service = this.services.get(stream.path);
    const now = new Map((service?.endpoints ?? []).map((e) => [`${e.host}:${e.port}`, e]));
    const added = [...now].filter(([key]) => !stream.sent.has(key)).map(([, e]) => e);
    const removed = [...stream.sent].filter(([key]) => !now.has(key)).map(([, e]) => e);
    if (removed.length > 0) stream.call.write({ remove: { addrs: removed.map(tcpAddress) } });
    if (added.length > 0) {
      stream.call.write({
        add: {
          addrs: added.map((e) => ({
            addr: tcpAddress(e),
            weight: 10_000,
            metric_labels: { ...e.labels },
            ...(e.identity === undefined
              ? {}
              : {
                  tls_identity: { dns_like_identity: { name: e.identity }, server_name: { name: e.identity } },
                  ...(e.h2Hint === false ? {} : { protocol_hint: { h2: {} } }),
                }),
          })),
          metric_labels: service?.labels ?? {},
        },
      });
    }
    if (now.size === 0 && (first || removed.length > 0)) stream.call.write({ no_endpoints: { exists: true } });
    stream.sent.clear();
    for (const [key, e] of now) stream.sent.set(key, e);
  }
}
