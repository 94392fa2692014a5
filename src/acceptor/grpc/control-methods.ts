// The control-plane methods the proxy calls, as descriptors for GrpcChannel: path, and the field tables
// that write requests and read responses in the objects the rest of the proxy already works with.
// Destination's 64-bit fields come as decimal strings (IPv6 halves are fixed64, which a JS number would
// round), Telemetry's as numbers, exactly as the proto-loader options these replaced.
import type { ReportRequest, ReportResponse as ReportResponseMsg } from '../../api/telemetry-messages.ts';
import type { ProfileMsg, UpdateMsg } from '../destination-decode.ts';
import type { MethodDescriptor } from './call.ts';
import { DestinationProfile, GetDestination, Update } from './destination-schema.ts';
import { decodeMessage, encodeMessage } from './protobuf-schema.ts';
import { ReportRequest as ReportRequestSpec, ReportResponse } from './telemetry-schema.ts';
import type { ServerMsg } from '../inbound-policy-decode.ts';
import { PortSpec, Server } from './inbound-schema.ts';

export interface GetDestinationMsg {
  readonly scheme: string;
  readonly path: string;
  readonly context_token: string;
}

const DESTINATION = '/io.linkerd.proxy.destination.Destination';

export const DestinationGet: MethodDescriptor<GetDestinationMsg, UpdateMsg> = {
  path: `${DESTINATION}/Get`,
  encode: (request) => encodeMessage(GetDestination, request),
  decode: (bytes) => decodeMessage(Update, bytes, { longs: 'string' }) as UpdateMsg,
};

export const DestinationGetProfile: MethodDescriptor<GetDestinationMsg, ProfileMsg> = {
  path: `${DESTINATION}/GetProfile`,
  encode: (request) => encodeMessage(GetDestination, request),
  decode: (bytes) => decodeMessage(DestinationProfile, bytes, { longs: 'string' }) as ProfileMsg,
};

export const TelemetryReport: MethodDescriptor<ReportRequest, object> = {
  path: '/sluice.proxy.telemetry.Telemetry/Report',
  encode: (request) => encodeMessage(ReportRequestSpec, request),
  decode: (bytes) => decodeMessage(ReportResponse, bytes, { longs: 'number' }),
};

/** Reports on one long-lived stream, each answered in order (use with GrpcChannel.bidiStream). */
export const TelemetryReportStream: MethodDescriptor<ReportRequest, ReportResponseMsg> = {
  path: '/sluice.proxy.telemetry.Telemetry/ReportStream',
  encode: (request) => encodeMessage(ReportRequestSpec, request),
  decode: (bytes) => decodeMessage(ReportResponse, bytes, { longs: 'number' }) as ReportResponseMsg,
};

export interface PortSpecMsg {
  readonly workload: string;
  readonly port: number;
}

/** Inbound policy: the Server of one port, now and on every change. IPv6 halves (fixed64) as strings. */
export const InboundWatchPort: MethodDescriptor<PortSpecMsg, ServerMsg> = {
  path: '/io.linkerd.proxy.inbound.InboundServerPolicies/WatchPort',
  encode: (request) => encodeMessage(PortSpec, request),
  decode: (bytes) => decodeMessage(Server, bytes, { longs: 'string' }) as ServerMsg,
};
