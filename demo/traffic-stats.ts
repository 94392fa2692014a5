// What the traffic generator sent, kept so it can be compared with what the mesh reports: per route,
// and per deployment as each hop should see it if the mesh carries every call. Pure: no I/O.

/** The generator's routes: the web front end's API, with the deliberately failing vote split out. */
export const ROUTES = ['GET /api/list', 'GET /api/vote :doughnut:', 'GET /api/vote (other emojis)', 'GET /api/leaderboard'] as const;
export type Route = (typeof ROUTES)[number];

export const DEPLOYMENTS = ['web', 'emoji', 'voting'] as const;
export type Deployment = (typeof DEPLOYMENTS)[number];

export interface Outcome {
  /** Completion time, ms since the epoch. */
  readonly at: number;
  readonly route: Route;
  /** HTTP status, or 0 when no response came (connection error, timeout). */
  readonly status: number;
  readonly latencyMs: number;
  /** Which service the web front end blamed in a 5xx body (`{"error":"voting VoteDoughnut: …"}`). */
  readonly blamed: 'emoji' | 'voting' | undefined;
}

export interface Summary {
  readonly requests: number;
  /** Requests per second over the window actually covered. */
  readonly rps: number;
  /** 0–1; undefined without requests. Like the mesh: a failure is a 5xx or no response at all. */
  readonly successRate: number | undefined;
  readonly p50Ms: number | undefined;
  readonly p95Ms: number | undefined;
  readonly p99Ms: number | undefined;
}

export interface Report {
  /** Seconds the figures cover: the window, or less when the generator has not run that long. */
  readonly windowSeconds: number;
  readonly routes: Readonly<Record<Route, Summary>>;
  /** Each deployment's inbound traffic as the generator expects the mesh to count it (latency: web only). */
  readonly deployments: Readonly<Record<Deployment, Summary>>;
}

const isFailure = (o: Outcome): boolean => o.status === 0 || o.status >= 500;

type Hop = 'ok' | 'failed' | 'none';

export function percentile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

function summarize(requests: number, failures: number, seconds: number, latencies: number[] | undefined): Summary {
  const sorted = latencies?.sort((a, b) => a - b) ?? [];
  return {
    requests,
    rps: seconds > 0 ? requests / seconds : 0,
    successRate: requests > 0 ? (requests - failures) / requests : undefined,
    p50Ms: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95),
    p99Ms: percentile(sorted, 0.99),
  };
}

/**
 * Which calls each web request makes (demo/web.ts): list → emoji ListAll; vote → emoji FindByShortcode
 * then voting Vote<X>; leaderboard → voting Results and emoji ListAll, in parallel. A 500 naming a
 * service means that service answered with an error; a 502/503/504 naming it means the call did not
 * get there (the mesh answered), so it is not counted for that service — nor is a call web never made.
 */
function downstream(o: Outcome): { emoji: Hop; voting: Hop } {
  if (!isFailure(o)) return { emoji: 'ok', voting: o.route === 'GET /api/list' ? 'none' : 'ok' };
  const answered = o.status === 500;
  const hop = (name: 'emoji' | 'voting'): Hop => (o.blamed !== name ? 'ok' : answered ? 'failed' : 'none');
  if (o.blamed === undefined) return { emoji: 'none', voting: 'none' };
  switch (o.route) {
    case 'GET /api/list':
      return { emoji: hop('emoji'), voting: 'none' };
    case 'GET /api/leaderboard':
      // The two calls run in parallel: when the mesh failed one, the other's fate is unknown.
      return answered ? { emoji: hop('emoji'), voting: hop('voting') } : { emoji: 'none', voting: 'none' };
    default:
      // A vote reaches voting only after emoji answered.
      return o.blamed === 'emoji' ? { emoji: hop('emoji'), voting: 'none' } : { emoji: 'ok', voting: hop('voting') };
  }
}

export class TrafficStats {
  private readonly outcomes: Outcome[] = [];
  private readonly startedAt: number;
  /** Outcomes older than this are dropped. */
  private readonly keepMs: number;
  readonly totals = new Map<Route, { requests: number; failures: number }>();

  constructor(startedAt: number, keepMs = 10 * 60_000) {
    this.startedAt = startedAt;
    this.keepMs = keepMs;
  }

  record(outcome: Outcome): void {
    this.outcomes.push(outcome);
    const total = this.totals.get(outcome.route) ?? { requests: 0, failures: 0 };
    total.requests++;
    if (isFailure(outcome)) total.failures++;
    this.totals.set(outcome.route, total);
    const cutoff = outcome.at - this.keepMs;
    let drop = 0;
    while (drop < this.outcomes.length && (this.outcomes[drop]?.at ?? Infinity) < cutoff) drop++;
    if (drop > 0) this.outcomes.splice(0, drop);
  }

  report(now: number, windowMs: number): Report {
    const from = Math.max(now - windowMs, this.startedAt);
    const seconds = Math.max(0, (now - from) / 1000);
    const recent = this.outcomes.filter((o) => o.at > from && o.at <= now);
    const routes = {} as Record<Route, Summary>;
    for (const route of ROUTES) {
      const mine = recent.filter((o) => o.route === route);
      routes[route] = summarize(mine.length, mine.filter(isFailure).length, seconds, mine.map((o) => o.latencyMs));
    }
    const counts = { emoji: { n: 0, failed: 0 }, voting: { n: 0, failed: 0 } };
    for (const o of recent) {
      const hops = downstream(o);
      for (const name of ['emoji', 'voting'] as const) {
        const hop = hops[name];
        if (hop === 'none') continue;
        counts[name].n++;
        if (hop === 'failed') counts[name].failed++;
      }
    }
    return {
      windowSeconds: seconds,
      routes,
      deployments: {
        web: summarize(recent.length, recent.filter(isFailure).length, seconds, recent.map((o) => o.latencyMs)),
        emoji: summarize(counts.emoji.n, counts.emoji.failed, seconds, undefined),
        voting: summarize(counts.voting.n, counts.voting.failed, seconds, undefined),
      },
    };
  }
}

const pct = (rate: number | undefined): string => (rate === undefined ? '-' : `${(rate * 100).toFixed(2)}%`);
const ms = (value: number | undefined): string => (value === undefined ? '-' : `${Math.round(value)}ms`);

function table(rows: readonly string[][]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((row) => row[col]?.length ?? 0))) ?? [];
  return rows.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  ')).join('\n');
}

/** The report as two tables: per route, and per deployment in `sluice stat`'s column order. */
export function formatReport(report: Report): string {
  const header = ['REQUESTS', 'RPS', 'SUCCESS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99'];
  const row = (name: string, s: Summary): string[] => [name, String(s.requests), `${s.rps.toFixed(1)}rps`, pct(s.successRate), ms(s.p50Ms), ms(s.p95Ms), ms(s.p99Ms)];
  const routes = table([['ROUTE', ...header], ...ROUTES.map((r) => row(r, report.routes[r]))]);
  const deployments = table([
    ['NAME', ...header],
    ...DEPLOYMENTS.map((d) => row(`deploy/${d}`, report.deployments[d])),
  ]);
  return (
    `Sent over the last ${report.windowSeconds.toFixed(0)}s, per route (latency measured by the generator):\n${routes}\n\n` +
    `What each deployment should count inbound over that window (emoji and voting latency: see sluice stat):\n${deployments}\n`
  );
}

/** One line for the periodic log. */
export function formatLine(report: Report): string {
  const w = report.deployments.web;
  const v = report.deployments.voting;
  return (
    `sent ${w.requests} requests in ${report.windowSeconds.toFixed(0)}s: ${w.rps.toFixed(1)}rps, ` +
    `web success ${pct(w.successRate)}, voting success ${pct(v.successRate)}, ` +
    `p50 ${ms(w.p50Ms)} p95 ${ms(w.p95Ms)} p99 ${ms(w.p99Ms)}`
  );
}
