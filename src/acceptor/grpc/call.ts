// One gRPC call on the lean HTTP/2 engine, from request head to status: the request message framed and
// sent with END_STREAM (the control plane's calls are unary or server-streaming), response messages
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

export class ClientCall implements ClientCallHandle {
  private readonly host: CallHost;
  private readonly method: MethodDescriptor<unknown, unknown>;
  private readonly request: Buffer;
  private readonly observer: CallObserver<unknown>;
  private readonly timeoutMs: number | undefined;
  private readonly assembler: MessageAssembler;
  private timer: NodeJS.Timeout | undefined;
  private link: Link | undefined;
  private stream: H2Stream | undefined;
  private headersSeen = false;
  private retried = false;
  private ended = false;

  constructor(host: CallHost, method: MethodDescriptor<unknown, unknown>, request: unknown, observer: CallObserver<unknown>, options: CallOptions) {
    this.host = host;
    this.method = method;
    this.observer = observer;
    this.timeoutMs = options.timeoutMs;
    this.assembler = new MessageAssembler(host.maxMessageBytes);
    // Encoding errors are the caller's: thrown before anything is sent.
    this.request = frameMessage(method.encode(request));
  }

  get done(): boolean {
    return this.ended;
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
    link.conn.sendData(stream, this.request, true);
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
    if (h2Code === ErrorCode.REFUSED_STREAM && !this.headersSeen && !this.retried) {
      // Not processed (GOAWAY, or the server shedding): safe to send again, once, on a fresh connection.
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
    if (reset && stream !== undefined && !stream.closed) this.link?.conn.reset(stream, ErrorCode.CANCEL);
    this.link?.detach(this);
    this.observer.status(status);
  }
}

function valueOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
