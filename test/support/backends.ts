// Small HTTP/1.1 backends for control-plane routing tests: each answers with its own name, and can be
// made slow, failing, or held open, and counts what it served.
import http from 'node:http';
import type http2 from 'node:http2';
import { closeServer, listen } from './net.ts';

export interface Backend {
  readonly name: string;
  readonly port: number;
  readonly server: http.Server;
  /** Requests received, in order (method path). */
  readonly seen: string[];
  /** Delay before answering, ms. */
  delayMs: number;
  /** Answers with this status while > 0 responses of it remain (then 200). */
  failNext: number;
  failStatus: number;
  /** Holds every response (or those whose URL this matches) until release() is called. */
  hold: boolean | ((url: string) => boolean);
  release(): void;
  close(): Promise<void>;
}

export async function startBackend(name: string): Promise<Backend> {
  const held: Array<() => void> = [];
  const backend: Backend = {
    name,
    port: 0,
    server: http.createServer((req, res) => {
      backend.seen.push(`${req.method} ${req.url}`);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answer = (): void => {
          let status = 200;
          if (backend.failNext > 0) {
            backend.failNext--;
            status = backend.failStatus;
          }
          const body = JSON.stringify({ backend: name, bytes: Buffer.concat(chunks).length, url: req.url });
          res.writeHead(status, { 'content-type': 'application/json', 'x-backend': name });
          res.end(body);
        };
        const go = (): void => {
          if (backend.delayMs > 0) setTimeout(answer, backend.delayMs);
          else answer();
        };
        const hold = typeof backend.hold === 'function' ? backend.hold(req.url ?? '') : backend.hold;
        if (hold) held.push(go);
        else go();
      });
    }),
    seen: [],
    delayMs: 0,
    failNext: 0,
    failStatus: 500,
    hold: false,
    release: () => {
      backend.hold = false;
      for (const go of held.splice(0)) go();
    },
    close: async () => {
      backend.release();
      await closeServer(backend.server);
    },
  };
  (backend as { port: number }).port = await listen(backend.server);
  return backend;
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request through the proxy's outbound listener with `host` as its authority. */
export function send(
  proxyPort: number,
  host: string,
  options: { path?: string; method?: string; body?: Buffer | string; agent?: http.Agent | false; headers?: http.OutgoingHttpHeaders } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: proxyPort,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        agent: options.agent ?? false,
        headers: { host, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** One h2c GET on `session` (a connection to the proxy's outbound listener) with `authority`. */
export function h2Send(session: http2.ClientHttp2Session, authority: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':authority': authority, ':path': path });
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let body = '';
    stream.on('response', (h) => {
      headers = h;
      status = Number(h[':status']);
    });
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (body += c));
    stream.on('end', () => resolve({ status, headers: headers as Reply['headers'], body }));
    stream.on('error', reject);
    stream.end();
  });
}

/** Which backend answered (from its x-backend header), or `<status>` for a proxy answer. */
export function who(reply: Reply): string {
  const name = reply.headers['x-backend'];
  return typeof name === 'string' ? name : `<${reply.status}>`;
}

/** Polls `check` until it returns true; fails after `timeoutMs`. For waiting on a state, never on time. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function counts(names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}
