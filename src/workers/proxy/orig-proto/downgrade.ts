// Inbound half of the mesh hop's orig-proto scheme: an HTTP/2 stream whose request carries
// `l5d-orig-proto` was an HTTP/1 request at the far end, so it reaches the application as HTTP/1 again —
// through the inbound HTTP/1 engine's own exchange (http1/exchange.ts) and keep-alive pool, so routing,
// metrics, tap, timeouts and error answers are those of any inbound HTTP/1 request. A DowngradedRequest
// is the exchange's "client connection": the HTTP/1 bytes it writes back (the application's response, or
// the proxy's own error answer) are turned into the stream's HTTP/2 response, marked `l5d-orig-proto`.
// Flow control is end to end: the peer's DATA is refunded once it went into the application's socket,
// and the application's response waits while the stream's window is shut. Recycled: no closures per request.
import { CHUNKED_BAD, ChunkedDecoder } from '../../http1/chunked-decoder.ts';
import { parseHead, type Head } from '../../http1/parse.ts';
import { B_CHUNKED, B_LENGTH, B_NONE, responseFraming } from '../../http1/response-framing.ts';
import type { H2Connection } from '../../http2/connection.ts';
import { ErrorCode } from '../../http2/frames.ts';
import type { H2Stream } from '../../http2/stream.ts';
import type { Endpoint } from '../../balance/endpoints.ts';
import { pathOf } from '../../profiles/routes.ts';
import type { TapStream } from '../../tap/registry.ts';
import type { HostPort } from '../../../config/parse.ts';
import type { AcceptedConnection } from '../context.ts';
import { headerFields } from '../h2/fields.ts';
import { Exchange } from '../http1/exchange.ts';
import type { ExchangeClient, ExchangeEnv } from '../http1/exchange-env.ts';
import { CLIENT_ID_HEADER, tapTls } from '../mesh-tls.ts';
import { httpTarget } from '../routing.ts';
import { F_CHUNKED, RebuiltHead, downgradedRequestHead, lastChunk, trailerList, upgradedResponseHeaders, type OrigProto } from './fields.ts';

/** The inbound HTTP/1 engine (http1/fast-engine.ts) whose exchanges and pool the requests use. */
export interface Http1Engine extends ExchangeEnv {
  startSweeper(): void;
}

/** The HTTP/2 front's sweep, which checks every deadline of its direction (h2/front.ts). */
export interface DeadlineWatch {
  track(item: { check(now: number): void }): void;
  untrack(item: { check(now: number): void }): void;
}

const MAX_FREE = 256;
const MAX_RESPONSE_HEAD = 64 * 1024;
const EMPTY = Buffer.alloc(0);
const HEAD_END = '\r\n\r\n';
const CRLF = Buffer.from('\r\n', 'latin1');
const END_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

const R_HEAD = 0;
const R_BODY = 1;
const R_DONE = 2;

export class Downgrades {
  readonly engine: Http1Engine;
  readonly watch: DeadlineWatch;
  private readonly free: DowngradedRequest[] = [];

  constructor(engine: Http1Engine, watch: DeadlineWatch) {
    this.engine = engine;
    this.watch = watch;
  }

  /** Serves one upgraded request; the stream's ctx is its handler until it ends. */
  serve(down: H2Connection, stream: H2Stream, conn: AcceptedConnection, headers: string[], endStream: boolean, proto: OrigProto): void {
    (this.free.pop() ?? new DowngradedRequest(this)).start(down, stream, conn, headers, endStream, proto);
  }

  recycle(r: DowngradedRequest): void {
    if (this.free.length < MAX_FREE) this.free.push(r);
  }
}

class DowngradedRequest implements ExchangeClient {
  private readonly downgrades: Downgrades;
  private readonly exchange: Exchange;
  private readonly rebuilt = new RebuiltHead();
  private readonly decoder = new ChunkedDecoder();
  private readonly pieces: Buffer[] = [];
  conn!: AcceptedConnection;
  private down!: H2Connection;
  private stream!: H2Stream;
  private headers: string[] = [];
  private active = false;
  // The request body towards the application.
  private reqChunked = false;
  /** HTTP/1-framed body bytes the exchange could not take yet, and the HTTP/2 bytes they refund. */
  private queue: Buffer[] = [];
  private queueRefund = 0;
  /** The request ends once the queue has been handed over. */
  private endQueued = false;
  // The response towards the peer proxy.
  private resp = R_HEAD;
  private respBuf: Buffer | undefined;
  private respBody = B_NONE;
  private respRemaining = 0;
  private isHead = false;
  private respPaused = false;

  constructor(downgrades: Downgrades) {
    this.downgrades = downgrades;
    this.exchange = new Exchange(downgrades.engine, this);
  }

  start(down: H2Connection, stream: H2Stream, conn: AcceptedConnection, headers: string[], endStream: boolean, proto: OrigProto): void {
    this.down = down;
    this.stream = stream;
    this.conn = conn;
    this.headers = headers;
    this.active = true;
    this.resp = R_HEAD;
    this.respPaused = false;
    this.endQueued = false;
    stream.ctx = this;
    const rebuilt = this.rebuilt;
    downgradedRequestHead(rebuilt, headers, proto, endStream, CLIENT_ID_HEADER, conn.clientId);
    this.reqChunked = rebuilt.framing === F_CHUNKED;
    const ex = this.exchange;
    ex.startedAt = performance.now();
    ex.method = 'GET';
    ex.host = '';
    ex.path = '/';
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i] as string;
      if (name === ':method') ex.method = headers[i + 1] as string;
      else if (name === ':path') ex.path = headers[i + 1] as string;
      else if (name === ':authority' || (name === 'host' && ex.host === '')) ex.host = headers[i + 1] as string;
    }
    this.isHead = ex.method === 'HEAD';
    ex.requestEnded = endStream;
    ex.headOut = Buffer.from(rebuilt.text, 'latin1');
    ex.requestHeadParsed = undefined;
    const { engine, watch } = this.downgrades;
    engine.startSweeper();
    watch.track(this);
    // Inbound requests go where the connection was going: the application (routing.ts).
    ex.begin(httpTarget(conn, undefined, engine.ctx.config));
  }

  // ── The peer proxy's stream ─────────────────────────────────────────────────────────────────────

  requestData(data: Buffer, endStream: boolean): void {
    let bytes = data;
    if (this.reqChunked) {
      if (data.length > 0) {
        const size = Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1');
        bytes = endStream ? Buffer.concat([size, data, CRLF, END_CHUNK]) : Buffer.concat([size, data, CRLF]);
      } else {
        bytes = endStream ? END_CHUNK : EMPTY;
      }
    }
    this.forward(bytes, data.length, endStream);
  }

  requestTrailers(trailers: string[]): void {
    // An HTTP/1 request carries trailers only in a chunked body; with Content-Length they are dropped.
    this.forward(this.reqChunked ? Buffer.from(lastChunk(trailers), 'latin1') : EMPTY, 0, true);
  }

  /** Request body bytes to the exchange now, or queued until it wants them (bodyWanted). */
  private forward(bytes: Buffer, refund: number, last: boolean): void {
    if (!this.active) return;
    if (this.queue.length === 0 && !this.endQueued && this.exchange.wantsBody) return this.hand(bytes, refund, last);
    if (bytes.length > 0) this.queue.push(bytes);
    this.queueRefund += refund;
    if (last) this.endQueued = true;
    // Nothing to wait for when the exchange is not connected yet and this was the empty end.
    if (last && this.queue.length === 0 && !this.exchange.wantsBody) {
      this.endQueued = false;
      this.exchange.requestEnded = true;
      this.refund(this.queueRefund);
      this.queueRefund = 0;
    }
  }

  private hand(bytes: Buffer, refund: number, last: boolean): void {
    const ex = this.exchange;
    if (last) ex.requestEnded = true; // before the last bytes, as the HTTP/1 client connection does
    if (bytes.length > 0) ex.body(bytes);
    this.refund(refund);
  }

  private refund(n: number): void {
    if (n > 0) this.down.consumed(this.stream, n);
  }

  bodyWanted(): void {
    const ex = this.exchange;
    if (!this.active || (this.queue.length === 0 && !this.endQueued)) return;
    while (this.queue.length > 0 && ex.wantsBody) {
      const bytes = this.queue.shift() as Buffer;
      const last = this.queue.length === 0 && this.endQueued;
      if (last) ex.requestEnded = true;
      ex.body(bytes);
    }
    if (this.queue.length === 0) {
      if (this.endQueued) ex.requestEnded = true;
      this.endQueued = false;
      this.refund(this.queueRefund);
      this.queueRefund = 0;
    }
  }

  /** The peer reset the stream (or its connection went): the application's exchange is dropped. */
  clientReset(_code: number): void {
    if (!this.active) return;
    this.exchange.abandon();
    this.release();
  }

  /** Response bytes left towards the peer: the application's response may flow again. */
  clientWindow(_flushed: number): void {
    if (this.respPaused && this.stream.queuedBytes === 0) {
      this.respPaused = false;
      this.exchange.resumeUpstream();
    }
  }

  check(now: number): void {
    if (this.active) this.exchange.check(now);
  }

  // ── The exchange's client side: HTTP/1 bytes become the HTTP/2 response ─────────────────────────

  writeClient(data: Buffer): void {
    if (!this.active || this.resp === R_DONE) return;
    if (this.resp === R_BODY) return this.responseBody(data, 0);
    // The final head as the exchange parsed it comes with its bytes: only where its body begins is looked
    // for (the exchange may have rewritten the head's hop-by-hop fields, which HTTP/2 drops anyway).
    const parsed = this.exchange.responseHeadParsed;
    if (parsed !== undefined && this.respBuf === undefined) {
      this.exchange.responseHeadParsed = undefined;
      return this.responseStart(parsed, data, data.indexOf(HEAD_END, 0, 'latin1') + 4);
    }
    // Otherwise (1xx heads, the proxy's own answers) the bytes are parsed.
    let buf = this.respBuf === undefined ? data : Buffer.concat([this.respBuf, data]);
    for (;;) {
      const head = parseHead(buf, false, MAX_RESPONSE_HEAD);
      if (head === 'need-more') {
        this.respBuf = buf;
        return;
      }
      this.respBuf = undefined;
      // The exchange parsed these very bytes before writing them: never expected, but never forwarded.
      if (typeof head === 'string') return this.destroyAll();
      if (head.status >= 200) return this.responseStart(head, buf, head.end);
      if (responseFraming(head, this.isHead) === 'bad') return this.destroyAll();
      if (head.status !== 101) this.down.sendHeaders(this.stream, upgradedResponseHeaders(head), false);
      if (head.end === buf.length) return;
      buf = buf.subarray(head.end);
    }
  }

  /** The final response head (its bytes in `buf`, its body from `bodyAt`) becomes the stream's HEADERS. */
  private responseStart(head: Head, buf: Buffer, bodyAt: number): void {
    const framing = responseFraming(head, this.isHead);
    if (framing === 'bad' || bodyAt < 4) return this.destroyAll();
    this.respBody = framing.body;
    this.respRemaining = framing.length;
    if (framing.body === B_NONE) {
      this.resp = R_DONE;
      this.down.sendHeaders(this.stream, upgradedResponseHeaders(head), true);
      return;
    }
    if (framing.body === B_CHUNKED) this.decoder.reset();
    this.resp = R_BODY;
    this.down.sendHeaders(this.stream, upgradedResponseHeaders(head), false);
    if (bodyAt < buf.length) this.responseBody(buf, bodyAt);
  }

  private responseBody(buf: Buffer, from: number): void {
    if (this.respBody === B_LENGTH) {
      const end = Math.min(buf.length, from + this.respRemaining);
      this.respRemaining -= end - from;
      const last = this.respRemaining === 0;
      if (last) this.resp = R_DONE;
      return this.send(from === 0 && end === buf.length ? buf : buf.subarray(from, end), last);
    }
    if (this.respBody !== B_CHUNKED) return this.send(from === 0 ? buf : buf.subarray(from), false); // until the upstream closes
    const pieces = this.pieces;
    const at = this.decoder.decode(buf, from, buf.length, pieces);
    if (at === CHUNKED_BAD) {
      pieces.length = 0;
      return this.destroyAll();
    }
    const ended = at >= 0;
    const trailers = ended && this.decoder.trailers !== '' ? trailerList(this.decoder.trailers) : undefined;
    const withTrailers = trailers !== undefined && trailers.length > 0;
    for (let i = 0; i < pieces.length; i++) this.send(pieces[i] as Buffer, ended && !withTrailers && i === pieces.length - 1);
    if (ended) {
      this.resp = R_DONE;
      if (withTrailers) this.down.sendTrailers(this.stream, trailers);
      else if (pieces.length === 0) this.down.sendData(this.stream, EMPTY, true);
    }
    pieces.length = 0;
  }

  private send(data: Buffer, end: boolean): void {
    if (data.length === 0 && !end) return;
    const sent = this.down.sendData(this.stream, data, end);
    if (sent < data.length && !this.respPaused) {
      this.respPaused = true;
      this.exchange.pauseUpstream();
    }
  }

  corkClient(): void {}
  uncorkClient(): void {}

  exchangeDone(_close: boolean): void {
    if (!this.active) return;
    const stream = this.stream;
    if (this.resp !== R_DONE && !stream.localEnded) this.down.sendData(stream, EMPTY, true); // a body delimited by close
    this.resp = R_DONE;
    // Answered before the request ended (an error): the peer need not send the rest (RFC 9113 §8.1).
    if (!stream.remoteEnded && !stream.closed) this.down.reset(stream, ErrorCode.NO_ERROR);
    this.release();
  }

  /** The response broke under way: the stream is reset, so the far client never takes it as complete. */
  destroyAll(): void {
    if (!this.active) return;
    this.exchange.abandon();
    if (!this.stream.closed) this.down.reset(this.stream, ErrorCode.INTERNAL_ERROR);
    this.release();
  }

  startTap(destination: HostPort | undefined, endpoint: Endpoint | undefined, startedAt: number): TapStream | undefined {
    const { remoteAddress, remotePort } = this.down.socket;
    const source = remoteAddress === undefined || remotePort === undefined ? undefined : { host: remoteAddress, port: remotePort };
    const ex = this.exchange;
    const { ctx } = this.downgrades.engine;
    const tls = tapTls(ctx, this.conn, endpoint);
    const request = { direction: this.conn.direction, source, destination, destinationLabels: endpoint?.labels, method: ex.method, tls };
    const headers = this.headers;
    return ctx.taps.start({ ...request, scheme: 'http', authority: ex.host, path: pathOf(ex.path) }, () => headerFields(headers), startedAt);
  }

  private release(): void {
    this.active = false;
    this.stream.ctx = undefined;
    this.refund(this.queueRefund); // body that never reached the application still leaves the windows
    this.queue = [];
    this.queueRefund = 0;
    this.endQueued = false;
    this.respBuf = undefined;
    this.headers = [];
    const { engine, watch } = this.downgrades;
    watch.untrack(this);
    engine.startSweeper(); // the application's connection may be idle in the pool now
    this.downgrades.recycle(this);
  }
}
