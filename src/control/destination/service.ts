// The `io.linkerd.proxy.destination.Destination` service: Get (endpoints of a Service port, as diffs)
// and GetProfile (the ServiceProfile of a name, or the pod behind an `IP:port`), both streaming until
// the client cancels. Each stream holds discovery watches; they are released when it ends.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../log/logger.ts';
import type { DiscoveryBackend, PodInfo, ProfileSpec, ServiceName, ServiceState } from '../discovery/types.ts';
import { canonicalIp } from './addr.ts';
import { hasNamespacedProfiles, hasPodChanges, hasServiceIps } from './backend-extensions.ts';
import { EndpointDiffer, podToEndpoint, toWeightedAddr } from './endpoint-translate.ts';
import { AuthorityError, normalizeDomain, parseAuthority, parseContextToken, type Authority } from './names.ts';
import { defaultProfile, translateProfile, type DestinationProfileMessage } from './profile-translate.ts';

export interface DestinationServiceOptions {
  readonly clusterDomain: string;
  readonly controlPlaneNamespace: string;
  readonly trustDomain: string;
  readonly log: Logger;
  /** How often `IP:port` profile streams re-read the pod list when the backend cannot signal changes. */
  readonly podPollMs?: number;
}

interface GetDestination {
  scheme?: string;
  path?: string;
  context_token?: string;
}

type Call = grpc.ServerWritableStream<GetDestination, unknown>;

interface StatusError {
  code: grpc.status;
  details: string;
}

/** One open Get/GetProfile call and the watches it holds. */
class ActiveStream {
  closed = false;
  private readonly stops: Array<() => void> = [];
  private readonly call: Call;
  private readonly onRelease: (stream: ActiveStream) => void;

  constructor(call: Call, onRelease: (stream: ActiveStream) => void) {
    this.call = call;
    this.onRelease = onRelease;
    call.on('cancelled', () => this.release());
    call.on('close', () => this.release());
  }

  /** Keeps a stop function; runs it at once when the stream has already ended. */
  hold(stop: () => void): void {
    if (this.closed) stop();
    else this.stops.push(stop);
  }

  write(message: unknown): void {
    if (!this.closed) this.call.write(message);
  }

  /** Ends the call: OK, or with a status. */
  finish(error?: StatusError): void {
    if (this.closed) return;
    this.release();
    if (error === undefined) this.call.end();
    else this.call.emit('error', error);
  }

  private release(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.stops.splice(0)) {
      try {
        stop();
      } catch {
        // A backend's stop function must not keep the others from running.
      }
    }
    this.onRelease(this);
  }
}

/**
 * Subscribes, delivers only the first value, then unsubscribes (also when the first value arrives
 * synchronously, before `subscribe` has returned its stop function).
 */
function first<T>(subscribe: (onValue: (value: T) => void) => () => void, onValue: (value: T) => void): () => void {
  let done = false;
  let stop: (() => void) | undefined;
  stop = subscribe((value) => {
    if (done) return;
    done = true;
    onValue(value);
    stop?.();
  });
  if (done) stop();
  return () => {
    if (done) return;
    done = true;
    stop?.();
  };
}

const PENDING: unique symbol = Symbol('pending');

/** Prefers a pod that is running; terminated pods (Succeeded, Failed) never match. */
function podForIp(pods: readonly PodInfo[], ip: string): PodInfo | undefined {
  let candidate: PodInfo | undefined;
  for (const pod of pods) {
    if (pod.ip === undefined || pod.phase === 'Succeeded' || pod.phase === 'Failed') continue;
    let podIp: string;
    try {
      podIp = canonicalIp(pod.ip);
    } catch {
      continue;
    }
    if (podIp !== ip) continue;
    if (pod.phase === 'Running') return pod;
    candidate ??= pod;
  }
  return candidate;
}

export class DestinationService {
  private readonly discovery: DiscoveryBackend;
  private readonly options: DestinationServiceOptions;
  private readonly log: Logger;
  private readonly streams = new Set<ActiveStream>();

  constructor(discovery: DiscoveryBackend, options: DestinationServiceOptions) {
    this.discovery = discovery;
    this.options = options;
    this.log = options.log;
  }

  /** Open Get/GetProfile streams (each holds its discovery watches). */
  get activeStreams(): number {
    return this.streams.size;
  }

  implementation(): grpc.UntypedServiceImplementation {
    return {
      Get: (call: Call) => this.get(call),
      GetProfile: (call: Call) => this.getProfile(call),
    };
  }

  /** Ends every open stream with UNAVAILABLE (proxies reconnect) and releases its watches. */
  close(): void {
    for (const stream of [...this.streams]) {
      stream.finish({ code: grpc.status.UNAVAILABLE, details: 'the controller is shutting down' });
    }
  }

  private open(call: Call): ActiveStream {
    const stream = new ActiveStream(call, (s) => this.streams.delete(s));
    this.streams.add(stream);
    return stream;
  }

  private parse(call: Call, method: string): Authority | undefined {
    const path = String(call.request?.path ?? '');
    try {
      return parseAuthority(path, this.options.clusterDomain);
    } catch (error) {
      if (!(error instanceof AuthorityError)) throw error;
      this.log.debug(`${method}: invalid authority`, { path, error: error.message });
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: error.message } satisfies StatusError);
      return undefined;
    }
  }

  private get(call: Call): void {
    const authority = this.parse(call, 'Get');
    if (authority === undefined) return;
    const path = String(call.request.path);
    if (authority.kind === 'ip') {
      call.emit('error', {
        code: grpc.status.INVALID_ARGUMENT,
        details: `IP queries are not supported by Get (use GetProfile): ${path}`,
      } satisfies StatusError);
      return;
    }
    const name: ServiceName = { namespace: authority.namespace, service: authority.service };
    const stream = this.open(call);
    const differ = new EndpointDiffer();
    this.log.debug('Get', { path, token: call.request.context_token });
    const onState = (state: ServiceState): void => {
      if (stream.closed) return;
      let view = state;
      if (authority.instance !== undefined && state.kind === 'endpoints') {
        view = { ...state, endpoints: state.endpoints.filter((e) => e.labels['pod'] === authority.instance) };
      }
      const updates = differ.next(view);
      if (updates === 'not-found') {
        stream.finish({ code: grpc.status.NOT_FOUND, details: `service ${name.namespace}/${name.service} not found` });
        return;
      }
      for (const update of updates) stream.write(update);
    };
    stream.hold(this.discovery.watchService(name, authority.port, onState));
  }

  private getProfile(call: Call): void {
    const authority = this.parse(call, 'GetProfile');
    if (authority === undefined) return;
    const stream = this.open(call);
    this.log.debug('GetProfile', { path: call.request.path, token: call.request.context_token });
    if (authority.kind === 'ip') this.endpointProfile(stream, authority, call.request.context_token);
    else this.serviceProfile(stream, authority, call.request.context_token);
  }

  private send(stream: ActiveStream, last: { json: string }, profile: DestinationProfileMessage): void {
    const json = JSON.stringify(profile);
    if (json === last.json) return;
    last.json = json;
    stream.write(profile);
  }

  private serviceProfile(
    stream: ActiveStream,
    authority: Extract<Authority, { kind: 'service' }>,
    contextToken: string | undefined,
  ): void {
    const name: ServiceName = { namespace: authority.namespace, service: authority.service };
    const last = { json: '' };
    let stopProfiles: (() => void) | undefined;
    // The Service must exist (NotFound otherwise, as for Get); only its first state matters.
    stream.hold(
      first(
        (onValue: (state: ServiceState) => void) => this.discovery.watchService(name, authority.port, onValue),
        (state) => {
          if (state.kind === 'not-found') {
            stream.finish({ code: grpc.status.NOT_FOUND, details: `service ${name.namespace}/${name.service} not found` });
            return;
          }
          stopProfiles = this.watchServiceProfile(name, authority.port, contextToken, (profile) =>
            this.send(stream, last, profile),
          );
          stream.hold(() => stopProfiles?.());
        },
      ),
    );
  }

  /**
   * Follows the ServiceProfile of `name` (preferring one in the client's namespace, from the context
   * token, when the backend can look there) and calls `send` with each translation. Sends once both
   * lookups have answered. Returns a function that stops.
   */
  private watchServiceProfile(
    name: ServiceName,
    port: number,
    contextToken: string | undefined,
    send: (profile: DestinationProfileMessage) => void,
  ): () => void {
    const fqdn = `${name.service}.${name.namespace}.svc.${normalizeDomain(this.options.clusterDomain)}`;
    const options = { fullyQualifiedName: fqdn, port };
    const clientNs = parseContextToken(contextToken).ns;
    const backend = this.discovery;
    const useClientNs = clientNs !== undefined && clientNs !== name.namespace && hasNamespacedProfiles(backend);
    let serviceProfile: ProfileSpec | undefined | typeof PENDING = PENDING;
    let clientProfile: ProfileSpec | undefined | typeof PENDING = useClientNs ? PENDING : undefined;
    let lastWarnings = '';
    let stopped = false;
    const publish = (): void => {
      if (stopped || serviceProfile === PENDING || clientProfile === PENDING) return;
      const { profile, warnings } = translateProfile(clientProfile ?? serviceProfile, options);
      const warningText = warnings.join('; ');
      if (warningText !== '' && warningText !== lastWarnings) {
        this.log.warn('ServiceProfile partly ignored', { profile: fqdn, problems: warningText });
      }
      lastWarnings = warningText;
      send(profile);
    };
    const stops = [
      backend.watchProfile(name, (profile) => {
        serviceProfile = profile;
        publish();
      }),
    ];
    if (useClientNs) {
      stops.push(
        backend.watchProfileIn(clientNs, name, (profile) => {
          clientProfile = profile;
          publish();
        }),
      );
    }
    return () => {
      stopped = true;
      for (const stop of stops) stop();
    };
  }

  /**
   * `IP:port`: a Service's cluster IP gets that Service's profile (with `fully_qualified_name`, so the
   * proxy can Get the name); a pod IP gets the default profile with `endpoint` set to the pod; any
   * other IP the default profile. Followed as pods and cluster IPs change.
   */
  private endpointProfile(
    stream: ActiveStream,
    authority: Extract<Authority, { kind: 'ip' }>,
    contextToken: string | undefined,
  ): void {
    const ip = canonicalIp(authority.ip);
    const backend = this.discovery;
    const last = { json: '' };
    let current: { key: string; stop: () => void } | undefined;
    const evaluate = (): void => {
      if (stream.closed) return;
      const service = hasServiceIps(backend) ? backend.serviceForIp(ip) : undefined;
      const key = service === undefined ? 'pod' : `service:${service.namespace}/${service.service}`;
      if (current?.key !== key) {
        current?.stop();
        current = { key, stop: () => {} };
        if (service !== undefined) {
          current.stop = this.watchServiceProfile(service, authority.port, contextToken, (profile) =>
            this.send(stream, last, profile),
          );
          return;
        }
      }
      if (service !== undefined) return;
      const profile: { -readonly [K in keyof DestinationProfileMessage]: DestinationProfileMessage[K] } = defaultProfile({
        fullyQualifiedName: '',
        port: authority.port,
      });
      const pod = podForIp(backend.pods(), ip);
      if (pod !== undefined) profile.endpoint = toWeightedAddr(podToEndpoint(pod, ip, authority.port, this.options));
      this.send(stream, last, profile);
    };
    stream.hold(() => current?.stop());
    evaluate();
    if (hasPodChanges(backend)) {
      stream.hold(backend.watchPods(evaluate));
    } else {
      const timer = setInterval(evaluate, this.options.podPollMs ?? 5000);
      timer.unref();
      stream.hold(() => clearInterval(timer));
    }
  }
}
