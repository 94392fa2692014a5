// One client connection on the fast HTTP/1 engine: reads request heads (http1/parse.ts), frames request
// bodies, keeps the connection alive between requests, and hands each request to its Exchange. Anything
// the engine does not frame itself (Upgrade, Expect, CONNECT, HTTP/1.0, absolute-form targets,
// close-delimited bodies) hands the connection to the node:http stack at a request boundary, before any
// byte of that request went upstream. One request is in flight at a time; pipelined ones wait in the buffer.
import type net from 'node:net';
import type { HostPort } from '../../../config/parse.ts';
import type { ProxyErrorKind } from '../../../core/errors.ts';
import { ChunkedScanner, bodyFraming, droppedFields, parseHead, rewriteHead, type Head } from '../../http1/parse.ts';
import type { TapStream } from '../../tap/registry.ts';
import { pathOf } from '../../profiles/routes.ts';
import type { AcceptedConnection, WorkerContext } from '../context.ts';
import { httpTarget } from '../routing.ts';
import { errorResponseBytes } from './error-response.ts';
import { CLIENT_ID_HEADER, tapTls } from '../mesh-tls.ts';
import type { Endpoint } from '../../balance/endpoints.ts';
import { Exchange } from './exchange.ts';
import type { ExchangeClient, ExchangeEnv } from './exchange-env.ts';
import { headerList } from '../../tap/http1-headers.ts';
import type { Http1Proxy } from './node-stack.ts';

/** node:http's default --max-http-header-size. */
const MAX_REQUEST_HEAD = 16 * 1024;
/** As the node:http stack's keepAliveTimeout: idle client connections close after this. */
const CLIENT_IDLE_MS = 60_000;

const C_HEAD = 0;
const C_BODY = 1;
const C_SENT = 2;
const C_CLOSED = 3;

const B_NONE = 0;
const B_LENGTH = 1;
const B_CHUNKED = 2;

const CLOSE_TOKEN = /(?:^|,)\s*close\s*(?:,|$)/i;

/** What a client connection needs from its engine (fast-engine.ts). */
export interface ClientEnv extends ExchangeEnv {
  /** The node:http stack that takes over what the engine does not frame. */
  readonly fallback: Http1Proxy;
  forget(client: ClientConn): void;
}

export class ClientConn implements ExchangeClient {
  readonly conn: AcceptedConnection;
  private readonly env: ClientEnv;
  private readonly ctx: WorkerContext;
  private readonly socket: net.Socket;
  private readonly exchange: Exchange;
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
  private reqHead: Head | undefined;
  private reqBody = B_NONE;
  private reqRemaining = 0;
  private readonly reqScanner = new ChunkedScanner();
  /** Inbound over mesh TLS with a verified client: the header line added to each request. */
  private readonly clientIdLine: string;

  private readonly onData = (chunk: Buffer): void => this.clientData(chunk);
  private readonly onEnd = (): void => this.clientEnd();
  private readonly onClose = (): void => this.clientClose();
  private readonly onDrain = (): void => this.exchange.resumeUpstream();

  constructor(env: ClientEnv, socket: net.Socket, conn: AcceptedConnection) {
    this.env = env;
    this.ctx = env.ctx;
    this.socket = socket;
    this.conn = conn;
    this.clientIdLine = conn.direction === 'inbound' && conn.clientId !== undefined ? `${CLIENT_ID_HEADER}: ${conn.clientId}\r\n` : '';
    this.exchange = new Exchange(env, this);
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

  /** Deadlines, from the engine's sweep. */
  check(now: number): void {
    if (this.state === C_HEAD) {
      if (this.buf !== undefined || this.firstRequest) {
        if (now - this.headStart >= this.ctx.config.httpHeaderTimeoutMs) this.reject('header_timeout');
      } else if (this.ctx.draining || now - this.idleSince >= CLIENT_IDLE_MS) {
        this.close();
        this.socket.end();
        this.socket.destroySoon();
      }
    } else {
      this.exchange.check(now);
    }
  }

  private clientData(chunk: Buffer): void {
    if (this.state === C_CLOSED) return;
    if (this.buf === undefined) {
      this.buf = chunk;
      if (this.state === C_HEAD) this.headStart = performance.now();
    } else {
      this.buf = Buffer.concat([this.buf, chunk]);
    }
    if (this.state === C_HEAD) this.parseRequest();
    else if (this.state === C_BODY) this.pumpRequestBody();
    else this.updateRead(); // the next pipelined request waits for the exchange in flight
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
    let clientIdSent = false;
    const { names, values } = head;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      if (name === CLIENT_ID_HEADER) {
        clientIdSent = true;
      } else if (name === 'host') {
        if (host !== undefined) return this.handOff();
        host = values[i] as string;
      } else if (name === 'upgrade' || name === 'expect') {
        return this.handOff();
      } else if (name === 'connection' && CLOSE_TOKEN.test(values[i] as string)) {
        closeAfter = true;
      }
    }
    if (host === undefined) return this.handOff();
    const framing = bodyFraming(head, true);
    if (framing.kind === 'bad' || framing.kind === 'close') return this.handOff();
    // Taken: from here on the request is this engine's.
    this.conn.authz?.countHttp();
    this.firstRequest = false;
    this.closeAfter = closeAfter;
    this.reqHead = head;
    this.reqBody = framing.kind === 'none' ? B_NONE : framing.kind === 'length' ? B_LENGTH : B_CHUNKED;
    this.reqRemaining = framing.kind === 'length' ? framing.length : 0;
    if (this.reqBody === B_CHUNKED) this.reqScanner.reset();
    const ex = this.exchange;
    ex.startedAt = performance.now();
    ex.method = head.method;
    ex.host = host;
    ex.path = head.target;
    ex.requestEnded = this.reqBody === B_NONE;
    const dropped = droppedFields(head, this.reqBody === B_CHUNKED);
    if (this.clientIdLine !== '' || (clientIdSent && this.conn.direction === 'inbound')) {
      // Inbound: the caller's verified identity replaces whatever the client claimed (mesh-tls.ts).
      const drop = dropped ?? new Array<boolean>(names.length).fill(false);
      for (let i = 0; i < names.length; i++) if (names[i] === CLIENT_ID_HEADER) drop[i] = true;
      ex.headOut = rewriteHead(buf, head, undefined, drop, this.clientIdLine);
      ex.requestHeadParsed = undefined; // a field was added
    } else {
      ex.headOut = dropped === undefined ? buf.subarray(0, head.end) : rewriteHead(buf, head, undefined, dropped, '');
      ex.requestHeadParsed = head;
    }
    this.buf = head.end < buf.length ? buf.subarray(head.end) : undefined;
    this.state = this.reqBody === B_NONE ? C_SENT : C_BODY;
    this.updateRead();
    // Outbound requests go where their authority says, others (and those without one) where the
    // connection was going (routing.ts).
    const ctx = this.ctx;
    ex.begin(httpTarget(this.conn, ctx.authorities.get(host, 80), ctx.config));
  }

  /** Forwards buffered request body bytes; what follows the body stays buffered as the next request. */
  bodyWanted(): void {
    if (this.state === C_BODY) this.pumpRequestBody();
  }

  private pumpRequestBody(): void {
    const ex = this.exchange;
    while (this.state === C_BODY && this.buf !== undefined && ex.wantsBody) {
      const buf = this.buf;
      let end: number;
      if (this.reqBody === B_LENGTH) {
        end = Math.min(this.reqRemaining, buf.length);
        this.reqRemaining -= end;
        if (this.reqRemaining === 0) this.bodyComplete();
      } else {
        const at = this.reqScanner.scan(buf, 0, buf.length);
        if (at === -2) return this.destroyAll();
        if (at === -1) end = buf.length;
        else {
          end = at;
          this.bodyComplete();
        }
      }
      this.buf = end === buf.length ? undefined : buf.subarray(end);
      if (end > 0) ex.body(end === buf.length ? buf : buf.subarray(0, end));
    }
    if (this.state === C_BODY && this.clientEnded) return this.destroyAll(); // the body will never be complete
    this.updateRead();
  }

  private bodyComplete(): void {
    this.state = C_SENT;
    this.exchange.requestEnded = true;
  }

  private updateRead(): void {
    // Paused only while bytes wait that cannot be handled yet (a body the upstream cannot take, a
    // pipelined request behind the one in flight): a client that waits for its answer costs no pause and
    // resume, each of which goes through the stream machinery.
    const want = this.state === C_HEAD || (this.state === C_BODY ? this.exchange.wantsBody : this.buf === undefined);
    const s = this.socket;
    if (want) {
      if (s.isPaused()) s.resume();
    } else if (!s.isPaused()) {
      s.pause();
    }
  }

  writeClient(data: Buffer): void {
    const s = this.socket;
    if (s.destroyed) return;
    if (!s.write(data)) this.exchange.pauseUpstream();
  }

  corkClient(): void {
    this.socket.cork();
  }

  uncorkClient(): void {
    this.socket.uncork();
  }

  startTap(destination: HostPort | undefined, endpoint: Endpoint | undefined, startedAt: number): TapStream | undefined {
    const head = this.reqHead as Head;
    const { remoteAddress, remotePort } = this.socket;
    const source = remoteAddress === undefined || remotePort === undefined ? undefined : { host: remoteAddress, port: remotePort };
    const tls = tapTls(this.ctx, this.conn, endpoint);
    const request = { direction: this.conn.direction, source, destination, destinationLabels: endpoint?.labels, method: head.method, tls };
    return this.ctx.taps.start(
      { ...request, scheme: 'http', authority: this.exchange.host, path: pathOf(head.target) },
      () => headerList(head),
      startedAt,
    );
  }

  exchangeDone(close: boolean): void {
    if (this.state === C_CLOSED) return;
    this.reqHead = undefined;
    // A request body still arriving cannot be skipped reliably: close after the answer.
    if (close || this.closeAfter || this.state === C_BODY || this.ctx.draining) {
      this.close();
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

  /** Rejects a request the client sent malformed, and closes (as the node:http stack's clientError). */
  private reject(kind: ProxyErrorKind): void {
    const ctx = this.ctx;
    ctx.metrics.httpError(this.conn.direction, kind);
    ctx.log.debug('rejecting malformed request', { direction: this.conn.direction, error: kind });
    this.close();
    const s = this.socket;
    if (!s.writable) {
      s.destroy();
      return;
    }
    s.end(errorResponseBytes(kind, true));
    setTimeout(() => s.destroy(), 1000).unref();
  }

  /** The rest of the connection goes to the node:http stack, starting with the bytes not yet forwarded. */
  private handOff(): void {
    const s = this.socket;
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onClose);
    s.removeListener('drain', this.onDrain);
    this.close();
    s.pause();
    if (this.buf !== undefined) s.unshift(this.buf);
    this.buf = undefined;
    this.env.fallback.serve(s, this.conn);
  }

  private clientEnd(): void {
    this.clientEnded = true;
    if (this.state === C_HEAD) {
      this.close();
      this.socket.end();
    } else if (this.state === C_BODY) {
      this.destroyAll(); // the client left half-way through its body
    } else {
      this.closeAfter = true; // answer, then close
    }
  }

  private clientClose(): void {
    this.close();
    // Nobody is waiting: not counted as an upstream failure.
    this.exchange.abandon();
  }

  destroyAll(): void {
    this.close();
    this.exchange.abandon();
    this.socket.destroy();
  }

  private close(): void {
    this.state = C_CLOSED;
    this.env.forget(this);
  }
}
