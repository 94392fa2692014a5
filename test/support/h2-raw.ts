// A raw HTTP/2 peer for conformance tests: writes hand-made frames on a real TCP socket and reads back
// every frame the other side sends, so a test can assert the exact GOAWAY or RST_STREAM code on the wire.
import net from 'node:net';
import { once } from 'node:events';
import { FrameReader } from '../../src/workers/http2/frame-reader.ts';
import { CLIENT_PREFACE, Flag, FrameType, encodeFrame, encodeHeaders, encodeSettings, encodeSettingsAck, errorName } from '../../src/workers/http2/frames.ts';
import { HeaderBlockDecoder, HeaderBlockEncoder } from '../../src/workers/http2/header-codec.ts';

export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export class RawPeer {
  readonly socket: net.Socket;
  readonly frames: RawFrame[] = [];
  readonly encoder = new HeaderBlockEncoder();
  readonly decoder = new HeaderBlockDecoder();
  ended = false;
  private wakers: Array<() => void> = [];

  private constructor(socket: net.Socket, server: boolean) {
    this.socket = socket;
    const reader = new FrameReader(
      {
        onFrame: (type, flags, streamId, payload) => {
          this.frames.push({ type, flags, streamId, payload: Buffer.from(payload) });
          this.wake();
        },
        onFrameError: (code, message) => {
          throw new Error(`peer sent a malformed frame: ${errorName(code)} ${message}`);
        },
      },
      { expectPreface: server, maxFrameSize: 0xffffff },
    );
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  /**
   * A client: connects, sends the preface and `settings` (and ACKs the server's SETTINGS automatically
   * unless `ackSettings` is false).
   */
  static async connect(port: number, settings: Array<[number, number]> = [], options: { preface?: boolean } = {}): Promise<RawPeer> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const peer = new RawPeer(socket, false);
    if (options.preface !== false) socket.write(Buffer.concat([CLIENT_PREFACE, encodeSettings(settings)]));
    return peer;
  }

  /** The server side of an accepted socket (reads the client preface first). */
  static accept(socket: net.Socket): RawPeer {
    return new RawPeer(socket, true);
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** HEADERS (+ CONTINUATION if needed) for a flat header list, HPACK-encoded on this peer's table. */
  headers(streamId: number, headers: string[], endStream: boolean): Buffer {
    return encodeHeaders(streamId, this.encoder.encode(headers), endStream, 16_384);
  }

  /** A valid GET request head. */
  get(streamId: number, path = '/echo', endStream = true, extra: string[] = []): Buffer {
    return this.headers(streamId, [':method', 'GET', ':scheme', 'http', ':path', path, ':authority', 'test', ...extra], endStream);
  }

  ackSettings(): void {
    this.send(encodeSettingsAck());
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  /** Waits until a frame satisfying `match` arrived (from the start of the connection). */
  async waitFor(match: (f: RawFrame) => boolean, what: string, timeoutMs = 3000): Promise<RawFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.ended) throw new Error(`connection closed before ${what}; frames: ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; frames: ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The GOAWAY's [lastStreamId, code]. */
  async goaway(timeoutMs = 3000): Promise<[number, number]> {
    const f = await this.waitFor((f) => f.type === FrameType.GOAWAY, 'GOAWAY', timeoutMs);
    return [f.payload.readUInt32BE(0), f.payload.readUInt32BE(4)];
  }

  /** The error code of the RST_STREAM on `streamId`. */
  async rst(streamId: number, timeoutMs = 3000): Promise<number> {
    const f = await this.waitFor((f) => f.type === FrameType.RST_STREAM && f.streamId === streamId, `RST_STREAM on ${streamId}`, timeoutMs);
    return f.payload.readUInt32BE(0);
  }

  /** Waits for the socket to close (the other side ended the connection). */
  async closed(timeoutMs = 3000): Promise<void> {
    if (this.ended) return;
    await this.waitFor(() => false, 'close', timeoutMs).catch((err: Error) => {
      if (!this.ended) throw err;
    });
  }

  /** Decodes the header block of a HEADERS frame on `streamId` (END_HEADERS assumed). */
  async responseHead(streamId: number): Promise<string[]> {
    const f = await this.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === streamId && (f.flags & Flag.END_HEADERS) !== 0, `HEADERS on ${streamId}`);
    const headers = this.decoder.decode(f.payload);
    if (headers === null) throw new Error('header list over the limit');
    return headers;
  }

  describe(): string {
    return this.frames.map((f) => `${f.type}/${f.flags}/${f.streamId}${f.type === FrameType.GOAWAY || f.type === FrameType.RST_STREAM ? `:${errorName(f.payload.readUInt32BE(f.type === FrameType.GOAWAY ? 4 : 0))}` : ''}`).join(' ');
  }

  close(): void {
    this.socket.destroy();
  }
}
