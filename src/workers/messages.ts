// The messages between the acceptor (main thread) and a worker thread. Plain data: they are cloned.
import type { HostPort } from '../config/parse.ts';
import type { LogLevel, ProxyConfig } from '../config/proxy-config.ts';
import type { Snapshot } from '../telemetry/metrics.ts';
import type { Direction } from '../telemetry/proxy-metrics.ts';

export interface WorkerData {
  readonly config: ProxyConfig;
  readonly index: number;
  /** Open client connections per worker; the acceptor adds on hand-off, the worker subtracts on close. */
  readonly openConnections: Int32Array;
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
  | { readonly type: 'log-level'; readonly level: LogLevel }
  | { readonly type: 'drain'; readonly graceMs: number };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'snapshot'; readonly id: number; readonly snapshot: Snapshot }
  | { readonly type: 'drained' };
