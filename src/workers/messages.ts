// The messages between the acceptor (main thread) and a worker thread. Plain data: they are cloned.
import type { PortPolicy } from '../api/inbound-policy.ts';
import type { HostPort } from '../config/parse.ts';
import type { LogLevel, ProxyConfig } from '../config/proxy-config.ts';
import type { Snapshot } from '../telemetry/metrics.ts';
import type { TelemetryDelta } from '../telemetry/report-delta.ts';
import type { Direction } from '../telemetry/proxy-metrics.ts';
import type { DiscoveryState } from './discovery/state.ts';
import type { TapInstall, TapOut } from './tap/registry.ts';
import type { LocalIdentity } from './transport/local-identity.ts';

export interface WorkerData {
  readonly config: ProxyConfig;
  readonly index: number;
  /** Open client connections per worker; the acceptor adds on hand-off, the worker subtracts on close. */
  readonly openConnections: Int32Array;
  /**
   * Connection messages each worker has taken in (adopted, or refused and closed), in order: a worker
   * that dies leaves the descriptors of the ones it had not taken to the acceptor to close.
   */
  readonly adopted: Int32Array;
}

export type ToWorker =
  | {
      readonly type: 'connection';
      readonly fd: number;
      readonly direction: Direction;
      readonly originalDst: HostPort | undefined;
      readonly listen: HostPort;
    }
  | { readonly type: 'snapshot'; readonly id: number }
  // Telemetry reports: what this thread counted since the last collection (report-delta.ts).
  | { readonly type: 'telemetry'; readonly id: number }
  // Control-plane routing (mesh.ts): the latest state of a destination this worker asked about.
  | { readonly type: 'discovery'; readonly authority: string; readonly state: DiscoveryState }
  | { readonly type: 'log-level'; readonly level: LogLevel }
  // Identity (issue 8): the proxy's current certificate; replaces the previous one for new connections.
  | { readonly type: 'identity'; readonly identity: LocalIdentity }
  // Inbound authorization: a port's policy from the controller; undefined = back to the default policy.
  | { readonly type: 'inbound-policy'; readonly port: number; readonly policy: PortPolicy | undefined }
  | { readonly type: 'drain'; readonly graceMs: number }
  // Tap (tap.ts): install or remove one Observe call's tap on this thread.
  | { readonly type: 'tap-install'; readonly tap: TapInstall }
  | { readonly type: 'tap-remove'; readonly id: number };

export type FromWorker =
  | { readonly type: 'ready' }
  // Control-plane routing: start or stop receiving a destination's state (`host:port`).
  | { readonly type: 'resolve'; readonly authority: string }
  | { readonly type: 'release'; readonly authority: string }
  | { readonly type: 'snapshot'; readonly id: number; readonly snapshot: Snapshot }
  | { readonly type: 'telemetry'; readonly id: number; readonly delta: TelemetryDelta }
  | { readonly type: 'drained' }
  // Tap: the events of tapped requests, batched per turn of the worker's event loop.
  | { readonly type: 'tap-events'; readonly events: readonly TapOut[] };
