// io.linkerd.proxy.inbound.InboundServerPolicies for the proxies: GetPort answers a port's policy once,
// WatchPort answers it and again whenever it changes — a Server or ServerAuthorization added, edited or
// removed, or the pod's labels changing which Server selects it. The resources come from the discovery
// backend (Kubernetes CRDs or the local file); the translation is port-policy.ts.
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_POLICIES, type DefaultPolicy } from '../../api/inbound-policy.ts';
import type { Logger } from '../../log/logger.ts';
import type { DiscoveryBackend, PodInfo } from '../discovery/types.ts';
import { portPolicy, serverMessage, type PolicyDefaults, type PolicyPod } from './port-policy.ts';
import { NO_POLICY_RESOURCES, type PolicyResources } from './resources.ts';

interface PortSpec {
  readonly workload?: string;
  readonly port?: number;
}

interface PortWatch {
  readonly namespace: string;
  readonly pod: string;
  readonly port: number;
  last: string;
  readonly send: (message: object) => void;
}

/** `{"ns":…,"pod":…}` and a port 1–65535, or the reason they are not. */
function parseSpec(spec: PortSpec): { namespace: string; pod: string; port: number } | string {
  const port = spec.port ?? 0;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${port} is not 1–65535`;
  let workload: unknown;
  try {
    workload = JSON.parse(spec.workload ?? '');
  } catch {
    return `workload ${JSON.stringify(spec.workload ?? '')} is not JSON such as {"ns":"default","pod":"web-0"}`;
  }
  const { ns, pod } = (workload ?? {}) as { ns?: unknown; pod?: unknown };
  if (typeof ns !== 'string' || ns === '' || typeof pod !== 'string' || pod === '') return 'workload needs "ns" and "pod"';
  return { namespace: ns, pod, port };
}

function isDefaultPolicy(value: string | undefined): value is DefaultPolicy {
  return value !== undefined && (DEFAULT_POLICIES as readonly string[]).includes(value);
}

/** What policy needs of a pod; a pod the backend does not know has no labels and the cluster defaults. */
export function policyPod(namespace: string, name: string, info: PodInfo | undefined): PolicyPod {
  const ports = new Set<number>();
  for (const part of (info?.inboundPolicy?.requireIdentityPorts ?? '').split(',')) {
    const [low, high] = part.trim().split('-').map(Number) as [number, number | undefined];
    if (!Number.isInteger(low) || low < 1) continue;
    for (let p = low; p <= Math.min(high ?? low, 65535); p++) ports.add(p);
  }
  const own = info?.inboundPolicy?.defaultPolicy;
  return {
    namespace,
    name,
    labels: info?.labels ?? {},
    containerPorts: info?.containerPorts ?? {},
    defaultPolicy: isDefaultPolicy(own) ? own : undefined,
    requireIdentityPorts: ports,
  };
}

export class InboundPolicyService {
  private readonly discovery: DiscoveryBackend;
  private readonly defaults: PolicyDefaults;
  private readonly log: Logger;
  private resources: PolicyResources = NO_POLICY_RESOURCES;
  private readonly watches = new Set<PortWatch>();
  private readonly stop: () => void;

  constructor(discovery: DiscoveryBackend, defaults: PolicyDefaults, log: Logger) {
    this.discovery = discovery;
    this.defaults = defaults;
    this.log = log;
    this.stop =
      discovery.watchPolicy?.((resources) => {
        this.resources = resources;
        log.debug('inbound policy resources', { servers: resources.servers.length, authorizations: resources.authorizations.length });
        for (const watch of this.watches) this.deliver(watch);
      }) ?? (() => {});
  }

  close(): void {
    this.stop();
    this.watches.clear();
  }

  /** The message for one port of one pod, as it stands now. */
  answer(namespace: string, pod: string, port: number): object {
    const info = this.discovery.pods().find((p) => p.namespace === namespace && p.name === pod);
    return serverMessage(portPolicy(this.resources, policyPod(namespace, pod, info), port, this.defaults));
  }

  implementation(): grpc.UntypedServiceImplementation {
    return {
      GetPort: (call: grpc.ServerUnaryCall<PortSpec, object>, callback: grpc.sendUnaryData<object>) => {
        const spec = parseSpec(call.request);
        if (typeof spec === 'string') return callback({ code: grpc.status.INVALID_ARGUMENT, details: spec });
        callback(null, this.answer(spec.namespace, spec.pod, spec.port));
      },
      WatchPort: (call: grpc.ServerWritableStream<PortSpec, object>) => {
        const spec = parseSpec(call.request);
        if (typeof spec === 'string') {
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: spec });
          return;
        }
        const watch: PortWatch = { namespace: spec.namespace, pod: spec.pod, port: spec.port, last: '', send: (message) => call.write(message) };
        this.watches.add(watch);
        const forget = (): void => {
          this.watches.delete(watch);
        };
        call.on('cancelled', forget);
        call.on('close', forget);
        call.on('error', forget);
        this.deliver(watch);
      },
    };
  }

  private deliver(watch: PortWatch): void {
    const message = this.answer(watch.namespace, watch.pod, watch.port);
    const text = JSON.stringify(message);
    if (text === watch.last) return;
    watch.last = text;
    this.log.debug('inbound policy', { namespace: watch.namespace, pod: watch.pod, port: watch.port });
    watch.send(message);
  }
}
