// Incremental HTTP/2 frame parser: fed the chunks a socket delivers, it hands each complete frame to a sink
// as (type, flags, streamId, payload). The payload is a subarray of the chunk it arrived in: bytes are
// copied only when a frame spans chunks (once, when its last byte arrives). Padding (DATA, HEADERS,
// PUSH_PROMISE) is stripped here; HEADERS' deprecated priority fields are left for the connection, which
// must check them for self-dependency. A frame longer than our SETTINGS_MAX_FRAME_SIZE is a connection
// error (FRAME_SIZE_ERROR) reported before its payload is buffered, so a peer cannot make us hold more
// than one frame. In the server role the client preface is checked first (RFC 9113 §3.4).
import { CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, ErrorCode, FRAME_HEADER_SIZE, Flag, FrameType, MAX_STREAM_ID } from './frames.ts';

export interface FrameSink {
  /**
   * One frame. `payload` has padding removed; `wireLength` is the payload length on the wire (padding
   * included), which is what DATA flow control counts (§6.9.1). `payload` stays valid after the call.
   */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer, wireLength: number): void;
  /** A connection error found while framing: the reader stops; the sink sends GOAWAY and closes. */
  onFrameError(code: number, message: string): void;
}

export interface FrameReaderOptions {
  /** Server role: the 24-byte client preface must come first. */
  readonly expectPreface: boolean;
  /** Our advertised SETTINGS_MAX_FRAME_SIZE; the default is the RFC's initial value. */
  readonly maxFrameSize?: number;
}

export class FrameReader {
  /** Our SETTINGS_MAX_FRAME_SIZE; frames above it are refused. */
  maxFrameSize: number;
  private readonly sink: FrameSink;
  /** Preface bytes still expected (0 once checked, and always 0 in the client role). */
  private prefaceOffset: number;
  /** A partial frame: the chunks (or chunk tails) that hold its bytes so far. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** How many buffered bytes the partial frame needs before parsing can continue. */
  private needed = FRAME_HEADER_SIZE;
  private stopped = false;

  constructor(sink: FrameSink, options: FrameReaderOptions) {
    this.sink = sink;
    this.prefaceOffset = options.expectPreface ? 0 : CLIENT_PREFACE.length;
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  }

  /** No more frames are delivered (the connection is closing); later chunks are dropped. */
  stop(): void {
    this.stopped = true;
    this.parts = [];
    this.partsLength = 0;
  }

  /** Bytes held for a frame that has not fully arrived. */
  get buffered(): number {
    return this.partsLength;
  }

  push(chunk: Buffer): void {
    if (this.stopped) return;
    if (this.partsLength > 0) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      if (this.partsLength < this.needed) return;
      chunk = Buffer.concat(this.parts, this.partsLength);
      this.parts = [];
      this.partsLength = 0;
    }
    let at = 0;
    if (this.prefaceOffset < CLIENT_PREFACE.length) {
      at = this.checkPreface(chunk);
      if (at < 0) return;
    }
    while (!this.stopped) {
      const left = chunk.length - at;
      if (left < FRAME_HEADER_SIZE) {
        this.needed = FRAME_HEADER_SIZE;
        break;
      }
      const length = (chunk[at]! << 16) | (chunk[at + 1]! << 8) | chunk[at + 2]!;
      if (length > this.maxFrameSize) {
        this.fail(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`);
        return;
      }
      if (left < FRAME_HEADER_SIZE + length) {
        this.needed = FRAME_HEADER_SIZE + length;
        break;
      }
      const type = chunk[at + 3]!;
      const flags = chunk[at + 4]!;
      const streamId = chunk.readUInt32BE(at + 5) & MAX_STREAM_ID;
      const start = at + FRAME_HEADER_SIZE;
      at = start + length;
      let payload = chunk.subarray(start, at);
      if ((flags & Flag.PADDED) !== 0 && (type === FrameType.DATA || type === FrameType.HEADERS || type === FrameType.PUSH_PROMISE)) {
        if (length < 1) {
          this.fail(ErrorCode.FRAME_SIZE_ERROR, 'padded frame without a pad length');
          return;
        }
        const padLength = payload[0]!;
        if (padLength >= length) {
          this.fail(ErrorCode.PROTOCOL_ERROR, `padding of ${padLength} bytes fills a ${length}-byte frame`);
          return;
        }
        payload = payload.subarray(1, length - padLength);
      }
      this.sink.onFrame(type, flags, streamId, payload, length);
    }
    if (at < chunk.length && !this.stopped) {
      const rest = at === 0 ? chunk : chunk.subarray(at);
      this.parts.push(rest);
      this.partsLength = rest.length;
    }
  }

  /** Returns where frames start in `chunk`, or -1 when the preface is incomplete or wrong. */
  private checkPreface(chunk: Buffer): number {
    const want = Math.min(CLIENT_PREFACE.length - this.prefaceOffset, chunk.length);
    for (let i = 0; i < want; i++) {
      if (chunk[i] !== CLIENT_PREFACE[this.prefaceOffset + i]) {
        this.fail(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
        return -1;
      }
    }
    this.prefaceOffset += want;
    return this.prefaceOffset < CLIENT_PREFACE.length ? -1 : want;
  }

  private fail(code: number, message: string): void {
    this.stop();
    this.sink.onFrameError(code, message);
  }
}
