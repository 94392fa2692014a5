// A minimal HTTP/2 relay on the lean engine, for tests: every downstream connection (engine, server
// role) gets one upstream connection (engine, client role), and each stream is forwarded as is — heads
// (never-indexed fields stay never indexed), DATA, trailers, resets both ways. It is the shape the proxy takes on the engine, without the proxy's
// routing: DATA is refunded to one side only once it left through the other (consumed on send, and on
// onStreamWindow), so the relay holds at most a window per stream however slow either end is.
import { once } from 'node:events';
import net from 'node:net';
import { H2Connection } from '../../src/workers/http2/connection.ts';
import { ErrorCode } from '../../src/workers/http2/frames.ts';
import type { H2Handler, H2Options } from '../../src/workers/http2/handler.ts';
import type { H2Stream } from '../../src/workers/http2/stream.ts';

/** The client-facing side: requests in, responses out. A stream's ctx is its upstream stream. */
class Downstream implements H2Handler {
  conn!: H2Connection;
  up!: Upstream;
  /** Largest response queue seen on any downstream stream (what a slow client makes us hold). */
  maxQueued = 0;

  onRequestHeaders(stream: H2Stream, headers: string[], endStream: boolean): void {
    if (!this.up.conn.canOpenStream()) return this.conn.sendHeaders(stream, [':status', '503'], true);
    stream.ctx = this.up.conn.openStream(headers, endStream, stream, this.conn.neverIndexed);
  }
  onHeadersTooLarge(stream: H2Stream): void {
    this.conn.sendHeaders(stream, [':status', '431'], true);
  }
  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    const sent = this.up.conn.sendData(stream.ctx as H2Stream, data, endStream);
    if (sent > 0) this.conn.consumed(stream, sent);
  }
  onTrailers(stream: H2Stream, trailers: string[]): void {
    this.up.conn.sendTrailers(stream.ctx as H2Stream, trailers, this.conn.neverIndexed);
  }
  onReset(stream: H2Stream, code: number): void {
    if (stream.ctx !== undefined) this.up.conn.reset(stream.ctx as H2Stream, code === ErrorCode.NO_ERROR ? ErrorCode.CANCEL : code);
  }
  /** Response bytes left towards the client: the upstream may send that much more. */
  onStreamWindow(stream: H2Stream, flushed: number): void {
    this.up.conn.consumed(stream.ctx as H2Stream, flushed);
  }
  onClose(): void {
    this.up.conn.close();
  }
  onResponseHeaders(): void {}
  onGoaway(): void {}
  onStreamCapacity(): void {}
  onPingAck(): void {}
}

/** The upstream-facing side: a stream's ctx is its downstream stream. */
class Upstream implements H2Handler {
  conn!: H2Connection;
  down!: Downstream;

  onResponseHeaders(stream: H2Stream, headers: string[], _status: number, endStream: boolean): void {
    this.down.conn.sendHeaders(stream.ctx as H2Stream, headers, endStream, this.conn.neverIndexed);
  }
  onHeadersTooLarge(stream: H2Stream): void {
    this.conn.reset(stream, ErrorCode.CANCEL);
    this.down.conn.sendHeaders(stream.ctx as H2Stream, [':status', '502'], true);
  }
  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    const downstream = stream.ctx as H2Stream;
    const sent = this.down.conn.sendData(downstream, data, endStream);
    if (sent > 0) this.conn.consumed(stream, sent);
    this.down.maxQueued = Math.max(this.down.maxQueued, downstream.queuedBytes);
  }
  onTrailers(stream: H2Stream, trailers: string[]): void {
    this.down.conn.sendTrailers(stream.ctx as H2Stream, trailers, this.conn.neverIndexed);
  }
  onReset(stream: H2Stream, code: number): void {
    this.down.conn.reset(stream.ctx as H2Stream, code);
  }
  /** Request bytes left towards the upstream: the client may send that much more. */
  onStreamWindow(stream: H2Stream, flushed: number): void {
    this.down.conn.consumed(stream.ctx as H2Stream, flushed);
  }
  onClose(): void {
    this.down.conn.goaway();
  }
  onRequestHeaders(): void {}
  onGoaway(): void {}
  onStreamCapacity(): void {}
  onPingAck(): void {}
}

export interface Relay {
  readonly port: number;
  readonly downstreams: Downstream[];
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 and relays every connection to `upstreamPort`. */
export async function startRelay(upstreamPort: number, options: H2Options = {}): Promise<Relay> {
  const downstreams: Downstream[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const upSocket = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(upSocket);
    upSocket.once('close', () => sockets.delete(upSocket));
    const down = new Downstream();
    const up = new Upstream();
    down.up = up;
    up.down = down;
    up.conn = new H2Connection(upSocket, 'client', up, options);
    down.conn = new H2Connection(socket, 'server', down, options);
    downstreams.push(down);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    downstreams,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
