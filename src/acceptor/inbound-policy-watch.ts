// The proxy's side of the inbound policy API: one WatchPort stream per inbound port the proxy has seen
// a connection for (opened lazily, at most `maxWatchedPorts` of them; later ports keep the default
// policy), each answer decoded and published to every serving thread. The first connection to a port
// waits for the port's first answer, so that it is judged by the controller's policy rather than the
// default — for at most the control stream's initial timeout: a controller that does not answer leaves
// the port on its default policy (docs/authorization.md). A stream that is lost later keeps its last
// policy while it reconnects. Loaded only with a policy service configured.
import type { PortPolicy } from '../api/inbound-policy.ts';
import type { BackoffConfig } from '../core/backoff.ts';
import { formatHostPort, type HostPort } from '../config/parse.ts';
import type { Logger } from '../log/logger.ts';
import { ControlStream } from './control-stream.ts';
import { acquireControlChannel, type ControlChannel } from './grpc/control-channels.ts';
import { InboundWatchPort } from './grpc/control-methods.ts';
import { decodeServer, type ServerMsg } from './inbound-policy-decode.ts';

export interface InboundPolicyWatchOptions {
  readonly addr: HostPort;
  readonly workload: string;
  readonly maxWatchedPorts: number;
  readonly initialTimeoutMs: number;
  readonly backoff: BackoffConfig;
}

/** Where decoded policies go: every worker, or the main thread's own stacks; undefined = the default. */
export type PublishPolicy = (port: number, policy: PortPolicy | undefined) => void;

interface PortWatch {
  readonly stream: ControlStream<ServerMsg>;
  /** Resolved with the first answer, or when the first attempt failed; undefined once settled. */
  pending: Promise<void> | undefined;
  settle: () => void;
}

export class InboundPolicyWatcher {
  private readonly options: InboundPolicyWatchOptions;
  private readonly log: Logger;
  private readonly publish: PublishPolicy;
  private readonly control: ControlChannel;
  private readonly watches = new Map<number, PortWatch>();
  private warnedFull = false;

  constructor(options: InboundPolicyWatchOptions, log: Logger, publish: PublishPolicy) {
    this.options = options;
    this.log = log;
    this.publish = publish;
    this.control = acquireControlChannel(options.addr);
  }

  /**
   * Undefined when connections to `port` can be served now; else a promise that settles once the port's
   * policy is known or the controller failed to say in time. The first call for a port starts its watch.
   */
  ready(port: number): Promise<void> | undefined {
    const watch = this.watches.get(port) ?? this.watch(port);
    return watch?.pending;
  }

  close(): void {
    for (const watch of this.watches.values()) {
      watch.stream.stop();
      watch.settle();
    }
    this.watches.clear();
    this.control.release();
  }

  private watch(port: number): PortWatch | undefined {
    if (this.watches.size >= this.options.maxWatchedPorts) {
      if (!this.warnedFull) this.log.warn('inbound policy: too many ports watched; further ports keep the default policy', { port, max: this.options.maxWatchedPorts });
      this.warnedFull = true;
      return undefined;
    }
    const request = { workload: this.options.workload, port };
    let settle = (): void => {};
    const pending = new Promise<void>((resolve) => (settle = resolve));
    const stream = new ControlStream<ServerMsg>(
      (observer) => this.control.channel.serverStream(InboundWatchPort, request, observer),
      {
        message: (message) => {
          this.publish(port, decodeServer(message));
          this.settled(port);
        },
        rejected: (code, details) => {
          this.log.warn('inbound policy: the controller does not know this port; default policy applies', { port, code, details });
          this.publish(port, undefined);
          this.settled(port);
        },
        lost: (reason, answered) => {
          this.log.info('inbound policy stream lost; reconnecting', { port, reason, answered, addr: formatHostPort(this.options.addr) });
          this.settled(port);
        },
      },
      { initialTimeoutMs: this.options.initialTimeoutMs, backoff: this.options.backoff },
    );
    const watch: PortWatch = { stream, pending, settle };
    this.watches.set(port, watch);
    stream.start();
    return watch;
  }

  private settled(port: number): void {
    const watch = this.watches.get(port);
    if (watch === undefined || watch.pending === undefined) return;
    watch.pending = undefined;
    watch.settle();
  }
}
