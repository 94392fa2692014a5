// The lean HTTP/2 engine: ONE state machine per connection, in either role (server: a client's connection
// handed over after protocol detection; client: our connection to an upstream). It owns framing only —
// frames, HPACK, stream states, flow control, SETTINGS, PING, GOAWAY, flood protection — and knows
// nothing of routing or discovery. Streams are plain records in a table (stream.ts); events go to ONE
// handler object per connection (H2Handler), so a request costs no EventEmitter and no closure.
//
// Flow control is end to end: DATA handed to the handler stays charged to our windows until the handler
// calls `consumed()` — a proxy does so once the bytes left through the other side — so a connection holds
// at most `connectionWindow` bytes however slow the far side is. Outgoing DATA is written without copying
// (a 9-byte header, then the caller's Buffer); what the peer's windows do not admit waits in a per-stream
// queue (bounded by the caller's own window, for a proxy) and goes out on WINDOW_UPDATE, and
// `onStreamWindow` reports it. No timers: a proxy runs per-engine sweepers for idle connections.
// Receive-side frame rules live in receive.ts, flow-controlled sending in send.ts, refunds of our receive
// windows in receive-window.ts, the handler contract and defaults in handler.ts; this file holds the
// state, the public methods and the connection's lifecycle.
import type net from 'node:net';
import { ClosedStreams } from './closed-streams.ts';
import { FloodMeter } from './flood.ts';
import { FrameReader } from './frame-reader.ts';
import {
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ErrorCode,
  H2Error,
  MAX_STREAM_ID,
  MAX_WINDOW,
  SettingId,
  encodeGoaway,
  frameHeaderBlock,
  FRAME_HEADER_SIZE,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  CLIENT_PREFACE,
} from './frames.ts';
import { HeaderBlockDecoder, HeaderBlockEncoder } from './header-codec.ts';
import type { HeadFacts } from './message.ts';
import { receiveFrame, type HeaderAssembly } from './receive.ts';
import { DEFAULTS, type H2Handler, type H2Options, type H2Role } from './handler.ts';
import { enqueue, flushAll, writeData } from './send.ts';
import { StreamTable } from './stream-table.ts';
import { WriteBatch } from './write-batch.ts';
import { refund, refundConnection } from './receive-window.ts';
import { H2Stream } from './stream.ts';

/** How long a closing connection may take to flush its last frames (GOAWAY) before it is destroyed. */
const CLOSE_LINGER_MS = 5000;

/** The opaque bytes of the PING that times a graceful GOAWAY (§6.8: the second GOAWAY after one round trip). */
const DRAIN_PING = Buffer.from('sluice-d', 'latin1');

export class H2Connection {
  readonly socket: net.Socket;
  readonly role: H2Role;
  readonly handler: H2Handler;
  readonly streams = new StreamTable();
  /** The highest stream id the peer opened (server role); what our GOAWAY names. */
  lastPeerStreamId = 0;
  /** Client role: the id our next stream gets. */
  nextStreamId = 1;
  /** Streams we opened (client) / the peer opened (server) that are still in the table. */
  localActive = 0;
  peerActive = 0;
  // The peer's SETTINGS.
  peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  peerInitialWindow = DEFAULT_WINDOW;
  /** Unknown until the peer's SETTINGS; 100 is what servers commonly advertise (§5.1.2 allows any). */
  peerMaxConcurrentStreams = 100;
  // Our settings; the stream window applies only once the peer acknowledged it.
  readonly localStreamWindow: number;
  effectiveStreamWindow = DEFAULT_WINDOW;
  settingsAcked = false;
  readonly maxConcurrentStreams: number;
  readonly maxHeaderListSize: number;
  /** Cap on one compressed header block across its CONTINUATIONs (CONTINUATION flood). */
  readonly maxHeaderBlockBytes: number;
  readonly writeHighWater: number;
  // Windows of the connection as a whole.
  connSendWindow = DEFAULT_WINDOW;
  connRecvWindow: number;
  readonly connectionWindow: number;
  connRefundPending = 0;
  /** Streams with queued DATA, in the order they started waiting. */
  readonly waiting = new Set<H2Stream>();
  readonly reader: FrameReader;
  readonly decoder: HeaderBlockDecoder;
  readonly encoder = new HeaderBlockEncoder();
  readonly closedStreams = new ClosedStreams();
  /** A header block being assembled from HEADERS + CONTINUATION (stream 0: none). */
  readonly assembly: HeaderAssembly = { streamId: 0, flags: 0, selfDependent: false, parts: [], bytes: 0, frames: 0 };
  readonly facts: HeadFacts = { status: 0, contentLength: -1, isHead: false };
  readonly resetMeter: FloodMeter;
  readonly ackMeter: FloodMeter;
  readonly emptyMeter: FloodMeter;
  readonly windowUpdateMeter: FloodMeter;
  /** GOAWAY: the last stream id we promised to process (MAX_STREAM_ID during a graceful drain's first phase). */
  goawaySentLastId = -1;
  goawayReceivedLastId = -1;
  /** No new streams; the connection ends once the table is empty. */
  draining = false;
  closed = false;
  /** Client role: a caller found no capacity, so `onStreamCapacity` is owed. */
  capacityWanted = false;
  /** This tick's frames, written as one at its end. */
  private readonly out: WriteBatch;

  constructor(socket: net.Socket, role: H2Role, handler: H2Handler, options: H2Options = {}) {
    this.socket = socket;
    this.role = role;
    this.handler = handler;
    this.localStreamWindow = options.streamWindow ?? DEFAULTS.streamWindow;
    this.connectionWindow = Math.max(DEFAULT_WINDOW, options.connectionWindow ?? DEFAULTS.connectionWindow);
    this.maxConcurrentStreams = options.maxConcurrentStreams ?? DEFAULTS.maxConcurrentStreams;
    this.maxHeaderListSize = options.maxHeaderListSize ?? DEFAULTS.maxHeaderListSize;
    this.maxHeaderBlockBytes = Math.max(2 * this.maxHeaderListSize, 16 << 10);
    this.decoder = new HeaderBlockDecoder(this.maxHeaderListSize);
    this.writeHighWater = options.writeHighWater ?? DEFAULTS.writeHighWater;
    if (this.localStreamWindow < 1 || this.localStreamWindow > MAX_WINDOW) throw new RangeError(`streamWindow out of range: ${this.localStreamWindow}`);
    if (this.connectionWindow > MAX_WINDOW) throw new RangeError(`connectionWindow out of range: ${this.connectionWindow}`);
    const floods = { ...DEFAULTS.floods, ...options.floods };
    this.resetMeter = new FloodMeter(...floods.resets);
    this.ackMeter = new FloodMeter(...floods.acks);
    this.emptyMeter = new FloodMeter(...floods.empty);
    this.windowUpdateMeter = new FloodMeter(...floods.windowUpdates);
    this.connRecvWindow = this.connectionWindow;
    this.reader = new FrameReader(this, { expectPreface: role === 'server' });
    this.out = new WriteBatch(socket);

    socket.setNoDelay(true);
    socket.cork();
    if (role === 'client') socket.write(CLIENT_PREFACE);
    const settings: Array<[number, number]> = [];
    if (role === 'client') settings.push([SettingId.ENABLE_PUSH, 0]);
    else settings.push([SettingId.MAX_CONCURRENT_STREAMS, this.maxConcurrentStreams]);
    if (this.localStreamWindow !== DEFAULT_WINDOW) settings.push([SettingId.INITIAL_WINDOW_SIZE, this.localStreamWindow]);
    settings.push([SettingId.MAX_HEADER_LIST_SIZE, this.maxHeaderListSize]);
    socket.write(encodeSettings(settings));
    if (this.connectionWindow > DEFAULT_WINDOW) socket.write(encodeWindowUpdate(0, this.connectionWindow - DEFAULT_WINDOW));
    socket.uncork();

    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => flushAll(this));
    socket.on('error', (err) => this.terminate(err, false));
    socket.on('close', () => this.terminate(this.streams.size > 0 ? new Error('connection lost with streams open') : null, false));
    // Parsed after the constructor returned, so that the handler can hold the connection before any event;
    // socket 'data' cannot come in between (I/O callbacks run after microtasks).
    const head = options.head;
    if (head !== undefined && head.length > 0) queueMicrotask(() => this.receive(head));
  }

  // ── Public API ────────────────────────────────────────────────────────────────────────────────────

  /** Client role: whether `openStream` may be called now (else wait for `onStreamCapacity`). */
  canOpenStream(): boolean {
    const can = this.role === 'client' && !this.draining && !this.closed && this.goawayReceivedLastId < 0 && this.localActive < this.peerMaxConcurrentStreams && this.nextStreamId <= MAX_STREAM_ID;
    if (!can) this.capacityWanted = true;
    return can;
  }

  /** Client role: opens a stream and sends its request head. Check `canOpenStream()` first. */
  openStream(headers: readonly string[], endStream: boolean, ctx?: unknown, neverIndexed?: readonly number[]): H2Stream {
    if (!this.canOpenStream()) throw new Error('no stream can be opened on this connection now');
    const stream = new H2Stream(this.nextStreamId, this.peerInitialWindow, this.effectiveStreamWindow);
    this.nextStreamId += 2;
    stream.ctx = ctx;
    for (let i = 0; i < headers.length && headers[i]!.charCodeAt(0) === 0x3a; i += 2) {
      if (headers[i] === ':method' && headers[i + 1] === 'HEAD') stream.isHeadRequest = true;
    }
    this.streams.set(stream.id, stream);
    this.localActive++;
    this.writeHead(stream, headers, endStream, neverIndexed);
    return stream;
  }

  /** A response head (server; 1xx heads may precede the final one) — or any head not ending the stream. */
  sendHeaders(stream: H2Stream, headers: readonly string[], endStream: boolean, neverIndexed?: readonly number[]): void {
    if (stream.closed) return;
    if (stream.localEnded || stream.endAfterQueue || stream.trailersAfterQueue !== null) throw new Error(`stream ${stream.id} already ended its side`);
    this.writeHead(stream, headers, endStream, neverIndexed);
  }

  /**
   * Body bytes. Returns how many went to the socket now; the rest waits (without copying) for window
   * and is reported through `onStreamWindow` as it leaves. On a stream already gone, the bytes are dropped
   * and reported as sent.
   */
  sendData(stream: H2Stream, data: Buffer, endStream: boolean): number {
    if (stream.closed) return data.length;
    if (stream.localEnded || stream.endAfterQueue || stream.trailersAfterQueue !== null) throw new Error(`stream ${stream.id} already ended its side`);
    if (stream.queuedBytes > 0) {
      enqueue(this, stream, data, endStream);
      return 0;
    }
    const written = writeData(this, stream, data, endStream);
    if (written < data.length) enqueue(this, stream, data.subarray(written), endStream);
    return written;
  }

  /** Trailers end our side; they follow any DATA still queued. */
  sendTrailers(stream: H2Stream, trailers: readonly string[], neverIndexed?: readonly number[]): void {
    if (stream.closed) return;
    if (stream.localEnded || stream.endAfterQueue || stream.trailersAfterQueue !== null) throw new Error(`stream ${stream.id} already ended its side`);
    if (stream.queuedBytes > 0) {
      stream.trailersAfterQueue = trailers;
      stream.trailersNeverIndexed = neverIndexed;
    } else {
      this.writeHead(stream, trailers, true, neverIndexed);
    }
  }

  /**
   * Field numbers (field i = headers[2i], headers[2i + 1]) of the head being delivered that the peer sent
   * never indexed (sensitive, RFC 7541 §7.1.3). Valid during onRequestHeaders / onResponseHeaders /
   * onTrailers; a proxy passes it to the send method that forwards the head.
   */
  get neverIndexed(): readonly number[] {
    return this.decoder.lastNeverIndexed;
  }

  /** RST_STREAM from our side; no `onReset` follows (the caller knows). */
  reset(stream: H2Stream, code: number = ErrorCode.CANCEL): void {
    if (stream.closed || this.closed) return;
    this.write(encodeRstStream(stream.id, code));
    this.retire(stream, true, true);
  }

  /** The handler is done with `n` bytes of `stream`'s DATA: they return to the peer's windows. */
  consumed(stream: H2Stream, n: number): void {
    refund(this, stream, n);
  }

  ping(opaque: Buffer = Buffer.alloc(8)): void {
    if (!this.closed) this.write(encodePing(opaque, false));
  }

  /**
   * GOAWAY. Graceful (NO_ERROR) on a server: GOAWAY(2^31-1) now, and the real last stream id after a PING
   * round trip, so that requests already on the wire are not refused (§6.8); streams in flight finish and
   * the connection closes when the table empties. Otherwise: GOAWAY(last id, code) and close.
   */
  goaway(code: number = ErrorCode.NO_ERROR, graceful: boolean = true, debug: string = ''): void {
    if (this.closed || (this.goawaySentLastId >= 0 && this.goawaySentLastId !== MAX_STREAM_ID)) return;
    if (graceful && code === ErrorCode.NO_ERROR && this.role === 'server' && this.goawaySentLastId < 0) {
      this.goawaySentLastId = MAX_STREAM_ID;
      this.draining = true;
      this.write(encodeGoaway(MAX_STREAM_ID, ErrorCode.NO_ERROR, debug));
      this.write(encodePing(DRAIN_PING, false));
      return;
    }
    this.finalGoaway(code, debug);
    if (!graceful || code !== ErrorCode.NO_ERROR) this.terminate(code === ErrorCode.NO_ERROR ? null : new H2Error(code, debug || 'connection closed by us'), true);
  }

  /** Ends the connection now: GOAWAY(NO_ERROR), streams still open are reset (`onReset` CANCEL). */
  close(): void {
    this.goaway(ErrorCode.NO_ERROR, false);
  }

  get streamCount(): number {
    return this.streams.size;
  }

  // ── Internals used by receive.ts ─────────────────────────────────────────────────────────────────

  /** FrameSink: one socket chunk's frames, with our answers batched into one write. */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer, wireLength: number): void {
    receiveFrame(this, type, flags, streamId, payload, wireLength);
  }

  onFrameError(code: number, message: string): void {
    this.connectionError(code, message);
  }

  /** A connection error (§5.4.1): GOAWAY with the code, then close. */
  connectionError(code: number, message: string): void {
    if (this.closed) return;
    this.finalGoaway(code, message);
    this.terminate(new H2Error(code, message), true);
  }

  /**
   * A stream error (§5.4.2): RST_STREAM; a stream the handler knows about also gets `onReset`. A client
   * that makes us reset streams (refused, malformed: "MadeYouReset", CVE-2025-8671) spends the same
   * budget as one that resets them itself.
   */
  streamError(streamId: number, code: number): void {
    if (this.role === 'server' && this.resetMeter.hit()) return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many stream errors');
    this.write(encodeRstStream(streamId, code));
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      this.closedStreams.remember(streamId, true);
      return;
    }
    this.retire(stream, true, true);
    this.handler.onReset(stream, code);
  }

  /** Takes a stream out of the table (both sides ended, or reset). */
  retire(stream: H2Stream, resetByUs: boolean, aborted: boolean): void {
    stream.closed = true;
    this.streams.delete(stream.id);
    if (stream.queue.length > 0 || stream.endAfterQueue) {
      this.waiting.delete(stream);
      stream.queue = [];
    }
    stream.queuedBytes = 0;
    if (aborted && stream.unconsumed > 0) {
      // Nobody will consume these bytes now: return them to the connection window ourselves.
      refundConnection(this, stream.unconsumed);
      stream.unconsumed = 0;
    }
    this.closedStreams.remember(stream.id, resetByUs);
    const local = (stream.id & 1) === (this.role === 'client' ? 1 : 0);
    if (local) {
      this.localActive--;
      if (this.capacityWanted && !this.closed && this.canOpenStream()) {
        this.capacityWanted = false;
        this.handler.onStreamCapacity();
      }
    } else {
      this.peerActive--;
    }
    if (this.draining && this.streams.size === 0 && !this.closed && this.goawaySentLastId !== MAX_STREAM_ID) this.terminate(null, true);
  }

  /** Both sides ended: the stream leaves the table. */
  maybeFinish(stream: H2Stream): void {
    if (stream.localEnded && stream.remoteEnded && !stream.closed) this.retire(stream, false, false);
  }

  /** Closes the connection once: streams still open are reset, then `onClose`. */
  terminate(error: Error | null, flush: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.reader.stop();
    const code = error instanceof H2Error ? error.code : ErrorCode.CANCEL;
    for (const stream of this.streams.values()) {
      this.retire(stream, false, true);
      this.handler.onReset(stream, code);
    }
    if (flush && !this.socket.destroyed) {
      this.out.flush();
      this.socket.end();
      // A peer that never closes its side, or never reads what is left, must not hold the socket open.
      this.socket.once('finish', () => this.socket.destroy());
      setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS).unref();
    } else {
      this.socket.destroy();
    }
    this.handler.onClose(error);
  }

  finalGoaway(code: number, debug: string): void {
    this.goawaySentLastId = this.role === 'server' ? this.lastPeerStreamId : 0;
    this.draining = true;
    this.write(encodeGoaway(this.goawaySentLastId, code, debug));
    if (this.streams.size === 0 && code === ErrorCode.NO_ERROR) this.terminate(null, true);
  }

  /** PING ACK of our drain PING: the peer has seen our first GOAWAY; name the real last stream. */
  onDrainPingAck(): void {
    if (this.goawaySentLastId === MAX_STREAM_ID && !this.closed) this.finalGoaway(ErrorCode.NO_ERROR, '');
  }

  isDrainPing(opaque: Buffer): boolean {
    return opaque.equals(DRAIN_PING);
  }

  private receive(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (err) {
      // A handler threw: the connection cannot be trusted to be in a consistent state any more.
      this.connectionError(ErrorCode.INTERNAL_ERROR, `handler failed: ${(err as Error).message}`);
    }
  }

  /**
   * Every frame goes out through here: all the frames one socket chunk (or one burst of proxy
   * forwarding) produced leave together at the end of the tick (write-batch.ts).
   */
  write(frame: Buffer): void {
    this.out.write(frame);
  }

  /** Bytes written and not yet sent (socket buffer and this tick's batch): what flow control checks. */
  get bufferedBytes(): number {
    return this.out.buffered;
  }

  /**
   * A frame that answers the peer (PING or SETTINGS ACK): a peer that makes us answer without reading
   * the answers would grow our socket buffer without bound (CVE-2019-9512/-9515).
   */
  writeAnswer(frame: Buffer): void {
    if (this.out.buffered > 4 * this.writeHighWater) return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'peer does not read our answers');
    this.write(frame);
  }

  /** HEADERS (or trailers) now; not flow-controlled. */
  writeHead(stream: H2Stream, headers: readonly string[], endStream: boolean, neverIndexed?: readonly number[]): void {
    const block = this.encoder.encode(headers, FRAME_HEADER_SIZE, neverIndexed);
    this.write(frameHeaderBlock(stream.id, block, endStream, this.peerMaxFrameSize));
    if (endStream) {
      stream.localEnded = true;
      this.maybeFinish(stream);
    }
  }
}

