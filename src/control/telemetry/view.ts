// What the public API reads telemetry through, whichever backend holds it: the embedded store (the
// default) or a Prometheus server scraping the proxies (`--prometheus-url`, prometheus/backend.ts).
// Handlers stay synchronous over a `TelemetryView`; a backend produces one per request, which for the
// embedded store is the store itself and for Prometheus the answers of a few queries over the window.
import type { KeyClasses, PodReport, QueryResult, StatKey } from './keys.ts';

export interface TelemetryView {
  /** Aggregates of the keys `groupOf` assigns a group to, over the last `windowMs` (see TelemetryStore.query). */
  query(windowMs: number, groupOf: (key: StatKey) => string | undefined, now?: number, only?: KeyClasses): QueryResult;
  /** Pods whose proxies report (embedded) or have series (Prometheus), with when they last did. */
  reportingPods(): PodReport[];
  podReport(namespace: string, pod: string): PodReport | undefined;
  /** One line for SelfCheck: where the numbers come from and how much is held. */
  describe(): string;
}

export interface TelemetryBackend {
  /** A view good for answering one request over `windowMs`; `only` narrows what must be read. */
  view(windowMs: number, only?: KeyClasses): Promise<TelemetryView>;
}
