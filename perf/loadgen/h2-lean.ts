// The open-loop generator's h2c and gRPC client on the proxy's own lean HTTP/2 engine
// (src/workers/http2). With node:http2 on the generator's side, the generator itself was the noise:
// a stream object and several callbacks per request made its direct h2c p99 3.5 ms at 1,000 req/s and
// its send lag tens of ms at 5,000. Here a request is a small record and a handful of method calls.
// A few connections; requests spread round-robin; a request that finds its connection at the peer's
// stream limit waits in that connection's queue (the wait is part of the measured latency).
import { connect as netConnect } from 'node:net';
import { H2Connection } from '../../src/workers/http2/connection.ts';
import type { H2Handler } from '../../src/workers/http2/handler.ts';
import type { H2Stream } from '../../src/workers/http2/stream.ts';
import { GRPC_PATH, GRPC_REQUEST } from '../lib/grpc-frame.ts';
import type { Client, Done } from './clients.ts';

interface Endpoint {
  host: string;
  port: number;
  authority: string;
}

/** One request in flight. */
interface Exchange {
  readonly i: number;
  status: number;
  grpcStatus: string | undefined;
  settled: boolean;
}

function grpcStatusOf(fields: readonly string[]): string | undefined {
  for (let k = 0; k < fields.length; k += 2) if (fields[k] === 'grpc-status') return fields[k + 1];
  return undefined;
}

class LeanConn implements H2Handler {
  conn: H2Connection | undefined;
  closed = false;
  private readonly queue: number[] = [];
  private queueHead = 0;
  private readonly owner: H2LeanClient;

  constructor(owner: H2LeanClient) {
    this.owner = owner;
  }

  open(ep: Endpoint): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: ep.host, port: ep.port, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        this.conn = new H2Connection(socket, 'client', this, { connectionWindow: 8 << 20 });
        resolve();
      });
    });
  }

  send(i: number): void {
    const conn = this.conn;
    if (conn === undefined || this.closed) {
      this.owner.done(i, false, 'connection closed');
      return;
    }
    if (this.queueHead < this.queue.length || !conn.canOpenStream()) {
      this.queue.push(i);
      return;
    }
    this.start(conn, i);
  }

  private start(conn: H2Connection, i: number): void {
    const x: Exchange = { i, status: 0, grpcStatus: undefined, settled: false };
    const grpc = this.owner.grpc;
    const stream = conn.openStream(this.owner.headers, !grpc, x);
    if (grpc) conn.sendData(stream, GRPC_REQUEST, true);
  }

  private settle(x: Exchange, ok: boolean, why?: string): void {
    if (x.settled) return;
    x.settled = true;
    this.owner.done(x.i, ok, why);
  }

  private complete(x: Exchange): void {
    if (x.status !== 200) this.settle(x, false, `HTTP status ${x.status}`);
    else if (this.owner.grpc && x.grpcStatus !== '0') this.settle(x, false, `grpc-status ${x.grpcStatus ?? 'missing'}`);
    else this.settle(x, true);
  }

  onRequestHeaders(stream: H2Stream): void {
    this.conn?.reset(stream);
  }

  onResponseHeaders(stream: H2Stream, headers: string[], status: number, endStream: boolean): void {
    if (status < 200) return;
    const x = stream.ctx as Exchange;
    x.status = status;
    x.grpcStatus = grpcStatusOf(headers);
    if (endStream) this.complete(x);
  }

  onHeadersTooLarge(stream: H2Stream): void {
    this.settle(stream.ctx as Exchange, false, 'response head too large');
    this.conn?.reset(stream);
  }

  onData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    this.conn?.consumed(stream, data.length);
    if (endStream) this.complete(stream.ctx as Exchange);
  }

  onTrailers(stream: H2Stream, trailers: string[]): void {
    const x = stream.ctx as Exchange;
    x.grpcStatus = grpcStatusOf(trailers) ?? x.grpcStatus;
    this.complete(x);
  }

  onReset(stream: H2Stream, code: number): void {
    this.settle(stream.ctx as Exchange, false, `stream reset (code ${code})`);
  }

  onGoaway(): void {}
  onStreamWindow(): void {}
  onPingAck(): void {}

  onStreamCapacity(): void {
    const conn = this.conn;
    if (conn === undefined) return;
    while (this.queueHead < this.queue.length && conn.canOpenStream()) this.start(conn, this.queue[this.queueHead++]!);
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
  }

  onClose(error: Error | null): void {
    this.closed = true;
    const why = `connection closed${error === null ? '' : `: ${error.message}`}`;
    while (this.queueHead < this.queue.length) this.owner.done(this.queue[this.queueHead++]!, false, why);
  }
}

export class H2LeanClient implements Client {
  readonly headers: readonly string[];
  readonly grpc: boolean;
  readonly done: Done;
  private readonly conns: LeanConn[] = [];
  private next = 0;
  private readonly ep: Endpoint;

  constructor(ep: Endpoint, size: number, grpc: boolean, done: Done) {
    this.ep = ep;
    this.grpc = grpc;
    this.done = done;
    this.headers = grpc
      ? [':method', 'POST', ':scheme', 'http', ':authority', ep.authority, ':path', GRPC_PATH, 'content-type', 'application/grpc', 'te', 'trailers']
      : [':method', 'GET', ':scheme', 'http', ':authority', ep.authority, ':path', '/'];
    for (let k = 0; k < size; k++) this.conns.push(new LeanConn(this));
  }

  async open(): Promise<void> {
    await Promise.all(this.conns.map((c) => c.open(this.ep)));
  }

  send(i: number): void {
    this.conns[this.next++ % this.conns.length]!.send(i);
  }

  close(): void {
    for (const c of this.conns) c.conn?.close();
  }
}
