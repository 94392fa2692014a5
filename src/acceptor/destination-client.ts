// The proxy's Destination client (main thread only; workers never talk to the control plane). For each
// destination some worker routes to, it keeps Destination.Get (endpoints) and Destination.GetProfile
// (routes, retry budget) open and folds their messages into one state, reported on every change:
//
//   - a name (`web.ns.svc.cluster.local:80`): Get and GetProfile on the name;
//   - an IP (`10.96.0.10:80`, a cluster IP): GetProfile on the address; its `fully_qualified_name`
//     names the service to Get, or its `endpoint` is the one endpoint (a pod IP).
//
// NotFound / InvalidArgument make it a `fallback` (not in the mesh: route as without a control plane).
// When a stream fails after answering, the last state stays in force while it reconnects; when it fails
// before ever answering, the destination is `fallback: unavailable` until it does answer.
// The calls go over the proxy's own gRPC client (grpc/), on the channel it shares with telemetry.
import net from 'node:net';
import type { HostPort } from '../config/parse.ts';
import type { Logger } from '../log/logger.ts';
import type { BackoffConfig } from '../core/backoff.ts';
import type { DiscoveryState, EndpointData, ProfileData } from '../workers/discovery/state.ts';
import { ControlStream, type StreamHandlers } from './control-stream.ts';
import { EndpointTable, decodeEndpoint, decodeProfile, type ProfileMsg, type UpdateMsg } from './destination-decode.ts';
import { acquireControlChannel, type ControlChannel } from './grpc/control-channels.ts';
import { DestinationGet, DestinationGetProfile, type GetDestinationMsg } from './grpc/control-methods.ts';
import type { CallObserver, ClientCallHandle, MethodDescriptor } from './grpc/channel.ts';

export interface DestinationClientOptions {
  readonly addr: HostPort;
  readonly contextToken: string;
  readonly initialTimeoutMs: number;
  readonly backoff: BackoffConfig;
  readonly random?: () => number;
}

/** How long endpoints wait for a profile that has not come yet before they are reported without it. */
const PROFILE_GRACE_MS = 1000;

type Phase = 'pending' | 'known' | 'rejected' | 'unavailable';

export class DestinationClient {
  private readonly control: ControlChannel;
  private readonly options: DestinationClientOptions;
  private readonly log: Logger;
  private readonly watches = new Set<Watch>();

  constructor(options: DestinationClientOptions, log: Logger) {
    this.options = options;
    this.log = log;
    this.control = acquireControlChannel(options.addr);
  }

  /** Starts watching `authority` (`host:port`); returns the function that stops. */
  watch(authority: string, listener: (state: DiscoveryState) => void): () => void {
    const watch = new Watch(this, authority, listener);
    this.watches.add(watch);
    watch.start();
    return () => {
      this.watches.delete(watch);
      watch.stop();
    };
  }

  /** Stops every watch (their calls are cancelled, not reported as lost) and releases the channel. */
  close(): void {
    for (const watch of this.watches) watch.stop();
    this.watches.clear();
    this.control.release();
  }

  /** @internal */
  stream<M>(method: 'Get' | 'GetProfile', path: string, handlers: StreamHandlers<M>): ControlStream<M> {
    const request: GetDestinationMsg = { scheme: 'k8s', path, context_token: this.options.contextToken };
    const descriptor = (method === 'Get' ? DestinationGet : DestinationGetProfile) as unknown as MethodDescriptor<GetDestinationMsg, M>;
    const open = (observer: CallObserver<M>): ClientCallHandle => this.control.channel.serverStream(descriptor, request, observer);
    return new ControlStream<M>(open, handlers, {
      initialTimeoutMs: this.options.initialTimeoutMs,
      backoff: this.options.backoff,
      ...(this.options.random !== undefined ? { random: this.options.random } : {}),
    });
  }

  /** @internal */
  logger(): Logger {
    return this.log;
  }
}

/** The two streams of one destination and the state they add up to. */
class Watch {
  private readonly client: DestinationClient;
  private readonly authority: string;
  private readonly listener: (state: DiscoveryState) => void;
  private readonly byAddress: boolean;
  private readonly port: number;
  private readonly profileStream: ControlStream<ProfileMsg>;
  private profilePhase: Phase = 'pending';
  private profile: ProfileData | undefined;
  /** For an IP destination whose profile names a pod rather than a service. */
  private profileEndpoint: EndpointData | undefined;
  private endpointStream: ControlStream<UpdateMsg> | undefined;
  private endpointPath: string | undefined;
  private endpointPhase: Phase = 'pending';
  private table = new EndpointTable();
  private graceTimer: NodeJS.Timeout | undefined;
  private graceOver = false;
  private last = '';
  private stopped = false;

  constructor(client: DestinationClient, authority: string, listener: (state: DiscoveryState) => void) {
    this.client = client;
    this.authority = authority;
    this.listener = listener;
    const colon = authority.lastIndexOf(':');
    const host = authority.slice(0, colon).replace(/^\[|\]$/g, '');
    this.port = Number(authority.slice(colon + 1));
    this.byAddress = net.isIP(host) !== 0;
    this.profileStream = client.stream<ProfileMsg>('GetProfile', authority, {
      message: (message) => this.onProfile(message),
      rejected: (code) => {
        this.debug('profile lookup rejected', { code });
        this.profilePhase = this.profilePhase === 'known' && !this.byAddress ? 'known' : 'rejected';
        if (!this.byAddress) this.profile = undefined;
        this.emit();
      },
      lost: (reason, answered) => this.onLost('GetProfile', reason, answered, () => {
        if (this.profilePhase === 'pending') this.profilePhase = 'unavailable';
      }),
    });
  }

  start(): void {
    this.profileStream.start();
    if (!this.byAddress) this.watchEndpoints(this.authority);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.graceTimer);
    this.profileStream.stop();
    this.endpointStream?.stop();
  }

  private watchEndpoints(path: string | undefined): void {
    if (path === this.endpointPath) return;
    this.endpointStream?.stop();
    this.endpointStream = undefined;
    this.endpointPath = path;
    this.endpointPhase = 'pending';
    this.table = new EndpointTable();
    if (path === undefined) return;
    const stream = this.client.stream<UpdateMsg>('Get', path, {
      message: (update, first) => {
        if (this.endpointStream !== stream) return;
        const outcome = this.table.apply(update, first);
        this.endpointPhase = outcome === 'absent' ? 'rejected' : 'known';
        if (this.endpointPhase === 'known') this.startGrace();
        this.emit();
      },
      rejected: (code) => {
        if (this.endpointStream !== stream) return;
        this.debug('endpoint lookup rejected', { code, path });
        this.endpointPhase = 'rejected';
        this.emit();
      },
      lost: (reason, answered) => {
        if (this.endpointStream !== stream) return;
        this.onLost('Get', reason, answered, () => {
          if (this.endpointPhase === 'pending') this.endpointPhase = 'unavailable';
        });
      },
    });
    this.endpointStream = stream;
    stream.start();
  }

  private onProfile(message: ProfileMsg): void {
    this.profilePhase = 'known';
    const profile = decodeProfile(message);
    this.profile = profile;
    if (this.byAddress) {
      const fqn = profile.fullyQualifiedName.replace(/\.$/, '');
      this.profileEndpoint = fqn === '' ? decodeEndpoint(message.endpoint, undefined) : undefined;
      this.watchEndpoints(fqn === '' ? undefined : `${fqn}:${this.port}`);
    }
    this.emit();
  }

  private onLost(method: string, reason: string, answered: boolean, mark: () => void): void {
    mark();
    const fields = { authority: this.authority, method, reason };
    // Once per outage is worth an info line; the retries after it are detail.
    if (answered) this.client.logger().info('destination stream lost; keeping the last state and reconnecting', fields);
    else this.debug('destination stream failed; reconnecting', fields);
    this.emit();
  }

  private startGrace(): void {
    if (this.graceTimer !== undefined || this.graceOver) return;
    this.graceTimer = setTimeout(() => {
      this.graceOver = true;
      this.emit();
    }, PROFILE_GRACE_MS);
    this.graceTimer.unref();
  }

  private compose(): DiscoveryState | undefined {
    if (this.byAddress) {
      if (this.profilePhase === 'rejected') return { kind: 'fallback', reason: 'not_found' };
      if (this.profilePhase === 'unavailable') return { kind: 'fallback', reason: 'unavailable' };
      if (this.profilePhase === 'pending') return undefined;
      if (this.endpointPath === undefined) {
        if (this.profileEndpoint === undefined) return { kind: 'fallback', reason: 'not_found' };
        return { kind: 'resolved', endpoints: [this.profileEndpoint], profile: this.profile };
      }
    }
    switch (this.endpointPhase) {
      case 'rejected':
        return { kind: 'fallback', reason: 'not_found' };
      case 'unavailable':
        return { kind: 'fallback', reason: 'unavailable' };
      case 'pending':
        return undefined;
      case 'known':
        // Wait briefly for the profile, so the first requests already see their routes.
        if (this.profilePhase === 'pending' && !this.graceOver) return undefined;
        return { kind: 'resolved', endpoints: this.table.list(), profile: this.profile };
    }
  }

  private emit(): void {
    if (this.stopped) return;
    const state = this.compose();
    if (state === undefined) return;
    const text = JSON.stringify(state);
    if (text === this.last) return;
    this.last = text;
    this.listener(state);
  }

  private debug(message: string, fields: Record<string, unknown>): void {
    this.client.logger().debug(message, { authority: this.authority, ...fields });
  }
}
