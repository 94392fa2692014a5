// The admin server (default 127.0.0.1:4191): /metrics, /ready, /live, /proxy-log-level, /shutdown.
import { promisify } from 'node:util';
import type { LogLevel } from '../config/proxy-config.ts';
import { isLogLevel } from '../log/logger.ts';
import { AdminHttpServer, type AdminRequest, type AdminResponse } from './admin-http.ts';

// node:zlib loads on the first scrape that asks for gzip, not in every proxy that is never scraped so.
let gzipAsync: ((body: string) => Promise<Buffer>) | undefined;
function gzip(body: string): Promise<Buffer> {
  gzipAsync ??= promisify(process.getBuiltinModule('node:zlib').gzip) as (body: string) => Promise<Buffer>;
  return gzipAsync(body);
}

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

const TEXT = { 'content-type': 'text/plain; charset=utf-8' };

function text(status: number, body: string): AdminResponse {
  return { status, headers: TEXT, body };
}

async function handle(hooks: AdminHooks, req: AdminRequest): Promise<AdminResponse> {
  const { method, path } = req;
  switch (path) {
    case '/metrics': {
      if (method !== 'GET' && method !== 'HEAD') return text(405, 'method not allowed\n');
      const body = await hooks.metrics();
      const type = 'text/plain; version=0.0.4; charset=utf-8';
      if (/\bgzip\b/.test(req.headers.get('accept-encoding') ?? '')) {
        return { status: 200, headers: { 'content-type': type, 'content-encoding': 'gzip' }, body: await gzip(body) };
      }
      return { status: 200, headers: { 'content-type': type }, body };
    }
    case '/ready':
      return hooks.ready() ? text(200, 'ready\n') : text(503, 'not ready\n');
    case '/live':
      return text(200, 'live\n');
    case '/proxy-log-level': {
      if (!isLoopback(req.remoteAddress)) return text(403, 'only available from localhost\n');
      if (method === 'GET') return text(200, `${hooks.logLevel()}\n`);
      if (method !== 'PUT') return text(405, 'method not allowed\n');
      const level = req.body.trim().toLowerCase();
      if (!isLogLevel(level)) return text(400, 'expected one of: error, warn, info, debug, trace\n');
      hooks.setLogLevel(level);
      return text(200, `${level}\n`);
    }
    case '/shutdown': {
      if (hooks.shutdown === undefined) return text(404, 'shutdown endpoint disabled (SLUICE_PROXY_SHUTDOWN_ENDPOINT_ENABLED)\n');
      if (!isLoopback(req.remoteAddress)) return text(403, 'only available from localhost\n');
      if (method !== 'POST') return text(405, 'method not allowed\n');
      // Answer first: the shutdown closes every connection.
      setImmediate(() => hooks.shutdown?.());
      return text(202, 'shutdown\n');
    }
    default:
      return text(404, 'not found\n');
  }
}

export function createAdminServer(hooks: AdminHooks): AdminHttpServer {
  return new AdminHttpServer((req) => handle(hooks, req));
}
