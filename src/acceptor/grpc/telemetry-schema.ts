// Field tables (protobuf-schema.ts) of sluice.proxy.telemetry (proto/telemetry.proto): the ReportRequest
// the proxy pushes, encoded from the objects telemetry-accumulator.ts builds (src/api/telemetry-messages.ts),
// and the ReportResponse (empty from `Report`; one per report on a `ReportStream`).
import { IPAddress, TcpAddress } from './common-schema.ts';
import { field, message } from './protobuf-schema.ts';

const P = 'sluice.proxy.telemetry';
const PROTOCOL = ['HTTP', 'TCP'];

const Process = message(`${P}.Process`, [
  field(1, 'node', 'string'),
  field(2, 'scheduled_instance', 'string'),
  field(3, 'scheduled_namespace', 'string'),
  field(10, 'workload', 'string'),
  field(11, 'identity', 'string'),
]);

const TransportSummary = message(`${P}.TransportSummary`, [field(1, 'duration_ms', 'uint64'), field(2, 'bytes_sent', 'uint64')]);

/** ServerTransport and ClientTransport differ only in their first field. */
const transportFields = [
  field(2, 'connects', 'uint32'),
  field(3, 'disconnects', 'message', { repeated: true, message: () => TransportSummary }),
  field(4, 'protocol', 'enum', { enumNames: PROTOCOL }),
  field(11, 'open_connections', 'uint64'),
  field(12, 'read_bytes', 'uint64'),
  field(13, 'write_bytes', 'uint64'),
  field(14, 'disconnect_count', 'uint32'),
  field(15, 'dst_labels', 'map'),
  field(16, 'tls', 'string'),
  field(17, 'client_id', 'string'),
  field(18, 'server_id', 'string'),
  field(19, 'no_tls_reason', 'string'),
];

const ServerTransport = message(`${P}.ServerTransport`, [
  field(1, 'source_ip', 'message', { message: () => IPAddress }),
  ...transportFields,
  field(10, 'target_addr', 'message', { message: () => TcpAddress }),
]);

const ClientTransport = message(`${P}.ClientTransport`, [field(1, 'target_addr', 'message', { message: () => TcpAddress }), ...transportFields]);

const RequestCtx = message(`${P}.RequestCtx`, [
  field(1, 'source_ip', 'message', { message: () => IPAddress }),
  field(2, 'target_addr', 'message', { message: () => TcpAddress }),
  field(3, 'authority', 'string'),
  field(10, 'dst_labels', 'map'),
  field(11, 'route_scope', 'bool'),
  field(12, 'route_labels', 'map'),
  field(13, 'tls', 'string'),
  field(14, 'actual', 'bool'),
  field(15, 'client_id', 'string'),
  field(16, 'server_id', 'string'),
  field(17, 'no_tls_reason', 'string'),
]);

const EosCtx = message(`${P}.EosCtx`, [
  field(1, 'grpc_status_code', 'uint32', { oneof: 'end' }),
  field(2, 'reset_error_code', 'uint32', { oneof: 'end' }),
  field(3, 'other', 'bool', { oneof: 'end' }),
  field(10, 'classification', 'string'),
  field(11, 'error', 'string'),
]);

const EosScope = message(`${P}.EosScope`, [field(1, 'ctx', 'message', { message: () => EosCtx }), field(2, 'streams', 'uint32')]);

const ResponseCtx = message(`${P}.ResponseCtx`, [field(1, 'http_status_code', 'uint32')]);

const ResponseScope = message(`${P}.ResponseScope`, [
  field(1, 'ctx', 'message', { message: () => ResponseCtx }),
  field(2, 'response_latency_counts', 'uint32', { repeated: true }),
  field(3, 'ends', 'message', { repeated: true, message: () => EosScope }),
  field(10, 'latency_hdr', 'bytes'),
]);

const RequestScope = message(`${P}.RequestScope`, [
  field(1, 'ctx', 'message', { message: () => RequestCtx }),
  field(2, 'count', 'uint32'),
  field(3, 'responses', 'message', { repeated: true, message: () => ResponseScope }),
]);

export const ReportRequest = message(`${P}.ReportRequest`, [
  field(1, 'process', 'message', { message: () => Process }),
  field(2, 'proxy', 'enum', { enumNames: ['INBOUND', 'OUTBOUND'] }),
  field(3, 'server_transports', 'message', { repeated: true, message: () => ServerTransport }),
  field(4, 'client_transports', 'message', { repeated: true, message: () => ClientTransport }),
  field(5, 'requests', 'message', { repeated: true, message: () => RequestScope }),
  field(6, 'histogram_bucket_bounds_tenth_ms', 'uint32', { repeated: true }),
  field(10, 'instance_id', 'string'),
  field(11, 'sequence', 'uint64'),
  field(12, 'interval_ms', 'uint64'),
  field(13, 'report_interval_ms', 'uint64'),
  field(14, 'batched', 'message', { repeated: true, message: () => ReportRequest }),
]);

/** Empty from `Report`; on a ReportStream, what became of the report it answers. */
export const ReportResponse = message(`${P}.ReportResponse`, [
  field(10, 'sequence', 'uint64'),
  field(11, 'already_applied', 'bool'),
  field(12, 'error_code', 'uint32'),
  field(13, 'error_message', 'string'),
]);
