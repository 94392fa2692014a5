// A steady, modest load through the proxy in one of four protocols, beside a fault: requests are started
// at a fixed rate for a fixed time (never faster however the proxy answers), each carries an id the
// upstream records, and every one ends in a classified outcome. A cell then asserts on the outcomes:
// how many were lost and how each ended, never on how long anything took.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { grpcFrame } from './backend.ts';

export type Protocol = 'http1' | 'h2c' | 'grpc' | 'tcp';

export interface Outcome {
  readonly id: string;
  /**
   * ok: the full, right answer. status: an answer that is not (the proxy's 5xx, or a gRPC status ≠ 0).
   * reset: an HTTP/2 stream reset. conn: the connection failed or closed before a complete answer
   * (refused, reset, cut). timeout: nothing within the request's own limit.
   */
  readonly kind: 'ok' | 'status' | 'reset' | 'conn' | 'timeout';
  readonly status?: number;
  readonly grpcStatus?: string;
  readonly proxyError?: string;
  readonly detail?: string;
  /** The response head had arrived (a failure after it means the answer was cut). */
  readonly headSeen?: boolean;
}

export interface LoadOptions {
  readonly protocol: Protocol;
  readonly port: number;
  /** Host / :authority of every request. */
  readonly authority: string;
  readonly ratePerSecond: number;
  readonly durationMs: number;
  /** Path for HTTP (default /load/<id>). */
  readonly path?: string;
  /** A label that makes ids unique across loads in one test. */
  readonly tag: string;
  /** Per-request limit; a request without an outcome by then counts as `timeout`. */
  readonly requestTimeoutMs?: number;
  /** HTTP/1.1 keep-alive connections (default 8); h2c/gRPC client connections (default 2). */
  readonly connections?: number;
}

export interface Load {
  /** Resolves when every request started has its outcome. */
  readonly done: Promise<Outcome[]>;
  /** Ids started so far. */
  started(): number;
  /** Stops starting requests (those in flight still finish). */
  stop(): void;
}

/** Outcomes grouped for a readable failure message and for the results file. */
export function summarize(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.kind === 'ok' ? 'ok' : o.kind === 'status' ? `${o.status}${o.grpcStatus === undefined ? '' : ` grpc-status ${o.grpcStatus}`}` : o.kind;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

export function startLoad(options: LoadOptions): Load {
  const client = makeClient(options);
  const pending: Array<Promise<Outcome>> = [];
  const startedAt = performance.now();
  let stopped = false;
  let n = 0;
  // Catches up to the schedule on each tick, so a busy event loop does not lower the rate on average.
  const timer = setInterval(() => {
    const due = Math.min(Math.floor(((performance.now() - startedAt) / 1000) * options.ratePerSecond), Math.floor((options.durationMs / 1000) * options.ratePerSecond));
    while (!stopped && n < due) {
      const id = `${options.tag.replace(/[^A-Za-z0-9_.-]/g, "_")}-${n++}`;
      pending.push(withTimeout(id, client.send(id), options.requestTimeoutMs ?? 20_000));
    }
    if (n >= Math.floor((options.durationMs / 1000) * options.ratePerSecond)) stopped = true;
    if (stopped) clearInterval(timer);
  }, 10);
  const done = (async () => {
    while (!stopped) await new Promise((r) => setTimeout(r, 20));
    const outcomes = await Promise.all(pending);
    client.close();
    return outcomes;
  })();
  return {
    done,
    started: () => n,
    stop: () => {
      stopped = true;
    },
  };
}

function withTimeout(id: string, p: Promise<Outcome>, ms: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ id, kind: 'timeout' }), ms);
    void p.then((o) => {
      clearTimeout(timer);
      resolve(o);
    });
  });
}

interface Client {
  send(id: string): Promise<Outcome>;
  close(): void;
}

function makeClient(options: LoadOptions): Client {
  switch (options.protocol) {
    case 'http1':
      return http1Client(options);
    case 'h2c':
    case 'grpc':
      return h2Client(options);
    case 'tcp':
      return tcpClient(options);
  }
}

function http1Client(options: LoadOptions): Client {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections ?? 8 });
  return {
    send: (id) => http1Request(options.port, options.authority, options.path ?? `/load/${id}`, id, agent),
    close: () => agent.destroy(),
  };
}

/** One HTTP/1.1 request; `ok` needs status 200 and the upstream's `ok <path>` body. */
export function http1Request(port: number, authority: string, path: string, id: string, agent: http.Agent | false = false): Promise<Outcome> {
  return new Promise((resolve) => {
    let headSeen = false;
    let req: http.ClientRequest;
    try {
      req = http.request({ host: '127.0.0.1', port, path, agent, headers: { host: authority, 'x-load-id': id } }, (res) => {
        headSeen = true;
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const proxyError = res.headers['sluice-proxy-error'] as string | undefined;
          if (res.statusCode === 200 && body === `ok ${path}`) resolve({ id, kind: 'ok' });
          else resolve({ id, kind: 'status', status: res.statusCode ?? 0, ...(proxyError === undefined ? {} : { proxyError }), detail: body.slice(0, 80) });
        });
        res.on('error', (e) => resolve({ id, kind: 'conn', detail: e.message, headSeen }));
        res.on('aborted', () => resolve({ id, kind: 'conn', detail: 'aborted', headSeen }));
      });
    } catch (error) {
      resolve({ id, kind: 'conn', detail: (error as Error).message });
      return;
    }
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ id, kind: 'conn', detail: e.code ?? e.message, headSeen }));
    req.end();
  });
}

function h2Client(options: LoadOptions): Client {
  const sessions: Array<http2.ClientHttp2Session | undefined> = Array.from({ length: options.connections ?? 2 }, () => undefined);
  let next = 0;
  const session = (): http2.ClientHttp2Session => {
    const i = next++ % sessions.length;
    let s = sessions[i];
    // A session the proxy closed (GOAWAY, crash, shutdown) is replaced, as a real client would.
    if (s === undefined || s.closed || s.destroyed) {
      s = http2.connect(`http://127.0.0.1:${options.port}`);
      s.on('error', () => {});
      sessions[i] = s;
    }
    return s;
  };
  const grpc = options.protocol === 'grpc';
  return {
    send: (id) => h2Request(session(), options.authority, grpc ? undefined : (options.path ?? `/load/${id}`), id, {}, grpc),
    close: () => {
      for (const s of sessions) s?.close();
    },
  };
}

/**
 * One h2c GET of `path`, or with `grpc` a unary gRPC call (default method Call: the message echoed,
 * grpc-status 0). `ok` needs the whole right answer.
 */
export function h2Request(
  session: http2.ClientHttp2Session,
  authority: string,
  path: string | undefined,
  id: string,
  extra: http2.OutgoingHttpHeaders = {},
  grpc = path === undefined,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const message = grpcFrame(Buffer.from(`call ${id}`));
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({
        ':method': grpc ? 'POST' : 'GET',
        ':authority': authority,
        ':path': path ?? '/sluice.fault.Load/Call',
        'x-load-id': id,
        ...(grpc ? { 'content-type': 'application/grpc', te: 'trailers' } : {}),
        ...extra,
      });
    } catch (error) {
      resolve({ id, kind: 'conn', detail: (error as Error).message });
      return;
    }
    let headers: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {});
    stream.on('close', () => {
      const body = Buffer.concat(chunks);
      if (headers === undefined || stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
        const code = stream.rstCode;
        // A stream refused before the proxy took it (REFUSED_STREAM, or after GOAWAY) never reached the upstream.
        resolve({ id, kind: headers === undefined && code === undefined ? 'conn' : 'reset', detail: `rst ${code}`, headSeen: headers !== undefined });
        return;
      }
      const status = Number(headers[':status']);
      const proxyError = (headers['sluice-proxy-error'] ?? trailers['sluice-proxy-error']) as string | undefined;
      if (grpc) {
        const grpcStatus = String(trailers['grpc-status'] ?? headers['grpc-status'] ?? '');
        if (status === 200 && grpcStatus === '0' && body.equals(message)) resolve({ id, kind: 'ok' });
        else resolve({ id, kind: 'status', status, grpcStatus, ...(proxyError === undefined ? {} : { proxyError }) });
      } else if (status === 200 && body.toString() === `ok ${path}`) {
        resolve({ id, kind: 'ok' });
      } else {
        resolve({ id, kind: 'status', status, ...(proxyError === undefined ? {} : { proxyError }), detail: body.toString('latin1', 0, 80) });
      }
    });
    stream.end(grpc ? message : undefined);
  });
}

function tcpClient(options: LoadOptions): Client {
  return { send: (id) => tcpRequest(options.port, id), close: () => {} };
}

/** One opaque TCP exchange on a fresh connection: `\0<id> <payload>` out, the same bytes back, half-close. */
export function tcpRequest(port: number, id: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const payload = Buffer.from(`\x00${id} ${'z'.repeat(64)}\n`, 'latin1');
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(o);
    };
    const socket = net.connect(port, '127.0.0.1', () => socket.write(payload));
    socket.on('data', (c: Buffer) => {
      received = Buffer.concat([received, c]);
      if (received.length >= payload.length) finish(received.equals(payload) ? { id, kind: 'ok' } : { id, kind: 'status', detail: 'wrong bytes' });
    });
    socket.on('error', (e: NodeJS.ErrnoException) => finish({ id, kind: 'conn', detail: e.code ?? e.message }));
    socket.on('close', () => finish({ id, kind: 'conn', detail: 'closed early' }));
  });
}
