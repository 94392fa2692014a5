// The fast HTTP/1 engine (SLUICE_PROXY_HTTP1_ENGINE=fast): a connection-level proxy on raw sockets that
// parses request and response heads itself (http1-parse.ts), rewrites only hop-by-hop fields, and
// forwards body bytes as they are, over a small keep-alive pool of raw upstream sockets per `host:port`.
// It takes plain requests on the direct path only. Anything else (Upgrade, Expect, CONNECT, HTTP/1.0,
// absolute-form targets, unusual framing, control-plane destinations, active taps) hands the connection
// to the node:http stack (http1.ts) at a request boundary, before any byte of that request went upstream.
// One request is in flight per connection; pipelined requests wait in the buffer.
import http from 'node:http';
import type net from 'node:net';
import { formatHostPort, type HostPort } from '../../../config/parse.ts';
import type { Direction, HttpStats } from '../../../telemetry/proxy-metrics.ts';
import { ERROR_RESPONSES, PROXY_ERROR_HEADER, ProxyError, classifyUpstreamError, type ProxyErrorKind } from '../../../core/errors.ts';
import { ChunkedScanner, bodyFraming, droppedFields, parseHead, rewriteHead, type Head } from '../../http1/parse.ts';
import type { Http1Proxy } from './node-stack.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import { connectUpstream } from '../../transport/connect.ts';

/** node:http's default --max-http-header-size. */
const MAX_REQUEST_HEAD = 16 * 1024;
const MAX_RESPONSE_HEAD = 64 * 1024;
/** As http1.ts's server keepAliveTimeout: idle client connections close after this. */
const CLIENT_IDLE_MS = 60_000;

const C_HEAD = 0;
const C_RESOLVING = 1;
const C_BODY = 2;
const C_SENT = 3;
const C_CLOSED = 4;

const B_NONE = 0;
const B_LENGTH = 1;
const B_CHUNKED = 2;
const B_CLOSE = 3;

const R_HEAD = 0;
const R_BODY = 1;

/** Which outbound targets the control plane routes (outbound/mesh.ts): those go to the node:http stack. */
export interface MeshKeys {
  keyFor(target: HostPort): string | undefined;
}

export class FastHttp1Engine {
  readonly ctx: WorkerContext;
  readonly direction: Direction;
  readonly stack: Http1Proxy;
  /** Set once at start when a controller is configured (outbound only). */
  mesh: MeshKeys | undefined;
  readonly clients = new Set<ClientConn>();
  private readonly pools = new Map<string, Upstream[]>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(ctx: WorkerContext, direction: Direction, stack: Http1Proxy) {
    this.ctx = ctx;
    this.direction = direction;
    this.stack = stack;
  }

  serve(socket: net.Socket, conn: AcceptedConnection): void {
    const client = new ClientConn(this, socket, conn);
    this.clients.add(client);
    this.startSweeper();
    client.start();
  }

  acquire(target: HostPort, owner: ClientConn): Upstream {
    const key = `${target.host}:${target.port}`;
    const idle = this.pools.get(key);
    if (idle !== undefined) {
      while (idle.length > 0) {
        const u = idle.pop() as Upstream;
        if (!u.socket.destroyed && u.socket.readyState === 'open') {
          u.owner = owner;
          return u;
        }
      }
    }
    const socket = connectUpstream(target, this.ctx.connectTimeoutMs(this.direction));
    this.ctx.tracker.track(socket, this.ctx.metrics.tcp(this.direction, 'dst', target));
    const u = new Upstream(this, socket, key);
    u.owner = owner;
    return u;
  }

  release(u: Upstream): void {
    u.owner = undefined;
    if (this.ctx.draining || u.ended) {
      u.socket.destroy();
      return;
    }
    u.idleSince = performance.now();
    u.socket.resume();
    let idle = this.pools.get(u.key);
    if (idle === undefined) this.pools.set(u.key, (idle = []));
    idle.push(u);
  }

  forget(u: Upstream): void {
    const idle = this.pools.get(u.key);
    if (idle === undefined) return;
    const i = idle.indexOf(u);
    if (i >= 0) idle.splice(i, 1);
    if (idle.length === 0) this.pools.delete(u.key);
  }

  private startSweeper(): void {
    if (this.sweeper !== undefined) return;
    const { httpHeaderTimeoutMs, httpResponseTimeoutMs, httpPoolIdleTimeoutMs } = this.ctx.config;
    let shortest = httpHeaderTimeoutMs;
    if (httpResponseTimeoutMs > 0) shortest = Math.min(shortest, httpResponseTimeoutMs);
    if (httpPoolIdleTimeoutMs > 0) shortest = Math.min(shortest, httpPoolIdleTimeoutMs);
    const period = Math.max(10, Math.min(1000, Math.floor(shortest / 10)));
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  /** One timer per thread and direction: header, response, idle and pool deadlines, and draining. */
  private sweep(): void {
    const now = performance.now();
    for (const client of this.clients) client.check(now);
    const poolIdle = this.ctx.config.httpPoolIdleTimeoutMs;
    for (const idle of this.pools.values()) {
      for (const u of [...idle]) {
        if (this.ctx.draining || (poolIdle > 0 && now - u.idleSince >= poolIdle)) u.socket.destroy();
      }
    }
    if (this.clients.size === 0 && this.pools.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/** A raw upstream socket; its listeners are installed once and dispatch to the client using it. */
class Upstream {
  readonly engine: FastHttp1Engine;
  readonly socket: net.Socket;
  readonly key: string;
  owner: ClientConn | undefined;
  idleSince = 0;
  ended = false;

  constructor(engine: FastHttp1Engine, socket: net.Socket, key: string) {
    this.engine = engine;
    this.socket = socket;
    this.key = key;
    socket.on('data', (chunk: Buffer) => {
      if (this.owner === undefined) socket.destroy(); // nothing may arrive on an idle connection
      else this.owner.onUpstreamData(chunk);
    });
    socket.on('end', () => {
      this.ended = true;
      if (this.owner === undefined) socket.destroy();
      else this.owner.onUpstreamEnd();
    });
    socket.on('error', (error: Error) => this.owner?.onUpstreamError(error));
    socket.on('close', () => {
      engine.forget(this);
      this.owner?.onUpstreamError(new ProxyError('upstream_reset', 'connection closed'));
    });
    socket.on('drain', () => this.owner?.onUpstreamDrain());
  }
}

class ClientConn {
  private readonly engine: FastHttp1Engine;
  private readonly ctx: WorkerContext;
  private readonly socket: net.Socket;
  private readonly conn: AcceptedConnection;
  private state = C_HEAD;
  /** Bytes read from the client and not yet forwarded (the head being read, or the next request). */
  private buf: Buffer | undefined;
  private searched = 0;
  private headStart: number;
  private idleSince = 0;
  private firstRequest = true;
  private closeAfter = false;
  /** The client shut its write side. */
  private clientEnded = false;

  // The exchange in flight.
  private startedAt = 0;
  private host = '';
  private routeTarget: HostPort | undefined;
  private stats: HttpStats | undefined;
  private headOut: Buffer | undefined;
  private isHeadMethod = false;
  private reqBody = B_NONE;
  private reqRemaining = 0;
  private readonly reqScanner = new ChunkedScanner();
  private upstream: Upstream | undefined;
  private upstreamBlocked = false;
  private deadline = 0;
  private respState = R_HEAD;
  private respBuf: Buffer | undefined;
  private respSearched = 0;
  private respHeadSent = false;
  private respBody = B_NONE;
  private respRemaining = 0;
  private readonly respScanner = new ChunkedScanner();
  private reusable = false;

  private readonly onData = (chunk: Buffer): void => this.clientData(chunk);
  private readonly onEnd = (): void => this.clientEnd();
  private readonly onClose = (): void => this.clientClose();
  private readonly onDrain = (): void => {
    this.upstream?.socket.resume();
  };
  readonly onResolved = (target: HostPort | undefined): void => this.resolved(target);

  constructor(engine: FastHttp1Engine, socket: net.Socket, conn: AcceptedConnection) {
    this.engine = engine;
    this.ctx = engine.ctx;
    this.socket = socket;
    this.conn = conn;
    this.headStart = performance.now();
  }

  start(): void {
    const s = this.socket;
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('close', this.onClose);
    s.on('drain', this.onDrain);
    s.resume();
  }

  /** Deadlines, from the sweep. */
  check(now: number): void {
    if (this.state === C_HEAD) {
      if (this.buf !== undefined || this.firstRequest) {
        if (now - this.headStart >= this.ctx.config.httpHeaderTimeoutMs) this.reject('header_timeout');
      } else if (this.ctx.draining || now - this.idleSince >= CLIENT_IDLE_MS) {
        this.state = C_CLOSED;
        this.socket.end();
        this.socket.destroySoon();
      }
    } else if (this.deadline > 0 && !this.respHeadSent && now >= this.deadline && this.upstream !== undefined) {
      this.deadline = 0;
      const ms = this.ctx.config.httpResponseTimeoutMs;
      this.upstream.socket.destroy(new ProxyError('response_timeout', `no response after ${ms} ms`));
    }
  }

  private clientData(chunk: Buffer): void {
    if (this.state === C_HEAD) {
      if (this.buf === undefined) {
        this.buf = chunk;
        this.headStart = performance.now();
      } else {
        this.buf = Buffer.concat([this.buf, chunk]);
      }
      this.parseRequest();
    } else if (this.state === C_BODY) {
      this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
      this.pumpRequestBody();
    } else if (this.state !== C_CLOSED) {
      // The next pipelined request (or a body still resolving): wait for the exchange in flight.
      this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
      this.updateRead();
    }
  }

  private parseRequest(): void {
    const buf = this.buf;
    if (buf === undefined) return;
    const head = parseHead(buf, true, MAX_REQUEST_HEAD, this.searched);
    if (head === 'need-more') {
      this.searched = buf.length;
      return;
    }
    this.searched = 0;
    if (head === 'too-large') return this.reject('headers_too_large');
    if (head === 'bad') return this.reject('bad_request');
    if (head === 'unsupported') return this.handOff();
    this.request(buf, head);
  }

  private request(buf: Buffer, head: Head): void {
    if (head.minor !== 1 || head.method === 'CONNECT' || head.target.charCodeAt(0) !== 47 /* / */) return this.handOff();
    let host: string | undefined;
    let closeAfter = false;
    const { names, values } = head;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      if (name === 'host') {
        if (host !== undefined) return this.handOff();
        host = values[i] as string;
      } else if (name === 'upgrade' || name === 'expect') {
        return this.handOff();
      } else if (name === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(values[i] as string)) {
        closeAfter = true;
      }
    }
    if (host === undefined) return this.handOff();
    const framing = bodyFraming(head, true);
    if (framing.kind === 'bad' || framing.kind === 'close') return this.handOff();
    const ctx = this.ctx;
    if (ctx.taps.active) return this.handOff();
    const route = this.engine.stack.route({ headers: { host }, url: head.target } as unknown as http.IncomingMessage, this.conn);
    const mesh = this.engine.mesh;
    if (typeof route !== 'string' && mesh !== undefined && this.conn.direction === 'outbound' && mesh.keyFor(route.target) !== undefined) {
      return this.handOff();
    }
    // Taken: from here on the request is this engine's.
    this.firstRequest = false;
    this.startedAt = performance.now();
    this.host = host;
    this.closeAfter = closeAfter;
    this.isHeadMethod = head.method === 'HEAD';
    this.reqBody = framing.kind === 'none' ? B_NONE : framing.kind === 'length' ? B_LENGTH : B_CHUNKED;
    this.reqRemaining = framing.kind === 'length' ? framing.length : 0;
    if (this.reqBody === B_CHUNKED) this.reqScanner.reset();
    const dropped = droppedFields(head, this.reqBody === B_CHUNKED);
    this.headOut = dropped === undefined ? buf.subarray(0, head.end) : rewriteHead(buf, head, undefined, dropped, '');
    this.buf = head.end < buf.length ? buf.subarray(head.end) : undefined;
    if (typeof route === 'string') {
      this.stats = ctx.metrics.http(this.engine.direction, host, this.conn.target);
      this.stats.request();
      this.fail(route);
      return;
    }
    this.state = C_RESOLVING;
    this.routeTarget = route.target;
    this.updateRead();
    this.engine.stack.resolveTarget(this.conn, route.target, this.onResolved);
  }

  private resolved(target: HostPort | undefined): void {
    if (this.state !== C_RESOLVING) return; // the client left meanwhile
    const ctx = this.ctx;
    if (target === undefined) {
      this.stats = ctx.metrics.http(this.engine.direction, this.host, this.routeTarget);
      this.stats.request();
      this.fail('dns_not_found');
      return;
    }
    this.stats = ctx.metrics.http(this.engine.direction, this.host, target);
    this.stats.request();
    this.routeTarget = target;
    const u = this.engine.acquire(target, this);
    this.upstream = u;
    this.upstreamBlocked = false;
    this.respState = R_HEAD;
    this.respBuf = undefined;
    this.respSearched = 0;
    this.respHeadSent = false;
    this.reusable = false;
    const timeoutMs = ctx.config.httpResponseTimeoutMs;
    this.deadline = timeoutMs > 0 ? performance.now() + timeoutMs : 0;
    this.state = C_BODY;
    u.socket.cork();
    if (!u.socket.write(this.headOut as Buffer)) this.upstreamBlocked = true;
    this.headOut = undefined;
    this.pumpRequestBody();
    u.socket.uncork();
  }

  /** Forwards buffered request body bytes; what follows the body stays buffered as the next request. */
  private pumpRequestBody(): void {
    const u = this.upstream;
    if (u === undefined) return;
    const buf = this.buf;
    if (this.reqBody === B_NONE) {
      this.state = C_SENT;
    } else if (buf !== undefined) {
      let end: number;
      if (this.reqBody === B_LENGTH) {
        end = Math.min(this.reqRemaining, buf.length);
        this.reqRemaining -= end;
        if (this.reqRemaining === 0) this.state = C_SENT;
      } else {
        const at = this.reqScanner.scan(buf, 0, buf.length);
        if (at === -2) {
          this.destroyAll();
          return;
        }
        if (at === -1) end = buf.length;
        else {
          end = at;
          this.state = C_SENT;
        }
      }
      const body = end === buf.length ? buf : buf.subarray(0, end);
      this.buf = end === buf.length ? undefined : buf.subarray(end);
      if (end > 0 && !u.socket.write(body)) this.upstreamBlocked = true;
    }
    if (this.state === C_BODY && this.clientEnded) {
      this.destroyAll(); // the body will never be complete
      return;
    }
    this.updateRead();
  }

  onUpstreamDrain(): void {
    this.upstreamBlocked = false;
    this.updateRead();
  }

  private updateRead(): void {
    const want = this.state === C_HEAD || (this.state === C_BODY && !this.upstreamBlocked);
    const s = this.socket;
    if (want) {
      if (s.isPaused()) s.resume();
    } else if (!s.isPaused()) {
      s.pause();
    }
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.respState === R_BODY) {
      this.pumpResponseBody(chunk, 0);
      return;
    }
    let buf = this.respBuf === undefined ? chunk : Buffer.concat([this.respBuf, chunk]);
    for (;;) {
      const head = parseHead(buf, false, MAX_RESPONSE_HEAD, this.respSearched);
      if (head === 'need-more') {
        this.respBuf = buf;
        this.respSearched = buf.length;
        return;
      }
      this.respSearched = 0;
      this.respBuf = undefined;
      if (typeof head === 'string') {
        this.upstreamFailed('bad_upstream_response', 'unparsable response head');
        return;
      }
      if (head.status >= 100 && head.status < 200) {
        if (head.status === 101) {
          this.upstreamFailed('bad_upstream_response', '101 without an upgrade');
          return;
        }
        // 100, 102, 103: forwarded; the final response follows.
        this.writeClient(rewriteHead(buf, head, undefined, droppedFields(head, false), ''));
        if (head.end === buf.length) return;
        buf = buf.subarray(head.end);
        continue;
      }
      this.responseHead(buf, head);
      return;
    }
  }

  private responseHead(buf: Buffer, head: Head): void {
    const ctx = this.ctx;
    this.deadline = 0;
    (this.stats as HttpStats).response(head.status, -1, performance.now() - this.startedAt);
    let body = B_CLOSE;
    if (this.isHeadMethod || head.status === 204 || head.status === 304) {
      body = B_NONE;
    } else {
      const framing = bodyFraming(head, false);
      if (framing.kind === 'bad') {
        this.upstreamFailed('bad_upstream_response', 'conflicting response framing');
        return;
      }
      if (framing.kind === 'none') body = B_NONE;
      else if (framing.kind === 'length') {
        body = B_LENGTH;
        this.respRemaining = framing.length;
      } else if (framing.kind === 'chunked') {
        body = B_CHUNKED;
        this.respScanner.reset();
      }
    }
    this.respBody = body;
    let upstreamClose = false;
    const { names, values } = head;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(values[i] as string)) upstreamClose = true;
    }
    this.reusable = head.minor === 1 && !upstreamClose && body !== B_CLOSE;
    if (ctx.draining || body === B_CLOSE) this.closeAfter = true;
    const dropped = droppedFields(head, body === B_CHUNKED);
    const extra = this.closeAfter ? 'Connection: close\r\n' : '';
    const out = dropped === undefined && extra === '' ? buf.subarray(0, head.end) : rewriteHead(buf, head, undefined, dropped, extra);
    this.respHeadSent = true;
    this.respState = R_BODY;
    const s = this.socket;
    s.cork();
    this.writeClient(out);
    if (body === B_NONE) {
      if (head.end < buf.length) this.reusable = false;
      this.responseDone();
    } else if (head.end < buf.length) {
      this.pumpResponseBody(buf, head.end);
    }
    s.uncork();
  }

  private pumpResponseBody(buf: Buffer, from: number): void {
    let end = buf.length;
    let done = false;
    if (this.respBody === B_LENGTH) {
      end = Math.min(buf.length, from + this.respRemaining);
      this.respRemaining -= end - from;
      done = this.respRemaining === 0;
    } else if (this.respBody === B_CHUNKED) {
      const at = this.respScanner.scan(buf, from, buf.length);
      if (at === -2) {
        this.destroyAll();
        return;
      }
      if (at >= 0) {
        end = at;
        done = true;
      }
    }
    if (end > from) this.writeClient(from === 0 && end === buf.length ? buf : buf.subarray(from, end));
    if (done) {
      if (end < buf.length) this.reusable = false;
      this.responseDone();
    }
  }

  private writeClient(data: Buffer): void {
    const s = this.socket;
    if (s.destroyed) return;
    if (!s.write(data)) this.upstream?.socket.pause();
  }

  onUpstreamEnd(): void {
    if (this.respState === R_BODY && this.respBody === B_CLOSE) {
      this.reusable = false;
      this.responseDone();
      return;
    }
    this.onUpstreamError(new ProxyError('upstream_reset', 'connection closed by upstream'));
  }

  onUpstreamError(error: Error): void {
    const u = this.upstream;
    if (u === undefined) return;
    if (this.respHeadSent) {
      // The response is already on its way: the only honest signal left in HTTP/1 is to cut it.
      this.destroyAll();
      return;
    }
    this.ctx.log.info('HTTP request failed', {
      direction: this.engine.direction,
      authority: this.host,
      target: this.routeTarget === undefined ? '' : formatHostPort(this.routeTarget),
      error: error.message,
    });
    this.upstreamFailed(classifyUpstreamError(error), undefined);
  }

  private upstreamFailed(kind: ProxyErrorKind, detail: string | undefined): void {
    if (detail !== undefined) {
      this.ctx.log.info('HTTP request failed', { direction: this.engine.direction, authority: this.host, error: detail });
    }
    this.fail(kind);
  }

  /** Answers with a proxy-synthesized error and counts it, then goes on (or closes) as after a response. */
  private fail(kind: ProxyErrorKind): void {
    const u = this.upstream;
    if (u !== undefined) {
      this.upstream = undefined;
      u.owner = undefined;
      u.socket.destroy();
    }
    const { status, message } = ERROR_RESPONSES[kind];
    (this.stats as HttpStats).response(status, -1, performance.now() - this.startedAt, kind);
    this.ctx.metrics.httpError(this.engine.direction, kind);
    // A body that has not fully arrived has nowhere to go: answer, then close.
    if (this.state === C_BODY || (this.state === C_RESOLVING && this.reqBody !== B_NONE) || this.state === C_HEAD && this.reqBody !== B_NONE) {
      this.closeAfter = true;
    }
    if (this.ctx.draining) this.closeAfter = true;
    const body = `${message}\n`;
    this.writeClient(
      Buffer.from(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n${PROXY_ERROR_HEADER}: ${message}\r\n` +
          `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
          `${this.closeAfter ? 'connection: close\r\n' : ''}\r\n${body}`,
        'latin1',
      ),
    );
    this.respHeadSent = true;
    this.finishExchange();
  }

  private responseDone(): void {
    const u = this.upstream;
    if (u !== undefined) {
      this.upstream = undefined;
      if (this.reusable && this.state === C_SENT && !u.ended) {
        this.engine.release(u);
      } else {
        u.owner = undefined;
        u.socket.destroy();
      }
    }
    this.finishExchange();
  }

  private finishExchange(): void {
    if (this.state === C_CLOSED) return;
    // A request body still arriving cannot be skipped reliably: close after the answer.
    if (this.state === C_BODY || this.state === C_RESOLVING) this.closeAfter = true;
    this.stats = undefined;
    this.headOut = undefined;
    this.respBuf = undefined;
    this.deadline = 0;
    if (this.closeAfter) {
      this.state = C_CLOSED;
      this.engine.clients.delete(this);
      const s = this.socket;
      s.end();
      // Give the client a moment to read the answer before the connection goes.
      setTimeout(() => s.destroy(), 5000).unref();
      return;
    }
    this.state = C_HEAD;
    this.idleSince = performance.now();
    this.headStart = this.idleSince;
    this.reqBody = B_NONE;
    if (this.buf !== undefined) this.parseRequest();
    if (this.state === C_HEAD) this.updateRead();
  }

  /** Rejects a request the client sent malformed, and closes (as http1.ts onClientError). */
  private reject(kind: ProxyErrorKind): void {
    const ctx = this.ctx;
    ctx.metrics.httpError(this.engine.direction, kind);
    ctx.log.debug('rejecting malformed request', { direction: this.engine.direction, error: kind });
    this.state = C_CLOSED;
    this.engine.clients.delete(this);
    const s = this.socket;
    if (!s.writable) {
      s.destroy();
      return;
    }
    const { status, message } = ERROR_RESPONSES[kind];
    const body = `${message}\n`;
    s.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
        `${PROXY_ERROR_HEADER}: ${message}\r\n` +
        `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
    setTimeout(() => s.destroy(), 1000).unref();
  }

  /** The rest of the connection goes to the node:http stack, starting with the bytes not yet forwarded. */
  private handOff(): void {
    const s = this.socket;
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onClose);
    s.removeListener('drain', this.onDrain);
    this.state = C_CLOSED;
    this.engine.clients.delete(this);
    s.pause();
    if (this.buf !== undefined) s.unshift(this.buf);
    this.buf = undefined;
    this.engine.stack.serve(s, this.conn);
  }

  private clientEnd(): void {
    this.clientEnded = true;
    if (this.state === C_HEAD) {
      this.state = C_CLOSED;
      this.engine.clients.delete(this);
      this.socket.end();
    } else if (this.state === C_BODY) {
      this.destroyAll(); // the client left half-way through its body
    } else {
      this.closeAfter = true; // answer, then close
    }
  }

  private clientClose(): void {
    this.state = C_CLOSED;
    this.engine.clients.delete(this);
    const u = this.upstream;
    if (u !== undefined) {
      // Nobody is waiting: not counted as an upstream failure.
      this.upstream = undefined;
      u.owner = undefined;
      u.socket.destroy();
    }
  }

  private destroyAll(): void {
    const u = this.upstream;
    this.upstream = undefined;
    if (u !== undefined) {
      u.owner = undefined;
      u.socket.destroy();
    }
    this.state = C_CLOSED;
    this.engine.clients.delete(this);
    this.socket.destroy();
  }
}
