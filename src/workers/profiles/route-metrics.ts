// Per-route metrics of outbound requests to destinations with a profile (Linkerd's `route_*` families):
// `route_request_total` / `route_response_total` / `route_response_latency_ms` count each request once,
// as the client saw it (after retries); `route_actual_*` count every attempt sent to an endpoint;
// `route_retryable_total` counts failed attempts of retryable routes by what became of them.
import { Counter, Histogram, joinLabels, labels, type Family, type Registry } from '../../telemetry/metrics.ts';
import type { Direction } from '../../telemetry/proxy-metrics.ts';

/** Why a failed attempt of a retryable route was, or was not, retried. */
export type RetryOutcome = 'retried' | 'no_budget' | 'body_too_large' | 'response_started';

export class RouteMetrics {
  readonly requestTotal: Family<Counter>;
  readonly responseTotal: Family<Counter>;
  readonly responseLatency: Family<Histogram>;
  readonly actualRequestTotal: Family<Counter>;
  readonly actualResponseTotal: Family<Counter>;
  readonly actualResponseLatency: Family<Histogram>;
  readonly retryableTotal: Family<Counter>;
  private readonly cache = new Map<string, RouteStats>();

  constructor(registry: Registry) {
    this.requestTotal = registry.counter('route_request_total', 'Total count of HTTP requests, by profile route.');
    this.responseTotal = registry.counter('route_response_total', 'Total count of HTTP responses, by profile route.');
    this.responseLatency = registry.histogram(
      'route_response_latency_ms',
      'Elapsed times between a request arriving and its response head being sent back, retries included, by profile route, in milliseconds.',
    );
    this.actualRequestTotal = registry.counter('route_actual_request_total', 'Total count of HTTP requests sent to endpoints, retries included, by profile route.');
    this.actualResponseTotal = registry.counter('route_actual_response_total', 'Total count of HTTP responses from endpoints, retries included, by profile route.');
    this.actualResponseLatency = registry.histogram(
      'route_actual_response_latency_ms',
      'Elapsed times of each attempt sent to an endpoint until its response head, by profile route, in milliseconds.',
    );
    this.retryableTotal = registry.counter(
      'route_retryable_total',
      'Failed attempts of retryable routes, by whether they were retried (retry="retried") or why not (no_budget, body_too_large, response_started).',
    );
  }

  /** The handle for one destination (`dst`, its authority) and one route's `rt_*` labels. */
  route(direction: Direction, dst: string, routeLabels: string): RouteStats {
    const key = `${direction}\0${dst}\0${routeLabels}`;
    let stats = this.cache.get(key);
    if (stats === undefined) {
      stats = new RouteStats(this, joinLabels(labels({ direction, dst }), routeLabels));
      this.cache.set(key, stats);
    }
    return stats;
  }
}

/** Response labels in Linkerd's order: `status_code`, `classification`, `grpc_status`, `error`. */
function responseLabels(status: number, grpcStatus: number, failed: boolean, error: string): string {
  return labels({
    status_code: status,
    classification: failed ? 'failure' : 'success',
    grpc_status: grpcStatus < 0 ? '' : grpcStatus,
    error,
  });
}

export class RouteStats {
  private readonly metrics: RouteMetrics;
  private readonly base: string;
  private readonly requests: Counter;
  private readonly actualRequests: Counter;
  private readonly retryables = new Map<RetryOutcome, Counter>();
  /** Response counters of both families (see count()) and latency histograms by status and family. */
  private readonly responses = new Map<number | string, Counter>();
  private readonly latencies = new Map<number, Histogram>();

  constructor(metrics: RouteMetrics, base: string) {
    this.metrics = metrics;
    this.base = base;
    this.requests = metrics.requestTotal.get(base);
    this.actualRequests = metrics.actualRequestTotal.get(base);
  }

  request(): void {
    this.requests.inc();
  }

  actualRequest(): void {
    this.actualRequests.inc();
  }

  /** The response the client got. `grpcStatus` -1 = none; `error` names a proxy-synthesized answer. */
  response(status: number, grpcStatus: number, failed: boolean, latencyMs: number, error = ''): void {
    this.count(0, this.metrics.responseTotal, this.metrics.responseLatency, status, grpcStatus, failed, latencyMs, error);
  }

  /** The outcome of one attempt, whether or not it reached the client. */
  actualResponse(status: number, grpcStatus: number, failed: boolean, latencyMs: number, error = ''): void {
    this.count(1, this.metrics.actualResponseTotal, this.metrics.actualResponseLatency, status, grpcStatus, failed, latencyMs, error);
  }

  retryable(outcome: RetryOutcome): void {
    let counter = this.retryables.get(outcome);
    if (counter === undefined) {
      counter = this.metrics.retryableTotal.get(joinLabels(this.base, labels({ retry: outcome })));
      this.retryables.set(outcome, counter);
    }
    counter.inc();
  }

  /** `family` 0: the responses the client got (`route_response_*`); 1: every attempt's (`route_actual_*`). */
  private count(
    family: 0 | 1,
    total: Family<Counter>,
    latency: Family<Histogram>,
    status: number,
    grpcStatus: number,
    failed: boolean,
    latencyMs: number,
    error: string,
  ): void {
    // A number for the common responses (no error, gRPC status none or 0–30): counting builds no string.
    const key =
      error === '' && Number.isInteger(grpcStatus) && grpcStatus >= -1 && grpcStatus < 31
        ? ((status * 32 + grpcStatus + 1) * 2 + (failed ? 1 : 0)) * 2 + family
        : `${family}|${status}|${grpcStatus}|${failed ? 1 : 0}|${error}`;
    let counter = this.responses.get(key);
    if (counter === undefined) {
      counter = total.get(joinLabels(this.base, responseLabels(status, grpcStatus, failed, error)));
      this.responses.set(key, counter);
    }
    counter.inc();
    const latencyKey = status * 2 + family; // statuses are whole numbers (parsed, or a proxy error's)
    let histogram = this.latencies.get(latencyKey);
    if (histogram === undefined) {
      histogram = latency.get(joinLabels(this.base, labels({ status_code: status })));
      this.latencies.set(latencyKey, histogram);
    }
    histogram.observe(latencyMs);
  }
}
