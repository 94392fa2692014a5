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
