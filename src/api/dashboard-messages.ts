// What the dashboard's server (src/control/dashboard) sends the page (src/dashboard) beside the public
// API's own JSON: flattened tap events, the recent history of each resource's golden metrics, the
// topology's edges, and the live channel's messages. Pure types, shared by both sides of the wire.

/** One tap event as the page shows it: the request's three events share `id`. */
export interface TapEventView {
  /** `base:stream` of the proxy's stream id: request, response and end of one request share it. */
  readonly id: string;
  readonly kind: 'request' | 'response' | 'end';
  readonly direction: 'inbound' | 'outbound' | 'unknown';
  /** `ip:port` of each side. */
  readonly source: string;
  readonly destination: string;
  /** `deployment/web` (or `pod/web-1`) from the proxy's labels, '' when unknown (an unmeshed client). */
  readonly sourceResource: string;
  readonly destinationResource: string;
  /** The peer's TLS status label (`true`, `no_identity`, …), as `sluice tap` shows it. */
  readonly tls: string;
  readonly sourceLabels: Readonly<Record<string, string>>;
  readonly destinationLabels: Readonly<Record<string, string>>;
  readonly routeLabels: Readonly<Record<string, string>>;
  // request
  readonly method?: string;
  readonly scheme?: string;
  readonly authority?: string;
  readonly path?: string;
  // response
  readonly status?: number;
  readonly latencyUs?: number;
  // end
  readonly durationUs?: number;
  readonly responseBytes?: number;
  /** gRPC status name (`OK`, `Unavailable` …) when the response carried one. */
  readonly grpcStatus?: string;
  readonly resetCode?: number;
  readonly headers?: ReadonlyArray<{ readonly name: string; readonly value: string }>;
}

/** One resource's samples, oldest first; a sample without traffic has null stats. */
export interface HistorySeries {
  /** Sample times (ms since the epoch). */
  readonly t: readonly number[];
  readonly rps: ReadonlyArray<number | null>;
  /** 0–1. */
  readonly success: ReadonlyArray<number | null>;
  readonly p50Ms: ReadonlyArray<number | null>;
  readonly p95Ms: ReadonlyArray<number | null>;
  readonly p99Ms: ReadonlyArray<number | null>;
}

export interface HistoryResponse {
  /** How often the server samples. */
  readonly intervalMs: number;
  /** How far back the samples go at most. */
  readonly spanMs: number;
  /** By `<type>/<namespace>/<name>` (`deployment/emojivoto/web`). */
  readonly series: Readonly<Record<string, HistorySeries>>;
}

export interface TopologyNode {
  /** `<type>/<namespace>/<name>`. */
  readonly id: string;
  readonly type: string;
  readonly namespace: string;
  readonly name: string;
}

/** Requests `from` sent to `to` over the window, as `from`'s proxies measured them. */
export interface TopologyEdge {
  readonly from: string;
  readonly to: string;
  readonly rps: number;
  /** 0–1, null without responses. */
  readonly success: number | null;
  readonly p99Ms: number | null;
}

export interface TopologyResponse {
  readonly window: string;
  readonly nodes: readonly TopologyNode[];
  readonly edges: readonly TopologyEdge[];
  /** Workloads left out because there were more than the server asks about per refresh. */
  readonly truncated: number;
}

/** First message of the live channel (`/api/live`): a new `bootId` means the controller restarted. */
export interface LiveHello {
  readonly bootId: string;
  readonly version: string;
  readonly startedAt: number;
}
