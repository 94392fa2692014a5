// What every controller component receives: configuration, logging, the discovery backend, the gRPC
// server that proxies talk to, and the registry of public API methods (served as gRPC and HTTP/JSON).
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../log/logger.ts';
import type { FamilySnapshot } from '../telemetry/metrics.ts';
import type { ControllerConfig } from './config.ts';
import type { DiscoveryBackend } from './discovery/types.ts';

export type UnaryHandler = (request: unknown) => Promise<unknown>;
/** What a public API caller sent to say who it is: the `authorization` header (`Bearer <token>`), if any. */
export interface CallerCredentials {
  readonly authorization: string | undefined;
}
/** Emits messages until the returned promise settles or `signal` aborts (the client went away). */
export type StreamHandler = (request: unknown, emit: (message: unknown) => void, signal: AbortSignal, caller?: CallerCredentials) => Promise<void>;

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

/** The controller's own certificate (its identity, issued by itself): what it presents to proxies' Tap servers. */
export interface ControllerCertificate {
  /** `sluice-controller.<cp-ns>.serviceaccount.identity.<cp-ns>.<trust-domain>`. */
  readonly name: string;
  /** Leaf first, then the issuer's chain (PEM). */
  readonly certChainPem: string;
  readonly keyPem: string;
  /** The anchors proxies' certificates must chain to (PEM). */
  readonly trustAnchorsPem: string;
}

/**
 * Whether the controller has an identity, and its current certificate: the identity component provides
 * it (once it runs with an issuer); components that call proxies (the tap relay) read it at each call,
 * so a renewal is used from the next connection on.
 */
export class ControllerIdentity {
  private source: (() => ControllerCertificate | undefined) | undefined;

  provide(source: () => ControllerCertificate | undefined): void {
    this.source = source;
  }

  /** Identity on: the controller must call proxies over mutual TLS (even before it holds a certificate). */
  get enabled(): boolean {
    return this.source !== undefined;
  }

  /** The current certificate; undefined when identity is off or no certificate was issued yet. */
  current(): ControllerCertificate | undefined {
    return this.source?.();
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
  /** The controller's identity, filled in by the identity component; absent in tests that run without one. */
  readonly identity?: ControllerIdentity;
  /** Runs `close` on shutdown, in reverse order of registration. */
  onClose(close: () => void | Promise<void>): void;
}

/** A piece of the controller: registers its services and handlers, starts what it needs. */
export type Component = (ctx: ControllerContext) => void | Promise<void>;
