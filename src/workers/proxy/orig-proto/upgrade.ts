// Outbound half of the mesh hop's orig-proto scheme: an HTTP/1.1 request to an endpoint that Destination
// hints is a proxy taking HTTP/2 (`protocol_hint.h2`) leaves as a stream on the one multiplexed
// connection to that endpoint (h2/upstreams.ts), marked `l5d-orig-proto`, and its HTTP/2 response comes
// back rebuilt as HTTP/1.1. To the HTTP/1 exchange (http1/exchange.ts) an UpgradedStream is just another
// pooled connection — bytes in, bytes out — so its retries, timeouts, metrics and tap stay as they are.
// The request head is read again from the bytes the exchange writes (a few hundred bytes, ~1 µs) rather
// than widening the exchange's interface. Streams are recycled: no closures per request.
import type { HostPort } from '../../../config/parse.ts';
import { ProxyError } from '../../../core/errors.ts';
import { CHUNKED_BAD, ChunkedDecoder } from '../../http1/chunked-decoder.ts';
import { bodyFraming, parseHead } from '../../http1/parse.ts';
import { ErrorCode } from '../../http2/frames.ts';
import type { H2Stream } from '../../http2/stream.ts';
import type { PeerIdentity } from '../../tls/mesh-credentials.ts';
import type { UpstreamConn, UpstreamStreamOwner } from '../h2/upstreams.ts';
import type { Http1Upgrades } from '../http1/exchange-env.ts';
import type { AttemptUpstream, UpstreamOwner, UpstreamWire } from '../http1/upstream-pool.ts';
import { F_CHUNKED, F_LENGTH, F_NONE, RebuiltHead, downgradedResponseHead, lastChunk, trailerList, upgradedRequestHeaders } from './fields.ts';

/** Where the streams come from: the outbound HTTP/2 stack's connections (h2/front.ts). */
export interface StreamSource {
  requestStream(addr: HostPort, key: string, owner: UpstreamStreamOwner, peer: PeerIdentity | undefined, tlsLabels: string): UpstreamConn | undefined;
}

const MAX_HEAD = 64 * 1024;
const MAX_FREE = 256;
const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n', 'latin1');
const END_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

const U_IDLE = 0;
/** The exchange has not written the whole request head yet. */
const U_HEAD = 1;
/** Waiting for a stream slot. */
const U_QUEUED = 2;
const U_OPEN = 3;

export class Upgrades implements Http1Upgrades {
  readonly source: StreamSource;
  private readonly free: UpgradedStream[] = [];

  constructor(source: StreamSource) {
    this.source = source;
  }

  acquire(addr: HostPort, key: string, owner: UpstreamOwner, peer: PeerIdentity | undefined, tlsLabels: string): AttemptUpstream {
    const s = this.free.pop() ?? new UpgradedStream(this);
    s.start(addr, key, owner, peer, tlsLabels);
    return s;
  }

  recycle(s: UpgradedStream): void {
    if (this.free.length < MAX_FREE) this.free.push(s);
  }
}

class UpgradedStream implements AttemptUpstream, UpstreamWire, UpstreamStreamOwner {
  private readonly upgrades: Upgrades;
  private readonly decoder = new ChunkedDecoder();
  private readonly pieces: Buffer[] = [];
  private readonly rebuilt = new RebuiltHead();
  private readonly flushHead = (): void => this.deliverPendingHead();
  private readonly reportFailure = (): void => this.failNow();
  readonly ended = false;
  private state = U_IDLE;
  private owner: UpstreamOwner | undefined;
  private addr: HostPort = { host: '', port: 0 };
  private key = '';
  private peer: PeerIdentity | undefined;
  private tlsLabels = '';
  // The request.
  private headBuf: Buffer | undefined;
  private headers: string[] = [];
  private isHead = false;
  private reqFraming = F_NONE;
  private reqRemaining = 0;
  private reqEnded = false;
  private reqTrailers: string[] | undefined;
  /** Payload that arrived before the stream was open. */
  private pending: Buffer[] = [];
  private resent = false;
  private queuedOn: UpstreamConn | undefined;
  private up: UpstreamConn | undefined;
  private stream: H2Stream | undefined;
  private blocked = false;
  private failure: Error | undefined;
  // The response.
  private respChunked = false;
  private pendingHead: Buffer | undefined;
  private paused = false;
  private held: Buffer[] = [];
  private heldRefund = 0;

  constructor(upgrades: Upgrades) {
    this.upgrades = upgrades;
  }

  get socket(): UpstreamWire {
    return this;
  }

  start(addr: HostPort, key: string, owner: UpstreamOwner, peer: PeerIdentity | undefined, tlsLabels: string): void {
    this.state = U_HEAD;
    this.owner = owner;
    this.addr = addr;
    this.key = key;
    this.peer = peer;
    this.tlsLabels = tlsLabels;
    this.reqEnded = false;
    this.reqTrailers = undefined;
    this.resent = false;
    this.blocked = false;
    this.paused = false;
    this.failure = undefined;
  }

  // ── The exchange's side: an HTTP/1 connection ────────────────────────────────────────────────────

  write(chunk: Buffer): boolean {
    if (this.state === U_HEAD) return this.writeHead(chunk);
    if (this.state !== U_IDLE && !this.reqEnded) this.body(chunk, 0);
    return !this.blocked;
  }

  private writeHead(chunk: Buffer): boolean {
    // The exchange writes the head alone, in one piece: as its client connection parsed it, it is not
    // parsed again (the bytes may lack hop-by-hop fields, which the HTTP/2 head drops as well).
    const parsed = this.headBuf === undefined ? this.owner?.requestHeadParsed : undefined;
    const buf = this.headBuf === undefined ? chunk : Buffer.concat([this.headBuf, chunk]);
    const head = parsed ?? parseHead(buf, true, MAX_HEAD);
    if (head === 'need-more') {
      this.headBuf = buf;
      return true;
    }
    this.headBuf = undefined;
    const framing = typeof head === 'string' ? undefined : bodyFraming(head, true);
    if (typeof head === 'string' || framing === undefined || framing.kind === 'bad' || framing.kind === 'close') {
      // The fast engine never hands over a head it could not parse; refuse rather than guess.
      this.fail(new ProxyError('bad_request', 'request head cannot cross the mesh hop'));
      return true;
    }
    let host = '';
    for (let i = 0; i < head.names.length; i++) if (head.names[i] === 'host') host = head.values[i] as string;
    this.headers = upgradedRequestHeaders(head, host);
    this.isHead = head.method === 'HEAD';
    this.reqFraming = framing.kind === 'length' ? F_LENGTH : framing.kind === 'chunked' ? F_CHUNKED : F_NONE;
    this.reqRemaining = framing.kind === 'length' ? framing.length : 0;
    this.reqEnded = this.reqFraming === F_NONE;
    if (this.reqFraming === F_CHUNKED) this.decoder.reset();
    this.state = U_QUEUED;
    // A head handed over parsed came alone; parsed here, body bytes may follow it in the same chunk.
    const bodyAt = parsed === undefined ? head.end : buf.length;
    if (bodyAt < buf.length && !this.reqEnded) this.body(buf, bodyAt);
    this.requestStream();
    return !this.blocked;
  }

  private requestStream(): void {
    const conn = this.upgrades.source.requestStream(this.addr, this.key, this, this.peer, this.tlsLabels);
    if (conn === undefined) this.fail(new ProxyError('overloaded', 'too many streams waiting for the peer proxy'));
    else if (this.state === U_QUEUED) this.queuedOn = conn;
  }

  /** Request body bytes in HTTP/1 framing, from `from`: their payload goes out as DATA. */
  private body(buf: Buffer, from: number): void {
    const pieces = this.pieces;
    if (this.reqFraming === F_LENGTH) {
      const end = Math.min(buf.length, from + this.reqRemaining);
      this.reqRemaining -= end - from;
      if (end > from) pieces.push(from === 0 && end === buf.length ? buf : buf.subarray(from, end));
      if (this.reqRemaining === 0) this.reqEnded = true;
    } else {
      const at = this.decoder.decode(buf, from, buf.length, pieces);
      if (at === CHUNKED_BAD) {
        pieces.length = 0;
        return this.fail(new ProxyError('bad_request', 'malformed chunked request body'));
      }
      if (at >= 0) {
        this.reqEnded = true;
        const trailers = this.decoder.trailers === '' ? undefined : trailerList(this.decoder.trailers);
        if (trailers !== undefined && trailers.length > 0) this.reqTrailers = trailers;
      }
    }
    if (this.stream === undefined) {
      for (const piece of pieces) this.pending.push(piece);
    } else {
      for (let i = 0; i < pieces.length; i++) this.send(pieces[i] as Buffer, i === pieces.length - 1);
      if (pieces.length === 0 && this.reqEnded) this.endRequest();
    }
    pieces.length = 0;
  }

  /** Sends one payload piece; the last one of a request carries END_STREAM (or trailers follow). */
  private send(piece: Buffer, lastOfBatch: boolean): void {
    const stream = this.stream as H2Stream;
    const end = lastOfBatch && this.reqEnded && this.reqTrailers === undefined;
    if (piece.length === 0 && !end) return;
    const sent = (this.up as UpstreamConn).conn.sendData(stream, piece, end);
    if (sent < piece.length) this.blocked = true;
    if (lastOfBatch && this.reqEnded && this.reqTrailers !== undefined) (this.up as UpstreamConn).conn.sendTrailers(stream, this.reqTrailers);
  }

  private endRequest(): void {
    const stream = this.stream as H2Stream;
    if (stream.localEnded) return;
    const { conn } = this.up as UpstreamConn;
    if (this.reqTrailers !== undefined) conn.sendTrailers(stream, this.reqTrailers);
    else conn.sendData(stream, EMPTY, true);
  }

  cork(): void {}
  uncork(): void {}

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    const refund = this.heldRefund;
    this.heldRefund = 0;
    const { up, stream } = this;
    if (up !== undefined && stream !== undefined && refund > 0) up.conn.consumed(stream, refund);
    for (const bytes of held) if (this.owner !== undefined) this.owner.onUpstreamData(bytes);
  }

  finish(_reusable: boolean): void {
    if (this.state === U_IDLE) return;
    const { stream, up } = this;
    // A stream still open (the exchange was abandoned, or answered before its request ended) is cancelled.
    // One whose both sides ended is not: the exchange completes inside the final DATA's delivery, before
    // the engine retires the stream on return — a reset then would cost the peer a frame per request.
    if (stream !== undefined && up !== undefined && !stream.closed && !(stream.localEnded && stream.remoteEnded)) up.conn.reset(stream, ErrorCode.CANCEL);
    this.queuedOn?.cancel(this);
    this.state = U_IDLE;
    this.owner = undefined;
    this.queuedOn = undefined;
    this.up = undefined;
    this.stream = undefined;
    this.headBuf = undefined;
    this.pending = [];
    this.held = [];
    this.heldRefund = 0;
    this.pendingHead = undefined;
    this.upgrades.recycle(this);
  }

  // ── The HTTP/2 side ─────────────────────────────────────────────────────────────────────────────

  open(conn: UpstreamConn): void {
    if (this.state !== U_QUEUED) return;
    this.state = U_OPEN;
    this.queuedOn = undefined;
    this.up = conn;
    const pending = this.pending;
    const bodyless = this.reqEnded && pending.length === 0 && this.reqTrailers === undefined;
    const stream = conn.conn.openStream(this.headers, bodyless, this);
    stream.isHeadRequest = this.isHead;
    this.stream = stream;
    if (bodyless) return;
    this.pending = [];
    for (let i = 0; i < pending.length; i++) this.send(pending[i] as Buffer, i === pending.length - 1);
    if (pending.length === 0 && this.reqEnded) this.endRequest();
  }

  noStream(error: Error | undefined): void {
    if (this.state !== U_QUEUED) return;
    this.queuedOn = undefined;
    this.fail(error ?? new ProxyError('upstream_reset', 'connection to the peer proxy closed'));
  }

  responseHeaders(_up: UpstreamConn, stream: H2Stream, headers: string[], status: number, endStream: boolean): void {
    if (stream !== this.stream) return;
    const bodiless = status < 200 || this.isHead || status === 204 || status === 304;
    const rebuilt = this.rebuilt;
    downgradedResponseHead(rebuilt, headers, status, bodiless, endStream);
    this.respChunked = rebuilt.framing === F_CHUNKED;
    const bytes = Buffer.from(rebuilt.text, 'latin1');
    if (!bodiless && !endStream) {
      // Usually the first DATA is in the same read: head and body then reach the client in one write.
      this.pendingHead = bytes;
      process.nextTick(this.flushHead);
      return;
    }
    this.deliver(bytes, 0);
  }

  responseData(up: UpstreamConn, stream: H2Stream, data: Buffer, endStream: boolean): void {
    if (stream !== this.stream) return up.conn.consumed(stream, data.length);
    let out = data;
    if (this.respChunked) {
      if (data.length > 0) {
        const size = Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1');
        out = endStream ? Buffer.concat([size, data, CRLF, END_CHUNK]) : Buffer.concat([size, data, CRLF]);
      } else {
        out = endStream ? END_CHUNK : EMPTY;
      }
    }
    const head = this.pendingHead;
    if (head !== undefined) {
      this.pendingHead = undefined;
      out = out.length === 0 ? head : Buffer.concat([head, out]);
    }
    if (out.length > 0) this.deliver(out, data.length);
    else up.conn.consumed(stream, data.length);
  }

  responseTrailers(_up: UpstreamConn, stream: H2Stream, trailers: string[]): void {
    if (stream !== this.stream) return;
    this.deliverPendingHead();
    // Trailers reach an HTTP/1 client only in a chunked body; with Content-Length they are dropped.
    if (this.respChunked && this.stream === stream) this.deliver(Buffer.from(lastChunk(trailers), 'latin1'), 0);
  }

  upstreamReset(up: UpstreamConn, stream: H2Stream, code: number): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.pendingHead = undefined;
    if (code === ErrorCode.REFUSED_STREAM && !this.resent && this.reqFraming === F_NONE) {
      // Refused unprocessed (GOAWAY, or the peer shedding, RFC 9113 §8.7): sent once more on a fresh stream.
      this.resent = true;
      this.state = U_QUEUED;
      return this.requestStream();
    }
    this.owner?.onUpstreamError(up.error ?? new ProxyError('upstream_reset', `stream reset by the peer proxy (HTTP/2 error ${code})`));
  }

  upstreamWindow(stream: H2Stream, _flushed: number): void {
    if (stream !== this.stream || !this.blocked || stream.queuedBytes > 0) return;
    this.blocked = false;
    this.owner?.onUpstreamDrain();
  }

  // ── Helpers ─────────────────────────────────────────────────────────────────────────────────────

  /** Response bytes to the exchange, or held while it is paused; `refund` HTTP/2 bytes go back once they left. */
  private deliver(bytes: Buffer, refund: number): void {
    const { up, stream } = this;
    if (this.paused) {
      this.held.push(bytes);
      this.heldRefund += refund;
      return;
    }
    if (refund > 0 && up !== undefined && stream !== undefined) up.conn.consumed(stream, refund);
    this.owner?.onUpstreamData(bytes);
  }

  private deliverPendingHead(): void {
    const head = this.pendingHead;
    if (head === undefined) return;
    this.pendingHead = undefined;
    this.deliver(head, 0);
  }

  /** Errors are reported on the next tick: the exchange may be in the middle of writing to us. */
  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    process.nextTick(this.reportFailure);
  }

  private failNow(): void {
    const error = this.failure;
    if (error === undefined || this.state === U_IDLE) return;
    this.failure = undefined;
    const { up, stream } = this;
    if (up !== undefined && stream !== undefined && !stream.closed) up.conn.reset(stream, ErrorCode.CANCEL);
    this.stream = undefined;
    this.owner?.onUpstreamError(error);
  }
}
