// What injection adds to a pod: the proxy container, the sluice-init init container and the volumes
// they use, built from the values for that pod. Plain objects in the Kubernetes API's shape. Pure.
import { workersForCpuLimit } from './workers.ts';
import { identitySuffix } from '../api/identity-name.ts';
import { controllerIdentity, identityDomainOf, imageString, type RequestLimit, type Values } from './values.ts';

export const PROXY_CONTAINER = 'sluice-proxy';
export const INIT_CONTAINER = 'sluice-init';
export const IDENTITY_VOLUME = 'sluice-identity-end-entity';
export const TOKEN_VOLUME = 'sluice-identity-token';
export const XTABLES_LOCK_VOLUME = 'sluice-init-xtables-lock';
export const INJECTED_VOLUMES: readonly string[] = [IDENTITY_VOLUME, TOKEN_VOLUME, XTABLES_LOCK_VOLUME];

export const IDENTITY_DIR = '/var/run/sluice/identity/end-entity';
export const TOKEN_DIR = '/var/run/secrets/tokens';
export const TOKEN_FILE = 'sluice-identity-token';
export const TOKEN_AUDIENCE = 'identity.sluice.dev';
/** Linkerd's projected token lives a day; the kubelet refreshes it at 80 %. */
export const TOKEN_EXPIRATION_SECONDS = 86_400;
/** How long the app containers wait for the proxy before starting anyway (Linkerd: 2m). */
export const AWAIT_TIMEOUT = '2m';

export interface ProxyTarget {
  /** `deployment/web` etc.; undefined for a bare pod. */
  readonly workload: string | undefined;
}

function resources(cpu: RequestLimit, memory: RequestLimit): Record<string, Record<string, string>> | undefined {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (cpu.request !== '') requests.cpu = cpu.request;
  if (memory.request !== '') requests.memory = memory.request;
  if (cpu.limit !== '') limits.cpu = cpu.limit;
  if (memory.limit !== '') limits.memory = memory.limit;
  const out: Record<string, Record<string, string>> = {};
  if (Object.keys(limits).length > 0) out.limits = limits;
  if (Object.keys(requests).length > 0) out.requests = requests;
  return Object.keys(out).length > 0 ? out : undefined;
}

const fieldRef = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
const env = (name: string, value: string) => ({ name, value });

export function proxyContainer(values: Values, target: ProxyTarget, trustAnchorsPEM: string): Record<string, unknown> {
  const p = values.proxy;
  const cp = values.controlPlaneNamespace;
  const domain = values.clusterDomain;
  const controllerId = controllerIdentity(values);
  const suffix = identitySuffix(identityDomainOf(values));
  const admin = `http://127.0.0.1:${p.ports.admin}`;
  const container: Record<string, unknown> = {
    name: PROXY_CONTAINER,
    image: imageString(p.image),
    imagePullPolicy: 'IfNotPresent',
    env: [
      // Underscored variables are only inputs to the $(…) references below (Linkerd's convention).
      fieldRef('_pod_name', 'metadata.name'),
      fieldRef('_pod_ns', 'metadata.namespace'),
      fieldRef('_pod_nodeName', 'spec.nodeName'),
      fieldRef('_pod_sa', 'spec.serviceAccountName'),
      env('SLUICE_PROXY_LOG', p.logLevel),
      env('SLUICE_PROXY_LOG_FORMAT', p.logFormat),
      env('SLUICE_PROXY_WORKERS', String(workersForCpuLimit(p.resources.cpu.limit))),
      env('SLUICE_PROXY_INBOUND_LISTEN_ADDR', `0.0.0.0:${p.ports.inbound}`),
      env('SLUICE_PROXY_OUTBOUND_LISTEN_ADDR', `127.0.0.1:${p.ports.outbound}`),
      // All interfaces so the kubelet's probes and Prometheus reach /ready, /live and /metrics.
      env('SLUICE_PROXY_ADMIN_LISTEN_ADDR', `0.0.0.0:${p.ports.admin}`),
      env('SLUICE_PROXY_TAP_LISTEN_ADDR', `0.0.0.0:${p.ports.tap}`),
      env('SLUICE_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION', p.opaquePorts),
      env('SLUICE_PROXY_INBOUND_DEFAULT_POLICY', p.defaultInboundPolicy),
      ...(p.requireIdentityInboundPorts === '' ? [] : [env('SLUICE_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY', p.requireIdentityInboundPorts)]),
      env('SLUICE_PROXY_DESTINATION_SVC_ADDR', `sluice-destination.${cp}.svc.${domain}:8086`),
      env('SLUICE_PROXY_DESTINATION_SVC_NAME', controllerId),
      env('SLUICE_PROXY_DESTINATION_CONTEXT', '{"ns":"$(_pod_ns)","nodeName":"$(_pod_nodeName)","pod":"$(_pod_name)"}'),
      env('SLUICE_PROXY_DESTINATION_PROFILE_SUFFIXES', `svc.${domain}.`),
      // The controller serves the inbound policy API beside Destination (docs/authorization.md).
      env('SLUICE_PROXY_POLICY_SVC_ADDR', `sluice-destination.${cp}.svc.${domain}:8086`),
      env('SLUICE_PROXY_POLICY_WORKLOAD', '{"ns":"$(_pod_ns)","pod":"$(_pod_name)"}'),
      env('SLUICE_PROXY_POD_NAME', '$(_pod_name)'),
      env('SLUICE_PROXY_POD_NAMESPACE', '$(_pod_ns)'),
      ...(target.workload === undefined ? [] : [env('SLUICE_PROXY_WORKLOAD', target.workload)]),
      env('SLUICE_PROXY_TAP_SVC_NAME', controllerId),
      env('SLUICE_PROXY_IDENTITY_DIR', IDENTITY_DIR),
      env('SLUICE_PROXY_IDENTITY_TRUST_ANCHORS', trustAnchorsPEM),
      env('SLUICE_PROXY_IDENTITY_TOKEN_FILE', `${TOKEN_DIR}/${TOKEN_FILE}`),
      env('SLUICE_PROXY_IDENTITY_LOCAL_NAME', `$(_pod_sa).$(_pod_ns).${suffix}`),
      env('SLUICE_PROXY_IDENTITY_SVC_ADDR', `sluice-identity.${cp}.svc.${domain}:8080`),
      env('SLUICE_PROXY_IDENTITY_SVC_NAME', controllerId),
    ],
    ports: [
      { name: 'sluice-proxy', containerPort: p.ports.inbound, protocol: 'TCP' },
      { name: 'sluice-admin', containerPort: p.ports.admin, protocol: 'TCP' },
      { name: 'tap', containerPort: p.ports.tap, protocol: 'TCP' },
    ],
    livenessProbe: { httpGet: { path: '/live', port: p.ports.admin }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1 },
    readinessProbe: { httpGet: { path: '/ready', port: p.ports.admin }, initialDelaySeconds: 2, periodSeconds: 10, timeoutSeconds: 1 },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: p.uid,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [
      { name: IDENTITY_VOLUME, mountPath: IDENTITY_DIR },
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    ],
  };
  const res = resources(p.resources.cpu, p.resources.memory);
  if (res !== undefined) container.resources = res;
  if (p.await) {
    // The kubelet starts the next container only when this hook returns: the app starts after /ready.
    container.lifecycle = {
      postStart: { exec: { command: ['sluice-await', `--timeout=${AWAIT_TIMEOUT}`, `--url=${admin}/ready`] } },
    };
  }
  return container;
}

export function initContainer(values: Values): Record<string, unknown> {
  const p = values.proxy;
  const skipInbound = [String(p.ports.tap), String(p.ports.admin), ...splitList(values.proxyInit.skipInboundPorts)];
  const args = [
    '--incoming-proxy-port',
    String(p.ports.inbound),
    '--outgoing-proxy-port',
    String(p.ports.outbound),
    '--proxy-uid',
    String(p.uid),
    '--inbound-ports-to-ignore',
    skipInbound.join(','),
  ];
  const skipOutbound = splitList(values.proxyInit.skipOutboundPorts);
  if (skipOutbound.length > 0) args.push('--outbound-ports-to-ignore', skipOutbound.join(','));
  return {
    name: INIT_CONTAINER,
    image: imageString(values.proxyInit.image),
    imagePullPolicy: 'IfNotPresent',
    command: ['sluice-init'],
    args,
    // Root with exactly the two capabilities iptables needs, not privileged.
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: false,
      runAsUser: 0,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    // iptables takes its lock in /run; the root filesystem is read-only.
    volumeMounts: [{ name: XTABLES_LOCK_VOLUME, mountPath: '/run' }],
  };
}

export function injectedVolumes(): Record<string, unknown>[] {
  return [
    { name: IDENTITY_VOLUME, emptyDir: { medium: 'Memory' } },
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: TOKEN_EXPIRATION_SECONDS, path: TOKEN_FILE } }],
      },
    },
    { name: XTABLES_LOCK_VOLUME, emptyDir: {} },
  ];
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
