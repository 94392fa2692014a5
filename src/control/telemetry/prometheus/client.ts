// The few calls the Prometheus backend makes to Prometheus's HTTP API (`POST /api/v1/query`, instant
// queries), with fetch. Every failure becomes a PrometheusError naming the server and what went wrong
// (unreachable, an HTTP error, a query Prometheus rejected, an answer that is not a vector), so the
// public API can pass it on instead of answering with empty numbers.
import type { Sample } from './view.ts';

export class PrometheusError extends Error {
  override name = 'PrometheusError';
  /** gRPC UNAVAILABLE: the public API passes the reason on with that status (HTTP 503). */
  readonly code = 14;
}

export interface PrometheusClientOptions {
  /** Base URL, e.g. `http://prometheus.monitoring.svc:9090` (a path prefix is kept). */
  readonly url: string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** The `--prometheus-url` value checked: http or https, no query string. */
export function parsePrometheusUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PrometheusError(`"${text}" is not a URL (expected e.g. http://prometheus:9090)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PrometheusError(`"${text}" is not an http(s) URL`);
  if (url.search !== '' || url.hash !== '') throw new PrometheusError(`"${text}" must not carry a query or fragment`);
  return url;
}

interface ApiAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: Array<{ metric?: Record<string, string>; value?: [number, string] }> };
}

/** Samples of an instant-vector answer body (Prometheus's JSON), or a PrometheusError. */
export function samplesOf(body: unknown, query: string): Sample[] {
  const answer = body as ApiAnswer;
  if (answer?.status !== 'success') {
    throw new PrometheusError(`Prometheus rejected the query (${answer?.errorType ?? 'error'}: ${answer?.error ?? 'no reason given'}): ${query}`);
  }
  if (answer.data?.resultType !== 'vector' || !Array.isArray(answer.data.result)) {
    throw new PrometheusError(`Prometheus answered a ${answer.data?.resultType ?? 'missing'} result where a vector was expected: ${query}`);
  }
  return answer.data.result.map((r) => ({ metric: r.metric ?? {}, value: Number(r.value?.[1]) }));
}

export class PrometheusClient {
  readonly url: URL;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(options: PrometheusClientOptions) {
    this.url = parsePrometheusUrl(options.url);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetch = options.fetch ?? fetch;
  }

  /** An instant query evaluated at `atMs`. */
  async query(promql: string, atMs: number): Promise<Sample[]> {
    const endpoint = new URL(`${this.url.pathname.replace(/\/$/, '')}/api/v1/query`, this.url);
    let response: Response;
    try {
      response = await this.fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: promql, time: (atMs / 1000).toFixed(3) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new PrometheusError(`cannot reach Prometheus at ${this.url.href}: ${(error as Error).message}`);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new PrometheusError(`Prometheus at ${this.url.href} answered HTTP ${response.status} without JSON: ${text.slice(0, 200)}`);
    }
    // Prometheus answers 400/422/503 with a JSON error body: samplesOf says what it was.
    return samplesOf(body, promql);
  }
}
