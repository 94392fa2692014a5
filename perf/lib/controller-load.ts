// Pure pieces of the controller benchmark (perf/controller.ts): the discovery file it rewrites, the
// telemetry reports it sends, the `controller ready` line it reads, and the summaries it computes.
import type { ReportRequest, RequestScope, ResponseScope } from '../../src/api/telemetry-messages.ts';
import { BUCKET_BOUNDS_TENTH_MS } from '../../src/acceptor/telemetry-accumulator.ts';
import { indexOfMicros } from '../../src/telemetry/exact-latency.ts';
import { encodeLatencyHdr } from '../../src/telemetry/hdr-codec.ts';

export const BENCH_NAMESPACE = 'bench';
export const BENCH_SERVICE = 'web';
/** Endpoint k (0-based) listens on this port + k: the port tells the endpoints apart in updates. */
export const FIRST_ENDPOINT_PORT = 9001;

/** The discovery YAML: one Service `web.bench` on port 80 with `endpoints` plain endpoints. */
export function discoveryYaml(endpoints: number): string {
  const lines = ['namespaces:', `  ${BENCH_NAMESPACE}:`, '    services:', `      ${BENCH_SERVICE}:`, '        ports: [80]', '        endpoints:'];
  for (let k = 0; k < endpoints; k++) lines.push(`          - 10.42.${Math.floor(k / 250)}.${(k % 250) + 1}:${FIRST_ENDPOINT_PORT + k}`);
  return `${lines.join('\n')}\n`;
}

/** The `host:port` of `proxy-api=` in the controller's `controller ready` log line, or null. */
export function readyProxyApi(stderr: string): string | null {
  for (const line of stderr.split('\n')) {
    if (!line.includes('controller ready')) continue;
    const m = /proxy-api=("?)([^\s"]+)\1/.exec(line);
    if (m?.[2] !== undefined) return m[2];
  }
  return null;
}

export interface Spread {
  count: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of a list of durations (ms). */
export function spread(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
  return { count: s.length, p50: at(50), p99: at(99), max: s[s.length - 1] ?? 0 };
}

const STATUSES = [200, 404, 503];

function hdr(latenciesUs: readonly number[]): Uint8Array {
  const counts = new Map<number, number>();
  for (const us of latenciesUs) counts.set(indexOfMicros(us), (counts.get(indexOfMicros(us)) ?? 0) + 1);
  return encodeLatencyHdr([...counts].sort((a, b) => a[0] - b[0]).flat());
}

/**
 * The request scopes of a busy proxy's report: `scopes` authorities/routes, each with a response scope
 * per status (200, 404, 503) carrying bucket counts, end-of-stream counts and an HDR histogram of ~50
 * distinct latencies. Built once and reused: only the header changes from report to report.
 */
export function benchRequestScopes(scopes = 20): RequestScope[] {
  const out: RequestScope[] = [];
  for (let i = 0; i < scopes; i++) {
    const responses: ResponseScope[] = STATUSES.map((status, j) => {
      const n = j === 0 ? 900 + i : 10 + j;
      const latencies = Array.from({ length: 50 }, (_, k) => 200 + ((k * 7919 + i * 31 + j * 17) % 20_000));
      const buckets = BUCKET_BOUNDS_TENTH_MS.map((_, b) => (b < 12 ? Math.max(0, Math.round(n / 12) - b) : 0));
      return {
        ctx: { http_status_code: status },
        response_latency_counts: buckets,
        ends: [{ ctx: { other: true, classification: status === 200 ? 'success' : 'failure' }, streams: n }],
        latency_hdr: hdr(latencies),
      };
    });
    out.push({
      ctx: {
        authority: `svc-${i % 5}.bench.svc.cluster.local:80`,
        dst_labels: { namespace: BENCH_NAMESPACE, service: `svc-${i % 5}`, deployment: `svc-${i % 5}`, pod: `svc-${i % 5}-7f9c-${i}` },
        route_scope: i >= 5,
        route_labels: i >= 5 ? { route: `GET /api/r${i}` } : {},
        tls: 'true',
        actual: false,
      },
      count: responses.reduce((s, r) => s + (r.ends?.[0]?.streams ?? 0), 0),
      responses,
    });
  }
  return out;
}

/** One report of proxy `client` (a pod of its own), with its next sequence number. */
export function benchReport(scopes: RequestScope[], client: number, sequence: number): ReportRequest {
  return {
    process: { scheduled_instance: `client-${client}-5d8f-abcde`, scheduled_namespace: BENCH_NAMESPACE, workload: `deployment/client-${client % 8}` },
    proxy: 'OUTBOUND',
    requests: scopes,
    histogram_bucket_bounds_tenth_ms: [...BUCKET_BOUNDS_TENTH_MS],
    instance_id: `bench-${client}`,
    sequence,
    interval_ms: 5000,
    report_interval_ms: 5000,
  };
}

/** The `host:port` of `<name>=` in the controller's `controller ready` log line (`public-api`, …), or null. */
export function readyAddress(stderr: string, name: string): string | null {
  for (const line of stderr.split('\n')) {
    if (!line.includes('controller ready')) continue;
    const m = new RegExp(`${name}=("?)([^\\s"]+)\\1`).exec(line);
    if (m?.[2] !== undefined) return m[2];
  }
  return null;
}

/**
 * The simulated mesh of the ingestion benchmark, sized like what one proxy reports (see
 * docs/performance.md): `deployments` deployments of `podsPer` pods spread over `namespaces`
 * namespaces. Every pod serves one service with a ServiceProfile of 3 routes and calls 2 other services
 * of 3 endpoints each, with the same routes. Per 5-second interval a proxy sends two reports:
 *   - inbound: 1 service scope + 3 route scopes, each answered 200 and 500 (8 latency histograms of
 *     ~25 and ~5 distinct values), 1 server transport;
 *   - outbound: 6 service scopes (2 services × 3 endpoint pods, Linkerd's per-endpoint series) + 6 route
 *     scopes (2 services × 3 routes), each 200 and 500 (24 histograms), 6 client transports.
 * That is 16 request scopes, 32 histograms and 7 transports per proxy per interval, and 23 store keys
 * per proxy.
 */
export interface MeshShape {
  readonly namespaces: number;
  readonly deployments: number;
  readonly podsPer: number;
}

export const MESH_2000: MeshShape = { namespaces: 20, deployments: 200, podsPer: 10 };
const MESH_ROUTES = ['GET /api/items', 'POST /api/items', 'GET /api/items/{id}'];

function meshResponses(seed: number, ok: number, failed: number): ResponseScope[] {
  const fast = Array.from({ length: ok }, (_, k) => 800 + ((k * 7919 + seed * 131) % 40_000));
  const slow = Array.from({ length: failed }, (_, k) => 20_000 + ((k * 104_729 + seed) % 200_000));
  const buckets = (values: number[]): number[] => BUCKET_BOUNDS_TENTH_MS.map((bound, b) => values.filter((us) => us <= bound * 100 && (b === 0 || us > (BUCKET_BOUNDS_TENTH_MS[b - 1] as number) * 100)).length);
  return [
    { ctx: { http_status_code: 200 }, response_latency_counts: buckets(fast), ends: [{ ctx: { other: true, classification: 'success' }, streams: ok }], latency_hdr: hdr(fast) },
    { ctx: { http_status_code: 500 }, response_latency_counts: buckets(slow), ends: [{ ctx: { other: true, classification: 'failure' }, streams: failed }], latency_hdr: hdr(slow) },
  ];
}

interface MeshPod {
  readonly namespace: string;
  readonly deployment: number;
  readonly pod: string;
}

function meshPod(shape: MeshShape, index: number): MeshPod {
  const deployment = Math.floor(index / shape.podsPer) % shape.deployments;
  return { namespace: `ns-${deployment % shape.namespaces}`, deployment, pod: `svc-${deployment}-6d5f-${index % shape.podsPer}` };
}

const authorityOf = (shape: MeshShape, deployment: number): string => `svc-${deployment}.ns-${deployment % shape.namespaces}.svc.cluster.local:80`;

/** The two reports (inbound, outbound) of proxy `index` of the mesh, without sequence numbers. */
export function meshReports(shape: MeshShape, index: number): [ReportRequest, ReportRequest] {
  const self = meshPod(shape, index);
  const header = (proxy: 'INBOUND' | 'OUTBOUND'): ReportRequest => ({
    process: { scheduled_instance: self.pod, scheduled_namespace: self.namespace, workload: `deployment/svc-${self.deployment}` },
    proxy,
    histogram_bucket_bounds_tenth_ms: [...BUCKET_BOUNDS_TENTH_MS],
    instance_id: `mesh-${index}`,
    interval_ms: 5000,
    report_interval_ms: 5000,
  });
  const ctx = (authority: string, extra: Partial<NonNullable<RequestScope['ctx']>>): NonNullable<RequestScope['ctx']> => ({ authority, tls: 'true', route_scope: false, actual: false, ...extra });
  const own = authorityOf(shape, self.deployment);
  const inbound = header('INBOUND');
  inbound.requests = [
    { ctx: ctx(own, {}), count: 63, responses: meshResponses(index, 60, 3) },
    ...MESH_ROUTES.map((route, r) => ({ ctx: ctx(own, { route_scope: true, route_labels: { route } }), count: 21, responses: meshResponses(index + r, 20, 1) })),
  ];
  inbound.server_transports = [{ connects: 1, disconnect_count: 1, open_connections: 4, read_bytes: 40_000, write_bytes: 90_000, tls: 'true' }];
  const outbound = header('OUTBOUND');
  outbound.requests = [];
  outbound.client_transports = [];
  for (const step of [1, 2]) {
    const target = (self.deployment + step * 7) % shape.deployments;
    const authority = authorityOf(shape, target);
    const namespace = `ns-${target % shape.namespaces}`;
    for (let e = 0; e < 3; e++) {
      const dst = { namespace, service: `svc-${target}`, deployment: `svc-${target}`, pod: `svc-${target}-6d5f-${(index + e) % shape.podsPer}`, serviceaccount: 'default' };
      outbound.requests.push({ ctx: ctx(authority, { dst_labels: dst }), count: 11, responses: meshResponses(index * 3 + e, 10, 1) });
      outbound.client_transports.push({ connects: 0, disconnect_count: 0, open_connections: 2, read_bytes: 15_000, write_bytes: 7_000, tls: 'true', dst_labels: dst });
    }
    for (const [r, route] of MESH_ROUTES.entries()) {
      outbound.requests.push({ ctx: ctx(authority, { route_scope: true, route_labels: { route } }), count: 11, responses: meshResponses(index * 5 + r, 10, 1) });
    }
  }
  return [inbound, outbound];
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return bytes;
}

/** Protobuf field 11 (`sequence`, varint) appended to an encoded report: fields may come in any order. */
export function withSequence(encoded: Buffer, sequence: number): Buffer {
  return Buffer.concat([encoded, Buffer.from([0x58, ...varint(sequence)])]);
}

/**
 * One call as Sluice's proxies send it: the encoded inbound report with the outbound one batched in it
 * (field 14, length-delimited), both with `sequence`.
 */
export function batchedWithSequence(inbound: Buffer, outbound: Buffer, sequence: number): Buffer {
  const nested = withSequence(outbound, sequence);
  return Buffer.concat([withSequence(inbound, sequence), Buffer.from([0x72, ...varint(nested.length)]), nested]);
}
