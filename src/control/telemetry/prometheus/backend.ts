// The Prometheus backend (`--prometheus-url`): the public API's telemetry read from a Prometheus
// server that scrapes every proxy's /metrics (docs/controller.md), instead of from the embedded store.
// One view per request: the queries of the key classes it needs run in parallel at one instant.
import type { KeyClasses } from '../keys.ts';
import type { TelemetryBackend, TelemetryView } from '../view.ts';
import type { PrometheusClient } from './client.ts';
import { keyQueries } from './queries.ts';
import { PrometheusView } from './view.ts';

export class PrometheusBackend implements TelemetryBackend {
  private readonly client: PrometheusClient;
  private readonly now: () => number;

  constructor(client: PrometheusClient, now: () => number = Date.now) {
    this.client = client;
    this.now = now;
  }

  async view(windowMs: number, only?: KeyClasses): Promise<TelemetryView> {
    const at = this.now();
    const view = new PrometheusView(windowMs, at, this.client.url.href);
    const queries = keyQueries(windowMs, only);
    const answers = await Promise.all(queries.map((q) => this.client.query(q.promql, at)));
    queries.forEach((q, i) => view.add(q.scope, q.part, answers[i] ?? []));
    return view.finish();
  }
}
