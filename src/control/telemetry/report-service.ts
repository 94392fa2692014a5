// The two ways reports reach the controller's Telemetry service, over one path: `Report`, a gRPC call per
// report, and `ReportStream`, a proxy's reports as messages on one long-lived stream, each answered in
// order with what became of it. Both take the request's raw bytes (grpc-js does not decode them) to
// applyReportCall (apply.ts), so a report is applied the same way whichever way it came, with the same
// instance/sequence check against counting a retry twice. The stream exists because gRPC's per-call
// cost (headers, metadata, a deadline, a status — ~300 µs of grpc-js per call) was most of what 2,000
// proxies' reports cost the controller; a message on an open stream costs about a third of that
// (docs/performance.md).
import type * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE } from '../../api/telemetry-messages.ts';
import type { Logger } from '../../log/logger.ts';
import { applyReportCall } from './apply.ts';
import type { PeerIdentities } from './peer-identities.ts';
import type { ReportDecodeCaches } from './report-decode.ts';
import { FORWARDED_HEADER, type PeerForwarder } from './peers.ts';
import type { TelemetryStore } from './store.ts';

/** gRPC's INVALID_ARGUMENT: what a report that cannot be decoded is answered with, in a call or on a stream. */
const INVALID_ARGUMENT = 3;

/** What became of one report. */
export interface ReportOutcome {
  /** The report's `sequence` (the outer one's when others are batched in it); 0 when unknown. */
  readonly sequence: number;
  /** It had been applied before (a retry): nothing was counted again. */
  readonly alreadyApplied: boolean;
  /** It could not be applied: the gRPC status code a `Report` call ends with, and why. */
  readonly error?: { readonly code: number; readonly message: string };
}

export interface ReportIngestDeps {
  readonly store: TelemetryStore;
  readonly identities: PeerIdentities;
  readonly caches: ReportDecodeCaches;
  readonly log: Logger;
  /** Other controller replicas, which get every report that came straight from a proxy. */
  readonly peers: PeerForwarder | undefined;
  /** With Prometheus answering the public API, what proxies push is not kept: that memory is the point. */
  readonly keepNothing: boolean;
}

/** Applies one report's bytes and says what became of them; never throws. */
export function ingestReport(deps: ReportIngestDeps, bytes: Buffer, forwarded: boolean): ReportOutcome {
  if (deps.keepNothing) return { sequence: 0, alreadyApplied: false };
  let pod = '';
  try {
    const { applied, report } = applyReportCall(bytes, deps.store, deps.identities, Date.now(), deps.caches);
    pod = report.process?.scheduled_instance ?? '';
    // Reports straight from a proxy go on to the other replicas; reports a peer forwarded stop here.
    if (applied && !forwarded) deps.peers?.forward(report);
    if (!applied) deps.log.debug('telemetry report already applied (a retry)', { instance: report.instance_id ?? '', sequence: report.sequence ?? 0 });
    return { sequence: report.sequence ?? 0, alreadyApplied: !applied };
  } catch (error) {
    deps.log.warn('cannot apply telemetry report', { error: (error as Error).message, pod });
    return { sequence: 0, alreadyApplied: false, error: { code: INVALID_ARGUMENT, message: `cannot apply report: ${(error as Error).message}` } };
  }
}

/** `Report`: one report per call; an answer without fields (Conduit's empty ReportResponse), or the error status. */
export function reportHandler(deps: ReportIngestDeps): grpc.handleUnaryCall<Buffer, object> {
  return (call, callback) => {
    const outcome = ingestReport(deps, call.request, call.metadata.get(FORWARDED_HEADER).length > 0);
    if (outcome.error === undefined) callback(null, {});
    else callback({ code: outcome.error.code, details: outcome.error.message } as grpc.ServiceError, null);
  };
}

/** ReportStream streams open now, and opened since start (for /metrics). */
export interface StreamCounters {
  open: number;
  opened: number;
}

/**
 * `ReportStream`: every message applied as a `Report` call would be and answered at once, in order (a
 * report that cannot be applied is answered with its error and the stream goes on). The proxy ending its
 * side ends ours with OK once every answer is out; a proxy that goes away (reset, lost connection) just
 * closes the stream: nothing is kept per stream but the counters.
 */
export function reportStreamHandler(deps: ReportIngestDeps, counters: StreamCounters): grpc.handleBidiStreamingCall<Buffer, Buffer> {
  return (call) => {
    const forwarded = call.metadata.get(FORWARDED_HEADER).length > 0;
    counters.open++;
    counters.opened++;
    call.on('data', (bytes: Buffer) => {
      if (call.cancelled || call.writableEnded) return;
      call.write(encodeReportResponse(ingestReport(deps, bytes, forwarded)));
    });
    call.on('end', () => call.end());
    call.once('close', () => counters.open--);
  };
}

/** protobufjs's encoder for ReportResponse (proto/telemetry.proto), from the loaded service definition. */
let serializeResponse: ((answer: object) => Buffer) | undefined;

/**
 * The ReportResponse for a report on a stream (proto/telemetry.proto fields 10–13): only the fields that
 * say something, so an applied report without a sequence is answered with an empty message.
 */
export function encodeReportResponse(outcome: ReportOutcome): Buffer {
  serializeResponse ??= (lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE).service['ReportStream'] as grpc.MethodDefinition<Buffer, object>)
    .responseSerialize;
  const answer: Record<string, unknown> = {};
  if (outcome.sequence > 0) answer['sequence'] = outcome.sequence;
  if (outcome.alreadyApplied) answer['already_applied'] = true;
  if (outcome.error !== undefined) {
    answer['error_code'] = outcome.error.code;
    answer['error_message'] = outcome.error.message;
  }
  return serializeResponse(answer);
}
