// Command line of `npm run perf`.
import { PROTOCOLS } from './types.ts';
import type { Protocol } from './types.ts';

export interface PerfOptions {
  protocols: Protocol[];
  /** Run the controller section (Destination watch streams, telemetry ingestion). */
  controller: boolean;
  /** The controller's paced mesh: how its reports go, one run per entry in this order (`--mesh-transport`). */
  meshTransports: Array<'stream' | 'unary'>;
  /** Run the handshake section (new connections per second into an inbound proxy, plaintext vs mTLS). */
  handshakes: boolean;
  /** Target names to run, or null for all. `direct` is always added (it is the baseline). */
  targets: string[] | null;
  rates: number[];
  /** Measured seconds of each fixed-rate run. */
  fixedSeconds: number;
  /** Warm-up seconds before each fixed-rate run (same rate, not recorded). */
  warmupSeconds: number;
  saturationSeconds: number;
  saturationWarmupSeconds: number;
  /** Measured saturation runs per target and protocol; the median one (by proxy CPU per request) is kept. */
  saturationRuns: number;
  /** Settle time after start-up before idle memory is read, ms. */
  settleMs: number;
  /** Open-loop pool size: HTTP/1.1 connections / HTTP/2 sessions. */
  h1Connections: number;
  h2Connections: number;
  /** Saturation: autocannon connections, h2load clients × streams. */
  satH1Connections: number;
  satH2Connections: number;
  satH2Streams: number;
  pin: boolean;
  /**
   * Rounds of the fixed-rate phase: at each rate every target gets one run per round (even rounds in
   * reverse order), and p99 added is taken against direct's run of the same round.
   */
  rounds: number;
  /** Runs of one fixed rate at most, when other processes disturbed the previous ones. */
  attempts: number;
  outDir: string | null;
  /**
   * Some sections or targets only (--only, --targets) or --quick: without --out the report goes to
   * perf/results/partial/, so that it never replaces the committed full run's perf/results/latest.*.
   */
  partial: boolean;
  installDeps: boolean;
  /** Run Sluice as deployed: `npm run build` first, then the built (bundled) proxy; false runs src/. */
  built: boolean;
  quiet: { threshold: number; maxWaitMs: number };
  /** Seconds after which disturbed runs are no longer repeated (bounds how far repetitions stretch the run). */
  budgetSeconds: number;
  quick: boolean;
  help: boolean;
}

export const USAGE = `npm run perf -- [options]

  --quick                 short runs (saturation 2 s, fixed rates 3 s): a smoke test, not figures
  --only h1,h2c,grpc,controller,handshakes
                          sections to run (default: all): protocols, and/or the controller benchmark,
                          and/or mTLS handshakes (also skipped when --targets leaves out sluice-mesh-2-mtls)
  --mesh-transport LIST   the controller's 2,000-proxy mesh sends its reports on ReportStream (stream, the
                          default, as proxies do) and/or as unary Report calls; one run per entry, in
                          order, against the same controller (e.g. unary,stream to compare)
  --targets a,b           targets to run (default: all; 'direct' is always added as the baseline)
                          names: direct sluice sluice-2 sluice-mesh sluice-mesh-2 sluice-w0 haproxy
                                 haproxy-2 nginx node-tcp-pipe node-tcp-pipe-2 node-naive-http
                                 node-naive-h2 sluice-mesh-2-mtls node-tls-pipe-2
  --rates 1000,5000       fixed request rates, per second
  --seconds N             measured seconds per fixed-rate run (default 4)
  --warmup N              warm-up seconds before each fixed-rate run (default 1)
  --saturation-seconds N  measured seconds of each saturation run (default 3)
  --saturation-runs N     saturation runs per target and protocol, the median kept (default 3)
  --rounds N              fixed-rate rounds (default 3, 1 with --quick): at each rate every target, direct
                          included, gets one run per round, in target order on odd rounds and reversed
                          on even ones, all targets of the protocol running meanwhile; p99 added is taken
                          against direct's run of the same round, and the median round kept (of an even
                          number, the worse of the two middle ones)
  --attempts N            run a fixed rate up to N times when other processes disturbed it (default 2)
  --no-pin                do not pin processes to cores with taskset
  --no-deps               do not run scripts/system-deps.sh perf
  --sources               run Sluice from src/ (TypeScript) instead of building and running what the
                          package and images run (dist/, the bundled proxy in dist-proxy/)
  --out DIR               write results there instead of perf/results/ (perf/results/partial/ for a
                          run with --only, --targets or --quick, which never replaces the full run's)
  --quiet-threshold X     wait before each phase until other processes use < X cores (default 0.15)
  --quiet-wait-ms N       … but at most N ms (default 3000; 0 = never wait)
  --budget N              stop repeating disturbed runs once the run has taken N seconds (default 3000)
  -h, --help`;

function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function positive(name: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
  return n;
}

export function parseArgs(argv: readonly string[]): PerfOptions {
  const o: PerfOptions = {
    protocols: [...PROTOCOLS],
    controller: true,
    meshTransports: ['stream'],
    handshakes: true,
    targets: null,
    rates: [1000, 5000],
    fixedSeconds: 4,
    warmupSeconds: 1,
    saturationSeconds: 3,
    saturationWarmupSeconds: 1,
    saturationRuns: 3,
    settleMs: 1000,
    h1Connections: 32,
    h2Connections: 4,
    satH1Connections: 32,
    satH2Connections: 4,
    satH2Streams: 32,
    pin: true,
    rounds: 3,
    attempts: 2,
    outDir: null,
    partial: false,
    installDeps: true,
    built: true,
    quiet: { threshold: 0.15, maxWaitMs: 3000 },
    budgetSeconds: 3000,
    quick: false,
    help: false,
  };
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    explicit.add(a);
    switch (a) {
      case '--quick':
        o.quick = true;
        break;
      case '--only': {
        const ps = list(value());
        const sections = ['controller', 'handshakes'];
        for (const p of ps) {
          if (!sections.includes(p) && !(PROTOCOLS as readonly string[]).includes(p)) {
            throw new Error(`unknown protocol or section '${p}' (expected ${PROTOCOLS.join(', ')}, ${sections.join(', ')})`);
          }
        }
        o.controller = ps.includes('controller');
        o.handshakes = ps.includes('handshakes');
        o.protocols = ps.filter((p) => !sections.includes(p)) as Protocol[];
        break;
      }
      case '--mesh-transport': {
        const ts = list(value());
        if (ts.length === 0 || ts.some((t) => t !== 'stream' && t !== 'unary')) throw new Error(`--mesh-transport takes stream and/or unary, e.g. unary,stream`);
        o.meshTransports = ts as Array<'stream' | 'unary'>;
        break;
      }
      case '--targets':
        o.targets = list(value());
        break;
      case '--rates':
        o.rates = list(value()).map((r) => positive('--rates', r));
        break;
      case '--seconds':
        o.fixedSeconds = positive(a, value());
        break;
      case '--warmup':
        o.warmupSeconds = Number(value());
        if (!(o.warmupSeconds >= 0)) throw new Error('--warmup needs a number ≥ 0');
        break;
      case '--saturation-seconds':
        o.saturationSeconds = positive(a, value());
        break;
      case '--saturation-runs':
        o.saturationRuns = Math.round(positive(a, value()));
        break;
      case '--rounds':
        o.rounds = Number(value());
        if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error('--rounds needs a whole number ≥ 1');
        break;
      case '--attempts':
        o.attempts = Math.round(positive(a, value()));
        break;
      case '--no-pin':
        o.pin = false;
        break;
      case '--no-deps':
        o.installDeps = false;
        break;
      case '--sources':
        o.built = false;
        break;
      case '--out':
        o.outDir = value();
        break;
      case '--quiet-threshold':
        o.quiet.threshold = positive(a, value());
        break;
      case '--quiet-wait-ms':
        o.quiet.maxWaitMs = Number(value());
        if (!(o.quiet.maxWaitMs >= 0)) throw new Error('--quiet-wait-ms needs a number ≥ 0');
        break;
      case '--budget':
        o.budgetSeconds = positive(a, value());
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown option '${a}'\n\n${USAGE}`);
    }
  }
  if (o.quick) {
    if (!explicit.has('--seconds')) o.fixedSeconds = 3;
    if (!explicit.has('--warmup')) o.warmupSeconds = 0.5;
    if (!explicit.has('--saturation-seconds')) o.saturationSeconds = 2;
    o.saturationWarmupSeconds = 0.5;
    if (!explicit.has('--saturation-runs')) o.saturationRuns = 1;
    o.settleMs = 800;
    if (!explicit.has('--attempts')) o.attempts = 1;
    if (!explicit.has('--rounds')) o.rounds = 1;
    if (!explicit.has('--quiet-wait-ms')) o.quiet.maxWaitMs = 1000;
  }
  if (o.targets !== null && !o.targets.includes('direct')) o.targets.unshift('direct');
  o.partial = o.quick || explicit.has('--only') || explicit.has('--targets');
  return o;
}
