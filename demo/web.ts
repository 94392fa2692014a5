// The `web` front end: HTTP/1.1 for people and the traffic generator, gRPC to `emoji` and `voting`.
//   GET /                          a tiny HTML page
//   GET /api/list                  every emoji (emoji ListAll)
//   GET|POST /api/vote?choice=:x:  emoji FindByShortcode, then voting Vote<X>; 500 when the vote fails
//   GET /api/leaderboard           voting Results joined with emoji ListAll
//   GET /healthz                   200, touches nothing else
//
// The services are addressed by their cluster names (`--emoji-svc`, `--voting-svc`). With `--outbound`
// the gRPC connections go to that address — the sidecar's outbound listener — and the name travels as
// the `:authority`, which is what the proxy routes by; without it the names are dialled directly.
//   node demo/web.ts --listen 127.0.0.1:20080 --outbound 127.0.0.1:20140 [--log info]
import http from 'node:http';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { EMOJIS, Log, loadEmojivoto, meshClient, onStop, parseLevel, splitAddr, unary, voteMethod, type Emoji } from './common.ts';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:8080' },
    outbound: { type: 'string' },
    'emoji-svc': { type: 'string', default: 'emoji-svc.emojivoto.svc.cluster.local:8080' },
    'voting-svc': { type: 'string', default: 'voting-svc.emojivoto.svc.cluster.local:8080' },
    log: { type: 'string' },
    'watch-stdin': { type: 'boolean', default: false },
  },
});
const log = new Log('web', parseLevel(values.log));
const pkg = loadEmojivoto();
const emojiSvc = meshClient(pkg.EmojiService, values.outbound ?? values['emoji-svc'], values['emoji-svc']);
const votingSvc = meshClient(pkg.VotingService, values.outbound ?? values['voting-svc'], values['voting-svc']);
/** Each gRPC call carries this deadline (`grpc-timeout`), which the proxies honour. */
const DEADLINE_MS = 5000;
const knownVotes = new Set(EMOJIS.map((emoji) => emoji.shortcode));

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** A failed gRPC call, as the HTTP status the front end answers with. */
function fromGrpc(what: string, error: unknown): HttpError {
  const e = error as Partial<grpc.ServiceError>;
  const status = e.code === grpc.status.UNAVAILABLE ? 503 : e.code === grpc.status.DEADLINE_EXCEEDED ? 504 : 500;
  return new HttpError(status, `${what}: ${e.details ?? e.message ?? String(error)} (grpc-status ${e.code ?? '?'})`);
}

async function listAll(): Promise<readonly Emoji[]> {
  const res = await unary<{ list: Emoji[] }>(emojiSvc, 'ListAll', {}, DEADLINE_MS).catch((error: unknown) => {
    throw fromGrpc('emoji ListAll', error);
  });
  return res.list;
}

async function vote(choice: string): Promise<Emoji> {
  const found = await unary<{ emoji?: Emoji | null }>(emojiSvc, 'FindByShortcode', { shortcode: choice }, DEADLINE_MS).catch(
    (error: unknown) => {
      throw fromGrpc('emoji FindByShortcode', error);
    },
  );
  if (found.emoji === undefined || found.emoji === null || !knownVotes.has(choice)) {
    throw new HttpError(400, `no emoji ${JSON.stringify(choice)}`);
  }
  await unary(votingSvc, voteMethod(choice), {}, DEADLINE_MS).catch((error: unknown) => {
    throw fromGrpc(`voting ${voteMethod(choice)}`, error);
  });
  return found.emoji;
}

async function leaderboard(): Promise<Array<{ shortcode: string; unicode: string; votes: number }>> {
  const [results, emojis] = await Promise.all([
    unary<{ results: Array<{ shortcode: string; votes: number }> }>(votingSvc, 'Results', {}, DEADLINE_MS).catch((error: unknown) => {
      throw fromGrpc('voting Results', error);
    }),
    listAll(),
  ]);
  const unicode = new Map(emojis.map((emoji) => [emoji.shortcode, emoji.unicode]));
  return results.results.map((r) => ({ shortcode: r.shortcode, unicode: unicode.get(r.shortcode) ?? '?', votes: r.votes }));
}

const INDEX = `<!doctype html>
<html><head><meta charset="utf-8"><title>Emoji vote (Sluice demo)</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}a.e{font-size:2em;text-decoration:none;margin:.2em}</style>
</head><body>
<h1>Vote for your favourite emoji</h1>
<p>${EMOJIS.map((e) => `<a class="e" title="${e.shortcode}" href="/api/vote?choice=${encodeURIComponent(e.shortcode)}">${e.unicode}</a>`).join('')}</p>
<p><a href="/api/leaderboard">Leaderboard (JSON)</a> · <a href="/api/list">All emojis (JSON)</a></p>
<p>Served by the Sluice demo: web → emoji and voting over gRPC, each behind its own sluice-proxy.</p>
</body></html>
`;

async function route(req: http.IncomingMessage): Promise<{ status: number; type: string; body: string }> {
  const url = new URL(req.url ?? '/', 'http://web');
  const json = (value: unknown) => ({ status: 200, type: 'application/json', body: `${JSON.stringify(value)}\n` });
  const method = req.method ?? 'GET';
  switch (url.pathname) {
    case '/':
      return { status: 200, type: 'text/html; charset=utf-8', body: INDEX };
    case '/healthz':
      return { status: 200, type: 'text/plain', body: 'ok\n' };
    case '/api/list':
      return json(await listAll());
    case '/api/vote': {
      if (method !== 'GET' && method !== 'POST') throw new HttpError(405, 'use GET or POST');
      const choice = url.searchParams.get('choice');
      if (choice === null || choice === '') throw new HttpError(400, 'missing ?choice=:emoji:');
      return json({ voted: await vote(choice) });
    }
    case '/api/leaderboard':
      return json(await leaderboard());
    default:
      throw new HttpError(404, `no route ${url.pathname}`);
  }
}

const WARN_EVERY_MS = 5000;
const lastWarned = new Map<string, { at: number; suppressed: number }>();
function warnThrottled(status: number, message: string, path: string | undefined): void {
  const key = `${status} ${message}`;
  const now = Date.now();
  const seen = lastWarned.get(key);
  if (seen !== undefined && now - seen.at < WARN_EVERY_MS) {
    seen.suppressed++;
    return;
  }
  const alsoFailed = seen?.suppressed ?? 0;
  lastWarned.set(key, { at: now, suppressed: 0 });
  log.warn('request failed', { path, status, error: message, ...(alsoFailed > 0 && { sameErrorSinceLastLine: alsoFailed }) });
}

const server = http.createServer((req, res) => {
  // The request body (if any) is not used; drain it so keep-alive connections stay usable.
  req.resume();
  route(req).then(
    ({ status, type, body }) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
    (error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      // A vote that fails on purpose is the app's own business (info); the network failing is not (warn),
      // but at tens of requests per second one line per kind every few seconds says enough.
      if (status >= 502) warnThrottled(status, message, req.url);
      else if (status >= 500) log.info('request failed', { path: req.url, status, error: message });
      const body = `${JSON.stringify({ error: message })}\n`;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
  );
});
// Longer than the proxy's pool idle timeout (3 s): the proxy, not the app, should close idle connections.
server.keepAliveTimeout = 65_000;

const { host, port } = splitAddr(values.listen);
server.on('error', (error) => {
  log.error('cannot listen', { addr: values.listen, error: error.message });
  process.exit(1);
});
server.listen(port, host, () => {
  log.info('web ready', { addr: values.listen, outbound: values.outbound ?? 'direct', emoji: values['emoji-svc'], voting: values['voting-svc'] });
});

// Stop accepting, let requests in flight finish (their gRPC calls need the clients), then close those.
onStop(log, values['watch-stdin'], async () => {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await closed;
  emojiSvc.close();
  votingSvc.close();
});
