// Pure pieces of the mesh-path targets (sluice-mesh, sluice-mesh-2): the Service the controller
// serves from its discovery file, the authority clients send so that the proxy resolves it through
// Destination as in a pod, and reading the proxy's /metrics to prove it did.
import { isIP } from 'node:net';

export const MESH_NAMESPACE = 'perf';
export const MESH_SERVICE = 'backend';
/** The Service port clients address; the endpoint's own port is whatever the benchmark listens on. */
export const MESH_SERVICE_PORT = 80;
/** What clients put in Host / :authority: a fully qualified Service name, as applications in a pod do. */
export const MESH_AUTHORITY = `${MESH_SERVICE}.${MESH_NAMESPACE}.svc.cluster.local:${MESH_SERVICE_PORT}`;
/** The proxy's Destination lookup context, as the injector fills it in from the downward API. */
export const MESH_CONTEXT = JSON.stringify({ ns: MESH_NAMESPACE, nodeName: 'perf-node', pod: 'perf-client' });

export interface MeshEndpoint {
  /** Where the endpoint listens (loopback here): the backend itself, or proxy B's inbound listener. */
  ip: string;
  port: number;
  /** True when a Sluice proxy fronts the endpoint (proxy B): the pod is meshed. */
  meshed: boolean;
}

/**
 * The discovery file (src/control/discovery/file/README.md): one Service `backend.perf`, port 80, with
 * one endpoint, a pod of a Deployment so that the proxy's metrics carry `dst_*` labels for it.
 */
export function meshDiscoveryYaml(ep: MeshEndpoint): string {
  if (!Number.isInteger(ep.port) || ep.port < 1 || ep.port > 65535) throw new Error(`endpoint port must be 1–65535, got ${ep.port}`);
  if (isIP(ep.ip) === 0) throw new Error(`endpoint ip must be an IP address, got '${ep.ip}'`);
  return [
    'namespaces:',
    `  ${MESH_NAMESPACE}:`,
    '    services:',
    `      ${MESH_SERVICE}:`,
    `        ports: [${MESH_SERVICE_PORT}]`,
    '        endpoints:',
    `          - pod: ${MESH_SERVICE}-0`,
    `            ip: "${ep.ip}"`,
    `            port: ${ep.port}`,
    `            owner: deployment/${MESH_SERVICE}`,
    `            serviceAccount: ${MESH_SERVICE}`,
    `            meshed: ${ep.meshed}`,
    '',
  ].join('\n');
}

/** Labels of one Prometheus sample line (`name{a="b",…} value`); escapes (\", \\, \n) are undone. */
export function sampleLabels(inside: string): Map<string, string> {
  const labels = new Map<string, string>();
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(inside); m !== null; m = re.exec(inside)) {
    labels.set(m[1] as string, (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
  }
  return labels;
}

/** Sum of the samples of `metric` in a /metrics text whose labels include all of `want`. */
export function sumSamples(text: string, metric: string, want: Readonly<Record<string, string>>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const close = line.lastIndexOf('}');
    const labels = line.startsWith(`${metric}{`) && close > 0 ? sampleLabels(line.slice(metric.length + 1, close)) : new Map<string, string>();
    if (!Object.entries(want).every(([k, v]) => labels.get(k) === v)) continue;
    const value = Number(line.slice(close > 0 ? close + 1 : metric.length).trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

/**
 * Null when proxy A's /metrics shows outbound requests sent to the endpoint Destination gave it
 * (`endpoint`, `ip:port`; the `dst_*` labels exist only for destinations the controller resolved), else why not.
 */
export function meshPathProblem(metrics: string, endpoint: string): string | null {
  const resolved = sumSamples(metrics, 'request_total', { direction: 'outbound', dst_namespace: MESH_NAMESPACE, dst_service: MESH_SERVICE, target_addr: endpoint });
  if (resolved > 0) return null;
  const outbound = sumSamples(metrics, 'request_total', { direction: 'outbound' });
  return outbound > 0
    ? `the proxy sent ${outbound} outbound requests but none to ${endpoint} as an endpoint Destination resolved for ${MESH_AUTHORITY} (no request_total with dst_service="${MESH_SERVICE}", target_addr="${endpoint}"): it did not take the mesh path`
    : 'the proxy counted no outbound requests at all';
}

/** Null when proxy B's /metrics shows inbound requests, else why not. */
export function inboundPathProblem(metrics: string): string | null {
  return sumSamples(metrics, 'request_total', { direction: 'inbound' }) > 0 ? null : 'the inbound proxy counted no inbound requests: traffic did not go through it';
}
