// The admin server (default 127.0.0.1:4191): /metrics, /ready, /live, /proxy-log-level, /shutdown.
import http from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { LogLevel } from '../config/proxy-config.ts';
import { isLogLevel } from '../log/logger.ts';

const gzip = promisify(zlib.gzip);
/** Log-level changes cannot need more than a few bytes; anything larger is refused unread. */
const MAX_BODY_BYTES = 1024;

export interface AdminHooks {
  /** Prometheus text of every metric. */
  metrics(): Promise<string>;
  ready(): boolean;
  logLevel(): LogLevel;
  setLogLevel(level: LogLevel): void;
  /** Present only when the shutdown endpoint is enabled. */
  shutdown: (() => void) | undefined;
}

function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));
}

function send(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
      }
    });
    req.on('end', () => resolve(body));
    req.on('error', () => resolve(undefined));
  });
}

async function handle(hooks: AdminHooks, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method ?? 'GET';
  switch (path) {
    case '/metrics': {
      if (method !== 'GET' && method !== 'HEAD') return send(res, 405, 'method not allowed\n');
      const text = await hooks.metrics();
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' };
      if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
        const body = await gzip(text);
        res.writeHead(200, { ...headers, 'content-encoding': 'gzip', 'content-length': body.length });
        res.end(body);
      } else {
        res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      }
      return;
    }
    case '/ready':
      return hooks.ready() ? send(res, 200, 'ready\n') : send(res, 503, 'not ready\n');
    case '/live':
      return send(res, 200, 'live\n');
    case '/proxy-log-level': {
      if (!isLoopback(req.socket.remoteAddress)) return send(res, 403, 'only available from localhost\n');
      if (method === 'GET') return send(res, 200, `${hooks.logLevel()}\n`);
      if (method !== 'PUT') return send(res, 405, 'method not allowed\n');
      const body = (await readBody(req))?.trim().toLowerCase();
      if (body === undefined || !isLogLevel(body)) {
        return send(res, 400, 'expected one of: error, warn, info, debug, trace\n');
      }
      hooks.setLogLevel(body);
      return send(res, 200, `${body}\n`);
    }
    case '/shutdown': {
      if (hooks.shutdown === undefined) return send(res, 404, 'shutdown endpoint disabled (SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED)\n');
      if (!isLoopback(req.socket.remoteAddress)) return send(res, 403, 'only available from localhost\n');
      if (method !== 'POST') return send(res, 405, 'method not allowed\n');
      send(res, 202, 'shutdown\n');
      hooks.shutdown();
      return;
    }
    default:
      return send(res, 404, 'not found\n');
  }
}

export function createAdminServer(hooks: AdminHooks): http.Server {
  const server = http.createServer((req, res) => {
    handle(hooks, req, res).catch((error: Error) => {
      if (!res.headersSent) send(res, 500, `${error.message}\n`);
      else res.destroy();
    });
  });
  // Scrapers keep connections open; they must not hold up shutdown.
  server.keepAliveTimeout = 5_000;
  return server;
}
