// How the telemetry reporter's reports reach the controller: as messages on one long-lived
// `Telemetry.ReportStream`, opened on the first report and kept, each report answered in order by the
// controller (with its sequence, so an answer is never taken for another report's). A message on an open
// stream costs the controller about a third of a `Report` call (docs/performance.md), and at 2,000
// proxies that is most of what ingestion costs.
//
// Failures come back to the reporter as they did with unary calls, so its retry rules hold unchanged: a
// report whose answer does not come (the stream broke, the connection was lost, no answer in time)
// rejects with the stream's status, the stream is dropped, and the reporter sends the same report (same
// sequence) at its next tick on a new stream, where the controller recognises it if it had applied it.
// A report the controller could not apply rejects with the status code its answer gives. A controller
// that answers the stream UNIMPLEMENTED (one from before ReportStream) gets unary `Report` calls for the
// rest of the process, starting with the reports that stream was carrying.
//
// A report goes out as the bytes the reporter encoded once (telemetry-report-encode.ts), on the stream
// and on a unary call alike, so a report is never encoded again to be resent.
import type { ReportRequest, ReportResponse } from '../api/telemetry-messages.ts';
import type { Logger } from '../log/logger.ts';
import type { MethodDescriptor } from './grpc/call.ts';
import type { ClientStreamHandle, GrpcChannel } from './grpc/channel.ts';
import { TelemetryReport, TelemetryReportStream } from './grpc/control-methods.ts';
import { GrpcError, Status, type GrpcStatus } from './grpc/status.ts';
import { encodeReport } from './telemetry-report-encode.ts';
import type { ReportSender } from './telemetry-reporter.ts';

/** A report and its protobuf encoding, which is what is written. */
interface OutgoingReport {
  readonly request: ReportRequest;
  readonly bytes: Buffer;
}

/** Telemetry's two methods, writing a report's bytes as they were encoded. */
const ReportStreamBytes: MethodDescriptor<OutgoingReport, ReportResponse> = {
  path: TelemetryReportStream.path,
  encode: (report) => report.bytes,
  decode: (bytes) => TelemetryReportStream.decode(bytes),
};
const ReportBytes: MethodDescriptor<OutgoingReport, object> = {
  path: TelemetryReport.path,
  encode: (report) => report.bytes,
  decode: (bytes) => TelemetryReport.decode(bytes),
};

/** A report sent and not yet answered. */
interface Pending {
  readonly report: OutgoingReport;
  readonly timeoutMs: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One ReportStream and the reports it carries, in the order they were written. */
interface ReportStreamState {
  handle: ClientStreamHandle<OutgoingReport> | undefined;
  readonly pending: Pending[];
  answers: number;
  /** Its status, once it ended. */
  status: GrpcStatus | undefined;
  /** Why we ended it ourselves (no answer in time, an answer out of order), reported instead of CANCELLED. */
  breakStatus: GrpcStatus | undefined;
}

export class StreamingReportSender implements ReportSender {
  /** Which method the reports go by now (for logs and tests). */
  mode: 'stream' | 'unary' = 'stream';
  /** Streams opened over the process's life (for tests). */
  streamsOpened = 0;
  private readonly channel: GrpcChannel;
  private readonly log: Logger;
  private readonly release: () => void;
  private current: ReportStreamState | undefined;

  /** `release`: called once by close(), to give the channel back. */
  constructor(channel: GrpcChannel, log: Logger, release: () => void = () => {}) {
    this.channel = channel;
    this.log = log;
    this.release = release;
  }

  report(request: ReportRequest, timeoutMs: number, encoded?: Buffer): Promise<void> {
    let report: OutgoingReport;
    try {
      report = { request, bytes: encoded ?? encodeReport(request) };
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.mode === 'unary') return this.unary(report, timeoutMs);
    let state = this.current;
    // A connection going away (GOAWAY) keeps its open streams but takes no new ones: move to a new one
    // once nothing waits for an answer on the old.
    if (state !== undefined && state.handle?.retired === true && state.pending.length === 0) {
      state.handle.end();
      this.current = state = undefined;
    }
    const stream = state ?? this.open();
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = {
        report,
        timeoutMs,
        resolve,
        reject,
        timer: setTimeout(() => this.breakStream(stream, { code: Status.DEADLINE_EXCEEDED, details: `no answer to a report within ${timeoutMs} ms` }), timeoutMs),
      };
      entry.timer.unref();
      if (stream.status !== undefined) return this.settle([entry], stream.status, stream.answers === 0);
      stream.pending.push(entry);
      try {
        (stream.handle as ClientStreamHandle<OutgoingReport>).write(report);
      } catch (error) {
        stream.pending.pop();
        clearTimeout(entry.timer);
        reject(error as Error);
      }
    });
  }

  /** Ends our side of the stream (the controller finishes it cleanly) and gives the channel back. */
  close(): void {
    this.current?.handle?.end();
    this.current = undefined;
    this.release();
  }

  private open(): ReportStreamState {
    const state: ReportStreamState = { handle: undefined, pending: [], answers: 0, status: undefined, breakStatus: undefined };
    this.streamsOpened++;
    // The status may come at once (a closed channel): then the state is ended before `handle` is set.
    state.handle = this.channel.bidiStream(ReportStreamBytes, {
      message: (answer) => this.onAnswer(state, answer),
      status: (status) => this.onStatus(state, status),
    });
    if (state.status === undefined) this.current = state;
    return state;
  }

  private onAnswer(state: ReportStreamState, answer: ReportResponse): void {
    state.answers++;
    const entry = state.pending.shift();
    if (entry === undefined) return this.breakStream(state, { code: Status.INTERNAL, details: 'the controller answered a report that was not sent' });
    clearTimeout(entry.timer);
    const sent = entry.report.request.sequence ?? 0;
    if ((answer.sequence ?? 0) !== 0 && answer.sequence !== sent) {
      state.pending.unshift(entry);
      return this.breakStream(state, { code: Status.INTERNAL, details: `the controller answered report ${answer.sequence} where report ${sent} was due` });
    }
    if ((answer.error_code ?? 0) !== 0) entry.reject(new GrpcError({ code: answer.error_code as number, details: answer.error_message ?? '' }));
    else entry.resolve();
  }

  private onStatus(state: ReportStreamState, status: GrpcStatus): void {
    // A clean end with reports unanswered is, for them, a lost answer.
    const unanswered = status.code === Status.OK && state.pending.length > 0 ? { code: Status.UNAVAILABLE, details: 'the controller ended the report stream without answering' } : status;
    state.status = state.breakStatus ?? unanswered;
    if (this.current === state) this.current = undefined;
    if (state.pending.length === 0 && status.code !== Status.OK && status.code !== Status.CANCELLED) {
      this.log.debug('telemetry report stream ended', { code: status.code, details: status.details });
    }
    this.settle(state.pending.splice(0), state.status, state.answers === 0);
  }

  /** Ends a stream we no longer trust; its reports fail with `why`. */
  private breakStream(state: ReportStreamState, why: GrpcStatus): void {
    if (state.status !== undefined) return;
    state.breakStatus = why;
    state.handle?.cancel();
  }

  /** Reports left without an answer when their stream ended with `status`. */
  private settle(entries: readonly Pending[], status: GrpcStatus, noAnswers: boolean): void {
    if (status.code === Status.UNIMPLEMENTED && noAnswers && this.mode === 'stream') {
      this.mode = 'unary';
      this.log.info('the controller does not serve Telemetry.ReportStream (an older controller): reporting with a Report call per interval', { details: status.details });
    }
    for (const entry of entries) {
      clearTimeout(entry.timer);
      if (status.code === Status.UNIMPLEMENTED && this.mode === 'unary') this.unary(entry.report, entry.timeoutMs).then(entry.resolve, entry.reject);
      else entry.reject(new GrpcError(status));
    }
  }

  private async unary(report: OutgoingReport, timeoutMs: number): Promise<void> {
    await this.channel.unary(ReportBytes, report, { timeoutMs });
  }
}
