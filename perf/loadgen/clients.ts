// The open-loop generator's clients. Each takes a request number and calls `done(i, ok, error?)` once
// when that request has completed or failed. Neither client ever waits for a free slot on the schedule's
// behalf: the HTTP/1.1 pool queues requests when all its connections are busy (the wait is part of the
// measured latency), and HTTP/2 sessions multiplex.
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as h2Connect, constants as h2c } from 'node:http2';
import type { ClientHttp2Session, OutgoingHttpHeaders } from 'node:http2';
import { H1ResponseParser } from './h1-parser.ts';
import { GRPC_PATH, GRPC_REQUEST } from '../lib/grpc-frame.ts';

export type Done = (i: number, ok: boolean, error?: string) => void;

export interface Client {
  open(): Promise<void>;
  send(i: number): void;
  close(): void;
}

interface Endpoint {
  host: string;
  port: number;
  authority: string;
}

// ── HTTP/1.1: a pool of raw keep-alive sockets, one request in flight per socket (no pipelining) ──

class H1Conn {
  readonly socket: Socket;
  readonly parser = new H1ResponseParser();
  inflight = -1;
  dead = false;
  private readonly pool: H1Pool;
  constructor(pool: H1Pool, ep: Endpoint) {
    this.pool = pool;
    this.socket = netConnect({ host: ep.host, port: ep.port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => {});
    this.socket.on('close', () => this.onClose());
  }

  issue(i: number): void {
    this.inflight = i;
    this.socket.write(this.pool.request);
  }

  private onData(chunk: Buffer): void {
    const responses = this.parser.feed(chunk);
    if (this.parser.error !== null) {
      this.fail(`parse error: ${this.parser.error}`);
      return;
    }
    for (const r of responses) {
      const i = this.inflight;
      if (i < 0) {
        this.fail('response without a request');
        return;
      }
      this.inflight = -1;
      this.pool.done(i, r.status === 200, r.status === 200 ? undefined : `HTTP status ${r.status}`);
      if (r.close) {
        this.socket.end();
        this.retire();
        return;
      }
      this.pool.release(this);
    }
  }

  private fail(why: string): void {
    const i = this.inflight;
    this.inflight = -1;
    this.socket.destroy();
    this.retire();
    if (i >= 0) this.pool.done(i, false, why);
  }

  private onClose(): void {
    const i = this.inflight;
    this.inflight = -1;
    this.retire();
    if (i >= 0) this.pool.done(i, false, 'connection closed with a request in flight');
  }

  private retire(): void {
    if (this.dead) return;
    this.dead = true;
    this.pool.replace(this);
  }
}

export class H1Pool implements Client {
  readonly request: Buffer;
  private conns = new Set<H1Conn>();
  private free: H1Conn[] = [];
  private waiting: number[] = [];
  private waitHead = 0;
  private closing = false;
  reconnects = 0;
  private readonly ep: Endpoint;
  private readonly size: number;
  readonly done: Done;

  constructor(ep: Endpoint, size: number, done: Done) {
    this.ep = ep;
    this.size = size;
    this.done = done;
    this.request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${ep.authority}\r\nUser-Agent: sluice-perf\r\n\r\n`, 'latin1');
  }

  async open(): Promise<void> {
    const opening: Array<Promise<void>> = [];
    for (let k = 0; k < this.size; k++) {
      const c = new H1Conn(this, this.ep);
      this.conns.add(c);
      opening.push(
        new Promise((resolve, reject) => {
          c.socket.once('connect', () => resolve());
          c.socket.once('error', reject);
        }),
      );
    }
    await Promise.all(opening);
    this.free = [...this.conns];
  }

  send(i: number): void {
    const c = this.free.shift();
    if (c !== undefined) c.issue(i);
    else this.waiting.push(i);
  }

  release(c: H1Conn): void {
    if (this.waitHead < this.waiting.length) {
      const i = this.waiting[this.waitHead++] as number;
      if (this.waitHead > 4096 && this.waitHead * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.waitHead);
        this.waitHead = 0;
      }
      c.issue(i);
    } else {
      this.free.push(c);
    }
  }

  /** A connection went away: drop it and open a new one in its place (it joins the pool once connected). */
  replace(c: H1Conn): void {
    this.conns.delete(c);
    const k = this.free.indexOf(c);
    if (k >= 0) this.free.splice(k, 1);
    if (this.closing) return;
    this.reconnects++;
    const n = new H1Conn(this, this.ep);
    this.conns.add(n);
    n.socket.once('connect', () => {
      if (!n.dead) this.release(n);
    });
  }

  close(): void {
    this.closing = true;
    for (const c of this.conns) c.socket.destroy();
  }
}

// ── h2c and gRPC: a few node:http2 sessions, requests spread round-robin ──

export class H2Client implements Client {
  private sessions: ClientHttp2Session[] = [];
  private next = 0;
  private readonly headers: OutgoingHttpHeaders;
  private readonly ep: Endpoint;
  private readonly size: number;
  private readonly grpc: boolean;
  readonly done: Done;

  constructor(ep: Endpoint, size: number, grpc: boolean, done: Done) {
    this.ep = ep;
    this.size = size;
    this.grpc = grpc;
    this.done = done;
    this.headers = grpc
      ? {
          [h2c.HTTP2_HEADER_METHOD]: 'POST',
          [h2c.HTTP2_HEADER_PATH]: GRPC_PATH,
          [h2c.HTTP2_HEADER_AUTHORITY]: ep.authority,
          'content-type': 'application/grpc',
          te: 'trailers',
        }
      : {
          [h2c.HTTP2_HEADER_METHOD]: 'GET',
          [h2c.HTTP2_HEADER_PATH]: '/',
          [h2c.HTTP2_HEADER_AUTHORITY]: ep.authority,
        };
  }

  async open(): Promise<void> {
    const opening: Array<Promise<void>> = [];
    for (let k = 0; k < this.size; k++) {
      const s = h2Connect(`http://${this.ep.host}:${this.ep.port}`, { settings: { enablePush: false } });
      s.on('error', () => {});
      this.sessions.push(s);
      opening.push(
        new Promise((resolve, reject) => {
          s.once('connect', () => resolve());
          s.once('error', reject);
        }),
      );
    }
    await Promise.all(opening);
  }

  send(i: number): void {
    const s = this.sessions[this.next++ % this.sessions.length] as ClientHttp2Session;
    if (s.destroyed || s.closed) {
      this.done(i, false, 'session closed');
      return;
    }
    let status = 0;
    let grpcStatus: string | undefined;
    let finished = false;
    const finish = (ok: boolean, why?: string): void => {
      if (finished) return;
      finished = true;
      this.done(i, ok, why);
    };
    let req;
    try {
      req = s.request(this.headers, { endStream: !this.grpc });
    } catch (err) {
      finish(false, String(err));
      return;
    }
    req.on('response', (h) => {
      status = Number(h[h2c.HTTP2_HEADER_STATUS]);
      const gs = h['grpc-status'];
      if (typeof gs === 'string') grpcStatus = gs;
    });
    if (this.grpc) {
      req.on('trailers', (t) => {
        const gs = t['grpc-status'];
        if (typeof gs === 'string') grpcStatus = gs;
      });
    }
    req.on('data', () => {});
    req.on('end', () => {
      if (status !== 200) finish(false, `HTTP status ${status}`);
      else if (this.grpc && grpcStatus !== '0') finish(false, `grpc-status ${grpcStatus ?? 'missing'}`);
      else finish(true);
    });
    req.on('error', (err) => finish(false, String(err)));
    req.on('close', () => finish(false, `stream closed early (rst ${req.rstCode})`));
    if (this.grpc) req.end(GRPC_REQUEST);
  }

  close(): void {
    for (const s of this.sessions) s.destroy();
  }
}
