// TypeScript shapes of proto/public.proto (+ healthcheck.proto) messages as handlers receive and return
// them (src/api/proto.ts loader options: snake_case as written, numbers for 64-bit integers, enum
// names, oneof virtual fields) and as the HTTP/JSON API sends them (every field present).

import type { Duration } from './proto.ts';

export interface Resource {
  namespace?: string;
  type?: string;
  name?: string;
}

export interface ResourceSelection {
  resource?: Resource;
  label_selector?: string;
}

export interface ResourceError {
  resource?: Resource;
  error?: string;
}

export interface StatSummaryRequest {
  selector?: ResourceSelection;
  time_window?: string;
  none?: Record<string, never>;
  to_resource?: Resource;
  from_resource?: Resource;
  outbound?: 'none' | 'to_resource' | 'from_resource';
  skip_stats?: boolean;
  tcp_stats?: boolean;
}

export interface BasicStats {
  success_count?: number;
  failure_count?: number;
  latency_ms_p50?: number;
  latency_ms_p95?: number;
  latency_ms_p99?: number;
  actual_success_count?: number;
  actual_failure_count?: number;
  tls_request_count?: number;
  latency_us_p50?: number;
  latency_us_p95?: number;
  latency_us_p99?: number;
}

export interface TcpStats {
  open_connections?: number;
  read_bytes_total?: number;
  write_bytes_total?: number;
}

export interface StatRow {
  resource?: Resource;
  time_window?: string;
  status?: string;
  meshed_pod_count?: number;
  running_pod_count?: number;
  failed_pod_count?: number;
  stats?: BasicStats | null;
  tcp_stats?: TcpStats | null;
  errors_by_pod?: Record<string, unknown>;
  window_seconds?: number;
}

export interface StatTable {
  pod_group?: { rows?: StatRow[] };
  table?: 'pod_group';
}

export interface StatSummaryResponse {
  ok?: { stat_tables?: StatTable[] };
  error?: ResourceError;
  response?: 'ok' | 'error';
}

export interface TopRoutesRequest {
  selector?: ResourceSelection;
  time_window?: string;
  none?: Record<string, never>;
  to_resource?: Resource;
  outbound?: 'none' | 'to_resource';
}

export interface RouteRow {
  route?: string;
  time_window?: string;
  authority?: string;
  stats?: BasicStats | null;
  window_seconds?: number;
}

export interface RouteTable {
  rows?: RouteRow[];
  resource?: string;
}

export interface TopRoutesResponse {
  ok?: { routes?: RouteTable[] };
  error?: ResourceError;
  response?: 'ok' | 'error';
}

export interface ListPodsRequest {
  namespace?: string;
}

export interface Pod {
  name?: string;
  podIP?: string;
  deployment?: string;
  status?: string;
  added?: boolean;
  sinceLastReport?: Duration | null;
  controllerNamespace?: string;
  controlPlane?: boolean;
  uptime?: Duration | null;
  namespace?: string;
  workload?: string;
}

export interface ListPodsResponse {
  pods?: Pod[];
}

export interface VersionInfo {
  goVersion?: string;
  buildDate?: string;
  releaseVersion?: string;
}

export type CheckStatus = 'OK' | 'FAIL' | 'ERROR';

export interface CheckResult {
  SubsystemName?: string;
  CheckDescription?: string;
  Status?: CheckStatus;
  FriendlyMessageToUser?: string;
}

export interface SelfCheckResponse {
  results?: CheckResult[];
}

export interface EdgesRequest {
  selector?: ResourceSelection;
  time_window?: string;
}

export interface Edge {
  src?: Resource;
  dst?: Resource;
  client_id?: string;
  server_id?: string;
  no_identity_msg?: string;
  secured?: boolean;
}

export interface EdgesResponse {
  ok?: { edges?: Edge[] };
  error?: ResourceError;
}
