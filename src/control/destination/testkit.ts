// Test support: a Destination server on 127.0.0.1:0 backed by any DiscoveryBackend, a real grpc-js
// client, a queue-backed reader for server streams, and a small in-memory backend for edge cases.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '../../api/proto.ts';
import { Logger } from '../../log/logger.ts';
import type { DiscoveryBackend, PodInfo, ProfileSpec, ServiceName, ServiceState } from '../discovery/types.ts';
import { destinationDefinition, DESTINATION_SERVICE } from './component.ts';
import { DestinationService, type DestinationServiceOptions } from './service.ts';

export const quietLog = (): Logger => new Logger('error', 'plain', 'test', () => {});

export interface Harness {
  readonly service: DestinationService;
  readonly client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  readonly address: string;
  get(path: string, contextToken?: string): StreamReader;
  getProfile(path: string, contextToken?: string): StreamReader;
  close(): Promise<void>;
}

/** Client-side decoding keeps 64-bit values as decimal strings, so IPv6 halves stay exact. */
function clientConstructor(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync('destination.proto', { ...LOADER_OPTIONS, longs: String });
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of DESTINATION_SERVICE.split('.')) node = (node as Record<string, unknown>)[part];
  return node as grpc.ServiceClientConstructor;
}

/** A grpc-js Destination client (64-bit values decoded as strings). */
export function destinationClient(address: string): Harness['client'] {
  const Client = clientConstructor();
  return new Client(address, grpc.credentials.createInsecure()) as Harness['client'];
}

export async function startDestination(
  backend: DiscoveryBackend,
  options: Partial<DestinationServiceOptions> = {},
): Promise<Harness> {
  const service = new DestinationService(backend, {
    clusterDomain: 'cluster.local',
    controlPlaneNamespace: 'sluice',
    trustDomain: 'cluster.local',
    log: quietLog(),
    ...options,
  });
  const server = new grpc.Server();
  server.addService(destinationDefinition(), service.implementation());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) =>
      error === null ? resolve(p) : reject(error),
    ),
  );
  const address = `127.0.0.1:${port}`;
  const client = destinationClient(address);
  const open = (method: string, path: string, token: string | undefined): StreamReader => {
    const call = client[method]?.({ path, context_token: token ?? '' }) as grpc.ClientReadableStream<unknown>;
    return new StreamReader(call);
  };
  return {
    service,
    client,
    address,
    get: (path, token) => open('Get', path, token),
    getProfile: (path, token) => open('GetProfile', path, token),
    close: async () => {
      client.close();
      service.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

/** Reads a server stream message by message; a generous safety timeout only guards against hangs. */
export class StreamReader {
  readonly call: grpc.ClientReadableStream<unknown>;
  private readonly queue: unknown[] = [];
  private readonly waiters: Array<{ resolve: (m: unknown) => void; reject: (e: Error) => void }> = [];
  private failure: grpc.ServiceError | undefined;
  private ended = false;
  readonly status: Promise<grpc.StatusObject>;

  constructor(call: grpc.ClientReadableStream<unknown>) {
    this.call = call;
    call.on('data', (message: unknown) => {
      const waiter = this.waiters.shift();
      if (waiter !== undefined) waiter.resolve(message);
      else this.queue.push(message);
    });
    call.on('error', (error: grpc.ServiceError) => {
      this.failure = error;
      for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    });
    call.on('end', () => {
      this.ended = true;
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error('stream ended'));
    });
    this.status = new Promise((resolve) => call.on('status', resolve));
  }

  next<T = Record<string, unknown>>(timeoutMs = 20_000): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift() as T);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new Error('stream ended'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** Messages received but not read yet. */
  get pending(): number {
    return this.queue.length;
  }

  /** The status the stream ended with (waits for it). */
  async error(): Promise<grpc.ServiceError> {
    const status = await this.status;
    if (status.code === grpc.status.OK) throw new Error('the stream ended OK');
    return this.failure ?? Object.assign(new Error(status.details), status);
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** An in-memory backend: set states and profiles by hand; counts live watches. */
export class FakeBackend implements DiscoveryBackend {
  private readonly states = new Map<string, ServiceState>();
  private readonly profiles = new Map<string, ProfileSpec | undefined>();
  private readonly serviceWatchers = new Set<{ key: string; port: number; onUpdate: (s: ServiceState) => void }>();
  private readonly profileWatchers = new Set<{ key: string; onUpdate: (p: ProfileSpec | undefined) => void }>();
  podList: PodInfo[] = [];
  /** When false, watchService delivers nothing until `setService` (a backend still syncing). */
  deliverImmediately = true;
  /** Deliver the first state synchronously from inside watchService (allowed by the seam). */
  synchronous = false;

  get watchers(): number {
    return this.serviceWatchers.size + this.profileWatchers.size;
  }

  setService(name: ServiceName, state: ServiceState): void {
    const key = `${name.namespace}/${name.service}`;
    this.states.set(key, state);
    for (const w of [...this.serviceWatchers]) if (w.key === key) w.onUpdate(state);
  }

  setProfile(name: ServiceName, profile: ProfileSpec | undefined): void {
    const key = `${name.namespace}/${name.service}`;
    this.profiles.set(key, profile);
    for (const w of [...this.profileWatchers]) if (w.key === key) w.onUpdate(profile);
  }

  watchService(name: ServiceName, port: number, onUpdate: (state: ServiceState) => void): () => void {
    const watcher = { key: `${name.namespace}/${name.service}`, port, onUpdate };
    this.serviceWatchers.add(watcher);
    const deliver = (): void => {
      if (this.serviceWatchers.has(watcher)) onUpdate(this.states.get(watcher.key) ?? { kind: 'not-found' });
    };
    if (this.deliverImmediately) {
      if (this.synchronous) deliver();
      else queueMicrotask(deliver);
    }
    return () => this.serviceWatchers.delete(watcher);
  }

  watchProfile(name: ServiceName, onUpdate: (profile: ProfileSpec | undefined) => void): () => void {
    const watcher = { key: `${name.namespace}/${name.service}`, onUpdate };
    this.profileWatchers.add(watcher);
    const deliver = (): void => {
      if (this.profileWatchers.has(watcher)) onUpdate(this.profiles.get(watcher.key));
    };
    if (this.synchronous) deliver();
    else queueMicrotask(deliver);
    return () => this.profileWatchers.delete(watcher);
  }

  pods(): readonly PodInfo[] {
    return this.podList;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {}
}

/** Polls `condition` (no fixed sleeps in assertions); fails after a generous limit. */
export async function eventually(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
