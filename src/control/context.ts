// What every controller component receives: configuration, logging, the discovery backend, the gRPC
// server that proxies talk to, and the registry of public API methods (served as gRPC and HTTP/JSON).
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../log/logger.ts';
import type { FamilySnapshot } from '../telemetry/metrics.ts';
import type { ControllerConfig } from './config.ts';
import type { DiscoveryBackend } from './discovery/types.ts';

export type UnaryHandler = (request: unknown) => Promise<unknown>;
/** Emits messages until the returned promise settles or `signal` aborts (the client went away). */
export type StreamHandler = (request: unknown, emit: (message: unknown) => void, signal: AbortSignal) => Promise<void>;

/** The public API's methods by name (`StatSummary`, `ListPods`, `Tap`, `Version`, `SelfCheck` …). */
export class PublicApiRegistry {
  readonly unary = new Map<string, UnaryHandler>();
  readonly streams = new Map<string, StreamHandler>();

  addUnary(method: string, handler: UnaryHandler): void {
    this.unary.set(method, handler);
  }

  addStream(method: string, handler: StreamHandler): void {
    this.streams.set(method, handler);
  }
}

export interface ControllerContext {
  readonly config: ControllerConfig;
  readonly log: Logger;
  readonly discovery: DiscoveryBackend;
  /** Served on `config.proxyApiAddr` (8086): Destination, Telemetry. Bound after all components register. */
  readonly proxyApi: grpc.Server;
  readonly publicApi: PublicApiRegistry;
  /** Addresses components have bound, by name; printed in the `controller ready` log line. */
  readonly addresses: Record<string, string>;
  /** Adds metric families to the admin server's `/metrics`; `source` is read at every scrape. */
  addMetrics(source: () => readonly FamilySnapshot[]): void;
  /** Runs `close` on shutdown, in reverse order of registration. */
  onClose(close: () => void | Promise<void>): void;
}

/** A piece of the controller: registers its services and handlers, starts what it needs. */
export type Component = (ctx: ControllerContext) => void | Promise<void>;
