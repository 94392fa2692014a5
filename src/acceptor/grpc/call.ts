// One gRPC call on the lean HTTP/2 engine, from request head to status: the request message framed and
// sent with END_STREAM (unary and server-streaming calls), or, for a call that streams its requests
// (Telemetry.ReportStream), each message as the caller writes it until it ends its side; response messages
// reassembled and decoded as DATA arrives, the status taken from trailers, a trailers-only head, an HTTP
// status, a reset or a lost connection, and a deadline enforced here (a timer per call: control-plane
// calls are few). Every call ends exactly once, with a status; nothing is reported after it.
import { ErrorCode } from '../../workers/http2/frames.ts';
import type { H2Stream } from '../../workers/http2/stream.ts';
import { FramingError, MessageAssembler, frameMessage } from './framing.ts';
import { Status, encodeGrpcTimeout, statusFromFields, statusFromHttp, statusFromReset, type GrpcStatus } from './status.ts';
import type { Link } from './link.ts';

/** A method: its path and how its messages are written and read. */
export interface MethodDescriptor<Req, Res> {
  /** `/package.Service/Method` */
  readonly path: string;
  encode(request: Req): Buffer;
  decode(bytes: Buffer): Res;
}

/** What a call reports: each response message, then its status, once. */
export interface CallObserver<Res> {
  message(message: Res): void;
  status(status: GrpcStatus): void;
}

export interface CallOptions {
  /** Sent as `grpc-timeout`, and enforced here: DEADLINE_EXCEEDED once it passes. */
  readonly timeoutMs?: number;
}

/** What the channel gives a call to start on. */
export interface CallHost {
  /** A connection that can open a stream for `call` now, or that will call `call.open` once it can. */
  attach(call: ClientCall): void;
  /** A stream was refused unprocessed on `link` (GOAWAY): no new stream goes there any more. */
  retire(link: Link): void;
  readonly headers: readonly string[];
  readonly maxMessageBytes: number;
}

export interface ClientCallHandle {
  /** Ends the call with CANCELLED (RST_STREAM CANCEL if it is on the wire); no-op once it ended. */
  cancel(): void;
}

/** A call whose requests are streamed: written one by one, then the caller's side ended. */
export interface ClientStreamHandle<Req> extends ClientCallHandle {
  /**
   * Sends one request message (held until the stream is open). False when the call has ended or its
   * side was ended: nothing was sent. Encoding errors are thrown (the caller's).
   */
  write(request: Req): boolean;
  /** Ends our side (END_STREAM); responses and the status still come. */
  end(): void;
  /** The call ended (its status was reported). */
  readonly done: boolean;
  /** Its connection takes no new calls (GOAWAY, or lost): a caller keeping the call long should move. */
  readonly retired: boolean;
}

const NO_BYTES = Buffer.alloc(0);

export class ClientCall implements ClientStreamHandle<unknown> {
  private readonly host: CallHost;
  private readonly method: MethodDescriptor<unknown, unknown>;
  /** The one request of a unary or server-streaming call; undefined when requests are streamed. */
  private readonly request: Buffer | undefined;
  /** Streamed requests written before the stream was open. */
  private readonly outbox: Buffer[] = [];
  private halfClosed = false;
  private readonly observer: CallObserver<unknown>;
  private readonly timeoutMs: number | undefined;
  private readonly assembler: MessageAssembler;
  private timer: NodeJS.Timeout | undefined;
  private link: Link | undefined;
  private stream: H2Stream | undefined;
  private headersSeen = false;
  private retried = false;
  private ended = false;

  /** `streamRequests`: `request` is ignored; the caller writes requests with `write()` and ends with `end()`. */
  constructor(host: CallHost, method: MethodDescriptor<unknown, unknown>, request: unknown, observer: CallObserver<unknown>, options: CallOptions, streamRequests = false) {
    this.host = host;
    this.method = method;
    this.observer = observer;
    this.timeoutMs = options.timeoutMs;
    this.assembler = new MessageAssembler(host.maxMessageBytes);
    // Encoding errors are the caller's: thrown before anything is sent.
    this.request = streamRequests ? undefined : frameMessage(method.encode(request));
  }

  get done(): boolean {
    return this.ended;
  }

  get retired(): boolean {
    return this.link?.retired ?? false;
  }

  write(request: unknown): boolean {
    if (this.request !== undefined) throw new Error(`${this.method.path} does not stream its requests`);
    const frame = frameMessage(this.method.encode(request));
    if (this.ended || this.halfClosed) return false;
    const stream = this.stream;
    if (stream === undefined) this.outbox.push(frame);
    else (this.link as Link).conn.sendData(stream, frame, false);
    return true;
  }

  end(): void {
    if (this.request !== undefined || this.ended || this.halfClosed) return;
    this.halfClosed = true;
    if (this.stream !== undefined) (this.link as Link).conn.sendData(this.stream, NO_BYTES, true);
  }

  start(): void {
    if (this.timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.finish({ code: Status.DEADLINE_EXCEEDED, details: `deadline of ${this.timeoutMs} ms exceeded` }, true), this.timeoutMs);
      this.timer.unref();
    }
    this.host.attach(this);
  }

  cancel(): void {
    this.finish({ code: Status.CANCELLED, details: 'cancelled by the client' }, true);
  }

  /** The link has a stream for us: send the request. */
  open(link: Link): void {
    if (this.ended) return;
    this.link = link;
    const headers = [':method', 'POST', ':scheme', link.scheme, ':path', this.method.path, ...this.host.headers];
    if (this.timeoutMs !== undefined) headers.push('grpc-timeout', encodeGrpcTimeout(this.timeoutMs));
    const stream = link.conn.openStream(headers, false, this);
    this.stream = stream;
    if (this.request !== undefined) return void link.conn.sendData(stream, this.request, true);
    for (const frame of this.outbox.splice(0)) link.conn.sendData(stream, frame, false);
    if (this.halfClosed) link.conn.sendData(stream, NO_BYTES, true);
  }

  /** The link failed before a stream could be opened (connect refused, closed, GOAWAY). */
  fail(status: GrpcStatus): void {
    this.finish(status, false);
  }

  onHeaders(headers: string[], httpStatus: number, endStream: boolean): void {
    if (httpStatus < 200) return;
    this.headersSeen = true;
    const hasStatus = headers.includes('grpc-status');
    if (endStream || (httpStatus !== 200 && !hasStatus)) {
      // Trailers-only (the status in the head), or an HTTP answer from something that is not gRPC.
      this.finish(hasStatus ? statusFromFields(headers) : statusFromHttp(httpStatus), !endStream);
      return;
    }
    const type = valueOf(headers, 'content-type');
    if (type === undefined || !type.startsWith('application/grpc')) {
      this.finish({ code: Status.UNKNOWN, details: `response content-type ${JSON.stringify(type ?? '')} is not gRPC` }, true);
    }
  }

  onData(data: Buffer, endStream: boolean): void {
    const link = this.link as Link;
    link.conn.consumed(this.stream as H2Stream, data.length);
    if (this.ended) return;
    try {
      this.assembler.push(data, this.deliver);
    } catch (error) {
      if (error instanceof FramingError) return this.finish(error.status, true);
      throw error;
    }
    if (endStream && !this.ended) this.finish({ code: Status.INTERNAL, details: 'the server ended the stream without trailers' }, false);
  }

  onTrailers(trailers: string[]): void {
    if (this.assembler.partial) return this.finish({ code: Status.INTERNAL, details: 'the stream ended inside a message' }, false);
    this.finish(statusFromFields(trailers), false);
  }

  /** The stream is gone: reset by the server, refused, or its connection closed (`lost` says why). */
  onReset(h2Code: number, lost: string | undefined): void {
    if (this.ended) return;
    // (The engine may have closed a connection whose last stream GOAWAY refused before reporting it, so
    // a refusal is a refusal even with the connection gone.)
    if (h2Code === ErrorCode.REFUSED_STREAM && !this.headersSeen && !this.retried && this.request !== undefined) {
      // Not processed (GOAWAY, or the server shedding): safe to send again, once, on a fresh connection.
      // (Not a call that streams its requests: those already sent are gone; its caller sends them again.)
      this.retried = true;
      this.host.retire(this.link as Link);
      this.link = undefined;
      this.stream = undefined;
      queueMicrotask(() => {
        if (!this.ended) this.host.attach(this);
      });
      return;
    }
    this.finish(lost !== undefined ? { code: Status.UNAVAILABLE, details: lost } : statusFromReset(h2Code), false);
  }

  private readonly deliver = (bytes: Buffer): void => {
    if (this.ended) return;
    let message: unknown;
    try {
      message = this.method.decode(bytes);
    } catch (error) {
      return this.finish({ code: Status.INTERNAL, details: `could not decode the response: ${(error as Error).message}` }, true);
    }
    try {
      this.observer.message(message);
    } catch (error) {
      this.finish({ code: Status.INTERNAL, details: `the response handler failed: ${(error as Error).message}` }, true);
    }
  };

  /** Ends the call once; `reset`: the stream may still be open on the wire and must be cancelled. */
  private finish(status: GrpcStatus, reset: boolean): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    const stream = this.stream;
    // A call that streams its requests and still has its side open must close it: nothing else would.
    const ourSideOpen = this.request === undefined && stream !== undefined && !stream.localEnded && !stream.endAfterQueue;
    if ((reset || ourSideOpen) && stream !== undefined && !stream.closed) this.link?.conn.reset(stream, ErrorCode.CANCEL);
    this.link?.detach(this);
    this.observer.status(status);
  }
}

function valueOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
