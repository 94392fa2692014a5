// The traffic generator ("vote bot"): a steady, modest stream of requests to the web front end, and a
// record of what it sent so it can be held against what the mesh reports.
//
// Open loop: a request starts every 1/rps seconds whether or not earlier ones have finished (at most
// `--max-in-flight` at once; beyond that a tick is skipped and counted). The mix is fixed, not random, so
// the expected figures are steady: of every 10 requests 2 list, 6 vote and 2 read the leaderboard; every
// 3rd vote is for :doughnut:, the others go round the remaining emojis.
//
//   node demo/traffic.ts --target 127.0.0.1:20143 [--host web-svc.emojivoto.svc.cluster.local]
//        [--rps 10] [--stats 127.0.0.1:23080] [--report-every 30] [--log info]
// GET /stats on the stats address prints what was sent over the last minute (`?window=10s` for another
// window); /stats.json the same as JSON.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { BROKEN_EMOJI, EMOJIS, Log, onStop, parseLevel, splitAddr } from './common.ts';
import { TrafficStats, formatLine, formatReport, type Outcome, type Route } from './traffic-stats.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: '127.0.0.1:8080' },
    host: { type: 'string', default: 'web-svc.emojivoto.svc.cluster.local' },
    rps: { type: 'string', default: '10' },
    'max-in-flight': { type: 'string', default: '50' },
    stats: { type: 'string' },
    'report-every': { type: 'string', default: '30' },
    log: { type: 'string' },
    'watch-stdin': { type: 'boolean', default: false },
  },
});
const log = new Log('traffic', parseLevel(values.log));
const rps = Number(values.rps);
const maxInFlight = Number(values['max-in-flight']);
const reportEvery = Number(values['report-every']);
if (!(rps > 0 && rps <= 1000) || !(maxInFlight >= 1) || !(reportEvery >= 0)) {
  log.error('bad numbers', { rps: values.rps, maxInFlight: values['max-in-flight'], reportEvery: values['report-every'] });
  process.exit(2);
}
const target = splitAddr(values.target);
const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight });
/** Longer than any timeout in the mesh, so the mesh's own answer (504 …) is what gets recorded. */
const REQUEST_TIMEOUT_MS = 15_000;

const MIX: ReadonlyArray<'list' | 'vote' | 'leaderboard'> = ['list', 'vote', 'vote', 'leaderboard', 'vote', 'list', 'vote', 'vote', 'leaderboard', 'vote'];
const others = EMOJIS.map((e) => e.shortcode).filter((s) => s !== BROKEN_EMOJI);
let tick = 0;
let votes = 0;
let otherVotes = 0;

function next(): { route: Route; path: string } {
  const kind = MIX[tick++ % MIX.length];
  if (kind === 'list') return { route: 'GET /api/list', path: '/api/list' };
  if (kind === 'leaderboard') return { route: 'GET /api/leaderboard', path: '/api/leaderboard' };
  const n = votes++;
  const choice = n % 3 === 0 ? BROKEN_EMOJI : (others[otherVotes++ % others.length] ?? BROKEN_EMOJI);
  return {
    route: choice === BROKEN_EMOJI ? 'GET /api/vote :doughnut:' : 'GET /api/vote (other emojis)',
    path: `/api/vote?choice=${encodeURIComponent(choice)}`,
  };
}

const startedAt = Date.now();
const stats = new TrafficStats(startedAt);
let inFlight = 0;
let skipped = 0;
let lastError = '';

function send(): void {
  if (inFlight >= maxInFlight) {
    skipped++;
    return;
  }
  const { route, path } = next();
  const began = performance.now();
  inFlight++;
  let done = false;
  const finish = (status: number, body: string): void => {
    if (done) return;
    done = true;
    inFlight--;
    let blamed: Outcome['blamed'];
    if (status >= 500) {
      const message = /"error":"(emoji|voting) /.exec(body);
      blamed = message?.[1] === 'emoji' || message?.[1] === 'voting' ? message[1] : undefined;
    }
    stats.record({ at: Date.now(), route, status, latencyMs: performance.now() - began, blamed });
  };
  const req = http.request(
    { host: target.host, port: target.port, path, method: 'GET', agent, headers: { host: values.host }, timeout: REQUEST_TIMEOUT_MS },
    (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', () => finish(res.statusCode ?? 0, body));
      res.on('error', () => finish(0, ''));
    },
  );
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (error) => {
    if (error.message !== lastError) log.warn('request failed', { path, error: error.message });
    lastError = error.message;
    finish(0, '');
  });
  req.end();
}

// Drift-free pacing: tick n is due at start + n/rps, whatever happened to earlier ticks. After a stall
// (a loaded machine) ticks more than a second late are dropped rather than sent in a burst.
let sent = 0;
let timer: NodeJS.Timeout | undefined;
function pace(): void {
  const now = Date.now();
  const due = (n: number): number => startedAt + (n * 1000) / rps;
  while (due(sent) < now - 1000) {
    sent++;
    skipped++;
  }
  while (due(sent) <= now) {
    send();
    sent++;
  }
  timer = setTimeout(pace, due(sent) - Date.now());
}
pace();

const report = setInterval(
  () => process.stdout.write(`${formatLine(stats.report(Date.now(), 60_000))}${skipped > 0 ? ` (skipped ${skipped} ticks: too many in flight or too late)` : ''}\n`),
  reportEvery * 1000 || 2 ** 31 - 1,
);
if (reportEvery === 0) clearInterval(report);

/** `10s`, `1m`, `90` (seconds) → ms. */
function windowMs(text: string | null): number {
  const match = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text ?? '1m');
  if (match === null) return 60_000;
  return Number(match[1]) * (match[2] === 'm' ? 60_000 : 1000);
}

let statsServer: http.Server | undefined;
if (values.stats !== undefined) {
  const addr = splitAddr(values.stats);
  statsServer = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stats');
    const r = stats.report(Date.now(), windowMs(url.searchParams.get('window')));
    if (url.pathname === '/stats.json') {
      const totals = Object.fromEntries(stats.totals);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ target: values.target, host: values.host, rps, skipped, inFlight, ...r, totals }, null, 2)}\n`);
    } else if (url.pathname === '/stats') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`Traffic generator: ${rps} rps to ${values.target} (Host: ${values.host}), up ${Math.round((Date.now() - startedAt) / 1000)}s\n\n${formatReport(r)}`);
    } else {
      res.writeHead(404).end('try /stats or /stats.json\n');
    }
  });
  statsServer.on('error', (error) => {
    log.error('cannot serve stats', { addr: values.stats, error: error.message });
    process.exit(1);
  });
  statsServer.listen(addr.port, addr.host);
}
log.info('sending', { target: values.target, host: values.host, rps, stats: values.stats });

onStop(log, values['watch-stdin'], () => {
  clearTimeout(timer);
  // The last word: what was sent over the last minute, to hold against `sluice stat` one more time.
  process.stdout.write(`\n${formatReport(stats.report(Date.now(), 60_000))}`);
  clearInterval(report);
  statsServer?.close();
  agent.destroy();
});
