// Test peers built on the lean HTTP/2 engine (src/workers/http2): an echo server that behaves the way a
// proxy would with flow control (bytes are refunded only once they left again), and a small client that
// collects whole responses. Tests drive real peers (node:http2, curl, nghttp, grpc-js, nghttpd) against them.
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { H2Connection } from '../../src/workers/http2/connection.ts';
import type { H2Handler, H2Options } from '../../src/workers/http2/handler.ts';
import { ErrorCode } from '../../src/workers/http2/frames.ts';
import type { H2Stream } from '../../src/workers/http2/stream.ts';

/** A repeating byte pattern, so that any slice of a large body can be checked. */
export function patternBytes(length: number, offset = 0): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (offset + i) % 251;
  return out;
}

/** Request ctx of the echo server: where the echo is, whether it is gRPC. */
interface EchoRequest {
  grpc: boolean;
  path: string;
  ended: boolean;
}

function header(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/**
 * The echo handler. Paths: `/echo` (default) answers 200 and sends the request body back, then trailers
 * for gRPC (grpc-status 0) or END_STREAM; `/size/N` sends N pattern bytes; `/trailers-only` answers a gRPC
 * trailers-only NOT_FOUND; `/early` sends a 103 before the 200; `/reset` resets with CANCEL;
 * `/trailers` ends with trailers (x-trailer: done). Request trailers are echoed as response trailers.
 */
export class EchoHandler implements H2Handler {
  conn!: H2Connection;
  readonly closed: Promise<Error | null>;
  private resolveClosed!: (err: Error | null) => void;
  /** Largest queue any stream had: what the slow-reader test bounds. */
  maxQueued = 0;
  resets: Array<[number, number]> = [];

  constructor() {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  onRequestHeaders(stream: H2Stream, headers: string[], endStream: boolean): void {
    const path = header(headers, ':path') ?? '/';
    const grpc = (header(headers, 'content-type') ?? '').startsWith('application/grpc');
    const ctx: EchoRequest = { grpc, path, ended: endStream };
    stream.ctx = ctx;
    const conn = this.conn;
    if (path === '/trailers-only' || path.endsWith('/TrailersOnly')) {
      conn.sendHeaders(stream, [':status', '200', 'content-type', 'application/grpc', 'grpc-status', '5', 'grpc-message', 'no such thing'], true);
      return;
    }
    if (path === '/reset') return conn.reset(stream, ErrorCode.CANCEL);
    if (path === '/early') conn.sendHeaders(stream, [':status', '103', 'link', '</style.css>; rel=preload'], false);
    const response = [':status', '200', 'x-method', header(headers, ':method') ?? '', 'x-authority', header(headers, ':authority') ?? ''];
    if (grpc) response.push('content-type', 'application/grpc');
    if (path.startsWith('/size/')) {
      conn.sendHeaders(stream, response, false);
      const size = Number(path.slice('/size/'.length));
      conn.sendData(stream, patternBytes(size), true);
      return;
    }
    conn.sendHeaders(stream, response, false);
    if (endStream) this.finish(stream, null);
  }

  onResponseHeaders(): void {}

  onHeadersTooLarge(stream: H2Stream): void {
    this.conn.sendHeaders(stream, [':status', '431'], true);
  }

  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    const ctx = stream.ctx as EchoRequest;
    if (stream.localEnded || ctx.path.startsWith('/size/')) {
      this.conn.consumed(stream, data.length);
      return;
    }
    // Refund only what left: the echo holds at most one window per stream, however slow the reader.
    const written = this.conn.sendData(stream, data, false);
    if (written > 0) this.conn.consumed(stream, written);
    this.maxQueued = Math.max(this.maxQueued, stream.queuedBytes);
    if (endStream) this.finish(stream, null);
  }

  onTrailers(stream: H2Stream, trailers: string[]): void {
    this.finish(stream, trailers);
  }

  private finish(stream: H2Stream, trailers: string[] | null): void {
    const ctx = stream.ctx as EchoRequest;
    ctx.ended = true;
    if (ctx.grpc) this.conn.sendTrailers(stream, ['grpc-status', '0', 'grpc-message', 'OK']);
    else if (trailers !== null) this.conn.sendTrailers(stream, trailers);
    else if (ctx.path === '/trailers') this.conn.sendTrailers(stream, ['x-trailer', 'done']);
    else this.conn.sendData(stream, Buffer.alloc(0), true);
  }

  onReset(stream: H2Stream, code: number): void {
    this.resets.push([stream.id, code]);
  }
  onGoaway(): void {}
  onStreamWindow(stream: H2Stream, flushed: number): void {
    this.conn.consumed(stream, flushed);
  }
  onStreamCapacity(): void {}
  onPingAck(): void {}
  onClose(error: Error | null): void {
    this.resolveClosed(error);
  }
}

export interface EngineServer {
  readonly port: number;
  readonly connections: EchoHandler[];
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 whose every connection is served by the engine with an EchoHandler; with
 * `tls`, a TLS server offering ALPN h2.
 */
export async function startEchoServer(options: H2Options = {}, tlsOptions?: { key: Buffer; cert: Buffer }): Promise<EngineServer> {
  const connections: EchoHandler[] = [];
  const sockets = new Set<net.Socket>();
  const serve = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const handler = new EchoHandler();
    handler.conn = new H2Connection(socket, 'server', handler, options);
    connections.push(handler);
  };
  const server = tlsOptions === undefined ? net.createServer(serve) : tls.createServer({ ...tlsOptions, ALPNProtocols: ['h2'] }, serve);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One response as the engine client saw it. */
export interface ClientResponse {
  informational: number[];
  status: number;
  headers: string[];
  body: Buffer;
  trailers: string[] | null;
  resetCode: number | null;
}

interface Pending {
  response: ClientResponse;
  chunks: Buffer[];
  resolve: (r: ClientResponse) => void;
  /** Reads paused: bytes are not refunded until `resume()` (a slow reader). */
  paused: boolean;
  unrefunded: number;
}

/** A client on the engine that collects whole responses; refunds as it reads, unless paused. */
export class EngineClient implements H2Handler {
  readonly conn: H2Connection;
  readonly socket: net.Socket;
  goaways: Array<[number, number]> = [];
  closeError: Error | null | undefined = undefined;
  private capacityWaiters: Array<() => void> = [];

  private constructor(socket: net.Socket, options: H2Options) {
    this.socket = socket;
    this.conn = new H2Connection(socket, 'client', this, options);
  }

  static async connect(port: number, options: H2Options = {}): Promise<EngineClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new EngineClient(socket, options);
  }

  /** Sends a request; resolves with the whole response (or its reset). */
  async request(headers: string[], body?: Buffer, options: { trailers?: string[]; paused?: boolean } = {}): Promise<{ stream: H2Stream; response: Promise<ClientResponse> }> {
    while (!this.conn.canOpenStream()) await new Promise<void>((resolve) => this.capacityWaiters.push(resolve));
    let resolve!: (r: ClientResponse) => void;
    const response = new Promise<ClientResponse>((r) => (resolve = r));
    const pending: Pending = {
      response: { informational: [], status: 0, headers: [], body: Buffer.alloc(0), trailers: null, resetCode: null },
      chunks: [],
      resolve,
      paused: options.paused ?? false,
      unrefunded: 0,
    };
    const hasBody = body !== undefined || options.trailers !== undefined;
    const stream = this.conn.openStream(headers, !hasBody, pending);
    if (body !== undefined) this.conn.sendData(stream, body, options.trailers === undefined);
    if (options.trailers !== undefined) this.conn.sendTrailers(stream, options.trailers);
    return { stream, response };
  }

  /** Starts refunding a paused stream's bytes again. */
  resume(stream: H2Stream): void {
    const pending = stream.ctx as Pending;
    pending.paused = false;
    this.conn.consumed(stream, pending.unrefunded);
    pending.unrefunded = 0;
  }

  onRequestHeaders(): void {}
  onResponseHeaders(stream: H2Stream, headers: string[], status: number, endStream: boolean): void {
    const pending = stream.ctx as Pending;
    if (status < 200) {
      pending.response.informational.push(status);
      return;
    }
    pending.response.status = status;
    pending.response.headers = headers;
    if (endStream) this.done(pending);
  }
  onHeadersTooLarge(stream: H2Stream): void {
    this.conn.reset(stream, ErrorCode.CANCEL);
    const pending = stream.ctx as Pending;
    pending.response.resetCode = -431;
    this.done(pending);
  }
  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    const pending = stream.ctx as Pending;
    pending.chunks.push(data);
    if (pending.paused) pending.unrefunded += data.length;
    else this.conn.consumed(stream, data.length);
    if (endStream) this.done(pending);
  }
  onTrailers(stream: H2Stream, trailers: string[]): void {
    const pending = stream.ctx as Pending;
    pending.response.trailers = trailers;
    this.done(pending);
  }
  onReset(stream: H2Stream, code: number): void {
    const pending = stream.ctx as Pending;
    pending.response.resetCode = code;
    this.done(pending);
  }
  onGoaway(lastStreamId: number, code: number): void {
    this.goaways.push([lastStreamId, code]);
  }
  onStreamWindow(): void {}
  onStreamCapacity(): void {
    const waiters = this.capacityWaiters;
    this.capacityWaiters = [];
    for (const wake of waiters) wake();
  }
  onPingAck(_opaque: Buffer): void {}
  onClose(error: Error | null): void {
    this.closeError = error;
  }

  private done(pending: Pending): void {
    pending.response.body = Buffer.concat(pending.chunks);
    pending.resolve(pending.response);
  }
}
