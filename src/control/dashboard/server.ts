// The dashboard's HTTP server: the page's files, the public API's read-only methods passed through as
// JSON, and what the public API does not answer in one call — history for sparklines, the topology's
// edges, tap as Server-Sent Events, and a live channel whose first message names this controller run
// (the page notices a restart by a new `bootId`, and a lost controller by the channel breaking).
//
// Server-Sent Events over plain node:http rather than WebSocket: every stream here goes one way, the
// browser's EventSource reconnects by itself, and no dependency is needed.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { LiveHello } from '../../api/dashboard-messages.ts';
import { formatHostPort, type HostPort } from '../../config/parse.ts';
import type { Logger } from '../../log/logger.ts';
import { PublicApiUnavailable, type PublicApiClient } from './api-client.ts';
import { MISSING_BUNDLE_PAGE, type Asset } from './assets.ts';
import type { StatHistory } from './history.ts';
import type { StatSummaryCall } from './sampler.ts';
import { TapQueryError, tapEventView, tapRequestOf, type TapEventJson } from './tap-events.ts';
import { topology } from './topology.ts';

/** Public API methods the page may call: the read-only ones (Tap goes through /api/tap). */
export const PASSED_METHODS = new Set(['StatSummary', 'TopRoutes', 'ListPods', 'Version', 'SelfCheck']);
const MAX_BODY_BYTES = 64 * 1024;
/** SSE comments this often keep idle streams from being cut by intermediaries and reveal dead peers. */
const HEARTBEAT_MS = 15_000;
/** Taps at once per server: each makes every tapped proxy stream to the controller. */
const MAX_TAPS = 20;
/** The topology costs one StatSummary per workload: pages refreshing together share one answer. */
const TOPOLOGY_CACHE_MS = 2_000;
/** Time windows the topology may cover (as the CLI offers them). */
const WINDOWS = new Set(['10s', '1m', '10m', '1h']);

export interface DashboardServerOptions {
  /** The public API over HTTP/JSON: what the page passes through, and taps. */
  readonly api: PublicApiClient;
  /** StatSummary in this process, for the topology (sampler.ts inProcessStatSummary). */
  readonly statSummary: StatSummaryCall;
  readonly history: StatHistory;
  readonly assets: ReadonlyMap<string, Asset>;
  readonly version: string;
  readonly log: Logger;
}

export interface DashboardServer {
  readonly address: HostPort;
  readonly bootId: string;
  close(): Promise<void>;
}

/**
 * Whether a request's Host may reach the dashboard: IP literals and `localhost` only. A name that
 * resolves to this server by DNS rebinding would otherwise let any web page read the mesh's traffic.
 */
export function hostAllowed(hostHeader: string | undefined): boolean {
  if (hostHeader === undefined || hostHeader === '') return false;
  const host = hostHeader.startsWith('[') ? hostHeader.slice(1, hostHeader.indexOf(']')) : (hostHeader.split(':')[0] ?? '');
  return net.isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost');
}

export async function startDashboardServer(addr: HostPort, options: DashboardServerOptions): Promise<DashboardServer> {
  const bootId = randomUUID();
  const startedAt = Date.now();
  const streams = new Set<http.ServerResponse>();
  let taps = 0;
  const topologyCache = new Map<string, { at: number; answer: Promise<unknown> }>();

  const sendJson = (res: http.ServerResponse, status: number, value: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(`${JSON.stringify(value)}\n`);
  };
  const failure = (res: http.ServerResponse, error: unknown): void => {
    if (error instanceof PublicApiUnavailable) sendJson(res, 502, { error: error.message });
    else {
      options.log.warn('dashboard request failed', { error: (error as Error).message });
      sendJson(res, 500, { error: (error as Error).message });
    }
  };

  const startStream = (res: http.ServerResponse): ((event: string, data: unknown) => void) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    streams.add(res);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    res.on('close', () => {
      clearInterval(heartbeat);
      streams.delete(res);
    });
    // EventSource waits this long before reconnecting after the stream breaks.
    res.write('retry: 2000\n\n');
    return (event, data) => void res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const routes = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    const unary = /^\/api\/v1\/([A-Za-z]+)$/.exec(path);
    if (unary !== null) {
      const method = unary[1] as string;
      if (!PASSED_METHODS.has(method)) return sendJson(res, 404, { error: `${method} is not available to the dashboard` });
      if (req.method !== 'POST') return sendJson(res, 405, { error: `use POST ${path}` });
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined) return sendJson(res, 413, { error: `request larger than ${MAX_BODY_BYTES} bytes` });
      const answer = await options.api.call(method, body === '' ? '{}' : body);
      res.writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(answer.body);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: `use GET ${path}` });
    switch (path) {
      case '/api/info':
        return sendJson(res, 200, { dashboard: 'sluice', version: options.version, bootId, startedAt, publicApi: options.api.base });
      case '/api/history': {
        const namespace = url.searchParams.get('namespace') ?? '';
        const type = url.searchParams.get('type') ?? '';
        return sendJson(
          res,
          200,
          options.history.query((key) => {
            const [keyType = '', keyNamespace = ''] = key.split('/');
            return (type === '' || keyType === type) && (namespace === '' || keyNamespace === namespace);
          }),
        );
      }
      case '/api/topology': {
        const namespace = url.searchParams.get('namespace') ?? '';
        const window = url.searchParams.get('window') ?? '1m';
        if (!WINDOWS.has(window)) return sendJson(res, 400, { error: `window must be one of ${[...WINDOWS].join(', ')}` });
        const key = `${namespace}\u0001${window}`;
        let cached = topologyCache.get(key);
        if (cached === undefined || Date.now() - cached.at > TOPOLOGY_CACHE_MS) {
          const answer = topology(options.statSummary, namespace, window);
          cached = { at: Date.now(), answer };
          topologyCache.set(key, cached);
          answer.catch(() => topologyCache.delete(key));
        }
        return sendJson(res, 200, await cached.answer);
      }
      case '/api/live': {
        const send = startStream(res);
        const hello: LiveHello = { bootId, version: options.version, startedAt };
        send('hello', hello);
        return;
      }
      case '/api/tap':
        return tap(url, res);
      default:
        return asset(path, res);
    }
  };

  const tap = async (url: URL, res: http.ServerResponse): Promise<void> => {
    let request: object;
    try {
      request = tapRequestOf(url.searchParams);
    } catch (error) {
      if (error instanceof TapQueryError) return sendJson(res, 400, { error: error.message });
      throw error;
    }
    if (taps >= MAX_TAPS) return sendJson(res, 503, { error: `${MAX_TAPS} taps are running already; stop one first` });
    taps++;
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const send = startStream(res);
    send('started', { at: Date.now() });
    try {
      await options.api.stream('TapByResource', request, (message) => {
        const view = tapEventView(message as TapEventJson);
        if (view !== undefined) send('tap', view);
      }, abort.signal);
      if (!abort.signal.aborted) send('end', { reason: 'the controller ended the tap' });
    } catch (error) {
      send('failure', { error: (error as Error).message });
    } finally {
      taps--;
      res.end();
    }
  };

  const asset = (path: string, res: http.ServerResponse): void => {
    if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    const found = options.assets.get(path === '/' ? '/index.html' : path);
    if (found === undefined) {
      if (path === '/' || path === '/index.html') {
        res.writeHead(503, { 'content-type': 'text/html; charset=utf-8' });
        res.end(MISSING_BUNDLE_PAGE);
        return;
      }
      return sendJson(res, 404, { error: `no such path ${path}` });
    }
    // The page's files change only with the controller's version: the HTML is always re-read, the rest
    // may be cached for an hour (a reload after an upgrade picks the new files up through the HTML).
    res.writeHead(200, {
      'content-type': found.contentType,
      'content-length': found.body.length,
      'cache-control': found.contentType.startsWith('text/html') ? 'no-cache' : 'max-age=3600',
    });
    res.end(found.body);
  };

  const server = http.createServer((req, res) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'");
    if (!hostAllowed(req.headers.host)) {
      sendJson(res, 403, { error: `Host "${req.headers.host ?? ''}" is not allowed: open the dashboard by IP address or localhost (e.g. through sluice dashboard)` });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    routes(req, res, url).catch((error: unknown) => {
      if (!res.headersSent) failure(res, error);
      else res.end();
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  const bound = await new Promise<HostPort>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: addr.host, port: addr.port }, () => {
      server.removeListener('error', reject);
      resolve({ host: addr.host, port: (server.address() as net.AddressInfo).port });
    });
  });
  options.log.debug('dashboard listening', { addr: formatHostPort(bound) });
  return {
    address: bound,
    bootId,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of streams) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The body as text, or undefined past `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8').trim()));
    req.on('error', reject);
  });
}
