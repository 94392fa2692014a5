// TypeScript shapes of proto/telemetry.proto messages as the project's loader (src/api/proto.ts) reads
// and writes them: snake_case fields, 64-bit integers as numbers, enums as names, oneof virtual fields.
// Decoded messages omit fields left at their default, so every field is optional.

export const TELEMETRY_PROTO = 'telemetry.proto';
export const TELEMETRY_SERVICE = 'sluice.proxy.telemetry.Telemetry';

export type IPAddress = { ipv4?: number; ipv6?: { first?: number | string; last?: number | string }; ip?: 'ipv4' | 'ipv6' };
export interface TcpAddress {
  ip?: IPAddress;
  port?: number;
}

export type ProxyDirectionName = 'INBOUND' | 'OUTBOUND';

export interface ReportRequest {
  process?: ProcessInfo;
  proxy?: ProxyDirectionName;
  server_transports?: TransportReport[];
  client_transports?: TransportReport[];
  requests?: RequestScope[];
  histogram_bucket_bounds_tenth_ms?: number[];
  instance_id?: string;
  sequence?: number;
  interval_ms?: number;
  report_interval_ms?: number;
  /** The other direction's report, sent in the same call (proto/telemetry.proto field 14). */
  batched?: ReportRequest[];
}

/** Empty from `Report`; on a `ReportStream`, one per report, in order (proto/telemetry.proto). */
export interface ReportResponse {
  /** The answered report's `sequence`; absent when the controller does not say (it keeps nothing). */
  sequence?: number;
  /** Applied before (a retry): not counted again. */
  already_applied?: boolean;
  /** Not zero: the report could not be applied, with the gRPC status code a `Report` call would have had. */
  error_code?: number;
  error_message?: string;
}

export interface ProcessInfo {
  node?: string;
  scheduled_instance?: string;
  scheduled_namespace?: string;
  workload?: string;
  identity?: string;
}

/** ServerTransport and ClientTransport share their Sluice fields; only the first four differ. */
export interface TransportReport {
  source_ip?: IPAddress;
  target_addr?: TcpAddress;
  connects?: number;
  disconnects?: Array<{ duration_ms?: number; bytes_sent?: number }>;
  protocol?: 'HTTP' | 'TCP';
  open_connections?: number;
  read_bytes?: number;
  write_bytes?: number;
  disconnect_count?: number;
  dst_labels?: Record<string, string>;
  tls?: string;
  client_id?: string;
  server_id?: string;
  no_tls_reason?: string;
}

export interface RequestScope {
  ctx?: RequestCtx;
  count?: number;
  responses?: ResponseScope[];
}

export interface RequestCtx {
  source_ip?: IPAddress;
  target_addr?: TcpAddress;
  authority?: string;
  dst_labels?: Record<string, string>;
  route_scope?: boolean;
  route_labels?: Record<string, string>;
  tls?: string;
  actual?: boolean;
  client_id?: string;
  server_id?: string;
  no_tls_reason?: string;
}

export interface ResponseScope {
  ctx?: { http_status_code?: number };
  response_latency_counts?: number[];
  ends?: EosScope[];
  latency_hdr?: Uint8Array;
}

export interface EosScope {
  ctx?: EosCtx;
  streams?: number;
}

export interface EosCtx {
  grpc_status_code?: number;
  reset_error_code?: number;
  other?: boolean;
  end?: 'grpc_status_code' | 'reset_error_code' | 'other';
  classification?: string;
  error?: string;
}
