// `npx node perf/telemetry-tick-bench.ts [--ticks N] [--case mesh|large|all] [--no-gc|--cold]`: the proxy's
// telemetry tick on the main thread, in process: the real TelemetryReporter and StreamingReportSender
// (absorb, build, encode, frame) fed with worker deltas as a serving thread makes them, on a channel
// that only encodes and frames (no socket). Prints per tick: the main thread's CPU time from the
// tick's start to the framed message (process.threadCpuUsage, the mean of all ticks: a virtual machine's
// kernel may account thread time in whole scheduler ticks, so only a mean over many means something),
// then min, p10, median, p90 and max of its wall time (on a shared machine the low quantiles are the
// tick's own cost, the high ones add other processes), of the longest block it held the thread without
// yielding (wall time, a setImmediate probe: what a request waiting on that thread would wait), and of
// the heap it allocated (heap growth with scavenges held off; ticks during which a GC ran are left
// out). The
// worker's own collect() and the structured clone of its delta (postMessage: serialized on the worker,
// deserialized on the main thread) are timed apart: they are not the reporter's.
//
// Cases: `mesh` is a proxy in a two-proxy chain at 1,000 req/s: per direction two label sets (client
// identities inbound, endpoints outbound), 200 and 500 responses, TCP series (18 series a direction),
// 5,000 requests per 5-s interval with latencies spread log-uniformly over 100 µs–50 ms. `large` has 100
// label sets per direction: ~1,000 HTTP series and ~800 TCP ones. Between two ticks the bench runs one full GC (so that heap growth can be
// measured); `--no-gc` runs ticks back to back, as hot as they get; `--cold` runs six full GCs between
// ticks, as a busy serving thread does between two ticks 5 s apart: V8 then drops the tick's compiled
// code (bytecode flushing after --bytecode-old-age=6 GCs) and the tick runs cold, as in a real proxy.
import { spawnSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import type { TelemetryConfig } from '../src/config/proxy-config.ts';
import { Logger } from '../src/log/logger.ts';
import type { GrpcChannel } from '../src/acceptor/grpc/channel.ts';
import type { MethodDescriptor } from '../src/acceptor/grpc/call.ts';
import { frameMessage } from '../src/acceptor/grpc/framing.ts';
import { TelemetryReporter } from '../src/acceptor/telemetry-reporter.ts';
import { StreamingReportSender } from '../src/acceptor/telemetry-stream-sender.ts';
import { clientTlsLabels, ProxyMetrics, serverTlsLabels, type HttpStats, type TcpStats } from '../src/telemetry/proxy-metrics.ts';
import { TelemetryCollector, type TelemetryDelta } from '../src/telemetry/report-delta.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  // Needs gc() (heap per tick, cold ticks) and a young generation large enough that a tick's garbage is
  // not collected while it is measured.
  const run = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64', ...process.execArgv, process.argv[1] as string, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(run.status ?? 1);
}
const collectGarbage = gc as () => void;

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string): string => (argv.includes(name) ? (argv[argv.indexOf(name) + 1] ?? fallback) : fallback);
const ticks = Number(arg('--ticks', '200'));
const which = arg('--case', 'all');
const cold = argv.includes('--cold');
/** No full GC before each tick: ticks back to back, as hot as they get (heap figures then only for ticks without a GC). */
const noGc = argv.includes('--no-gc');

interface Scenario {
  readonly name: string;
  /** Label sets per direction. */
  readonly labelSets: number;
  /** Requests per label set per tick. */
  readonly requestsPerSet: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'mesh', labelSets: 2, requestsPerSet: 2500 },
  { name: 'large', labelSets: 100, requestsPerSet: 200 },
];

const CONFIG: TelemetryConfig = {
  svcAddr: { host: '127.0.0.1', port: 8086 },
  reportIntervalMs: 5000,
  podName: 'books-7d9f8c6b5-x2x9z',
  podNamespace: 'shop',
  workload: 'deployment/books',
  localIdentity: 'books.shop.serviceaccount.identity.sluice.cluster.local',
};

/** A deterministic generator, so runs compare. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The serving side of one scenario: `serve` counts one interval's requests, `collect` is the worker's delta. */
function servingThread(scenario: Scenario): { serve(): void; collect(): TelemetryDelta } {
  const metrics = new ProxyMetrics();
  const collector = new TelemetryCollector(metrics.registry);
  const next = random(7);
  const http: HttpStats[] = [];
  const tcp: TcpStats[] = [];
  for (let i = 0; i < scenario.labelSets; i++) {
    const client = clientTlsLabels(`client-${i}.shop.serviceaccount.identity.sluice.cluster.local`);
    const inTarget = { host: '10.1.0.5', port: 8080 };
    http.push(metrics.http('inbound', 'books.shop.svc.cluster.local:8080', inTarget, '', client));
    tcp.push(metrics.tcp('inbound', 'src', inTarget, client));
    const service = `svc-${Math.floor(i / 2)}`;
    const endpoint = { host: `10.2.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 7000 };
    const dst = `dst_namespace="shop",dst_service="${service}",dst_deployment="${service}",dst_pod="${service}-6f7c9d-${i}",dst_pod_template_hash="6f7c9d",dst_serviceaccount="${service}"`;
    const server = serverTlsLabels(`${service}.shop.serviceaccount.identity.sluice.cluster.local`);
    http.push(metrics.http('outbound', `${service}.shop.svc.cluster.local:7000`, endpoint, dst, server));
    tcp.push(metrics.tcp('outbound', 'dst', endpoint, server, dst));
  }
  const serve = (): void => {
    for (const stats of http) {
      for (let r = 0; r < scenario.requestsPerSet; r++) {
        stats.request();
        // Log-uniform over 100 µs–50 ms; one response in a hundred a 500.
        const ms = 0.1 * Math.exp(next() * Math.log(500));
        stats.response(next() < 0.01 ? 500 : 200, -1, ms);
      }
    }
    for (const stats of tcp) {
      stats.opened.inc();
      stats.open.inc();
      stats.readBytes.inc(Math.floor(next() * 1e6));
      stats.writeBytes.inc(Math.floor(next() * 1e6));
    }
  };
  return { serve, collect: () => collector.collect() };
}

/** A channel that does what GrpcChannel does with a report on the proxy's thread (encode, frame) and answers it at once. */
function encodingChannel(onWritten: (bytes: number) => void): GrpcChannel {
  const channel = {
    bidiStream(method: MethodDescriptor<unknown, unknown>, observer: { message(m: unknown): void; status(s: unknown): void }) {
      return {
        retired: false,
        done: false,
        write(request: { sequence?: number }): boolean {
          const frame = frameMessage(method.encode(request));
          onWritten(frame.length);
          setImmediate(() => observer.message({ sequence: request.sequence ?? 0 }));
          return true;
        },
        end() {},
        cancel() {},
      };
    },
    unary() {
      throw new Error('not used');
    },
  };
  return channel as unknown as GrpcChannel;
}

function threadCpuMs(): number {
  const usage = process.threadCpuUsage();
  return (usage.user + usage.system) / 1000;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });
/** GC entries reach the observer a turn or two late: wait for them. */
const gcsSettled = (): Promise<void> => new Promise((resolve) => setTimeout(() => setImmediate(resolve), 1));

async function runScenario(scenario: Scenario): Promise<void> {
  const thread = servingThread(scenario);
  let delta: TelemetryDelta = [];
  let writtenAt = 0;
  let writtenCpu = 0;
  let frameBytes = 0;
  const reporter = new TelemetryReporter({
    config: CONFIG,
    log: new Logger('error', 'plain', 'bench', () => {}),
    collect: async () => [delta],
    sender: new StreamingReportSender(
      encodingChannel((bytes) => {
        writtenAt = performance.now();
        writtenCpu = threadCpuMs();
        frameBytes = bytes;
      }),
      new Logger('error', 'plain', 'bench', () => {}),
    ),
  });
  const cpu: number[] = [];
  const busy: number[] = [];
  const blocks: number[] = [];
  const heap: number[] = [];
  const collectMs: number[] = [];
  const cloneMs: number[] = [];
  let series = 0;
  const warmup = Math.min(20, Math.floor(ticks / 5));
  for (let t = 0; t < warmup + ticks; t++) {
    thread.serve();
    const c0 = performance.now();
    const fresh = thread.collect();
    const c1 = performance.now();
    delta = structuredClone(fresh);
    const c2 = performance.now();
    series = delta.reduce((n, family) => n + family.series.length, 0);
    for (let g = 0; g < (cold ? 6 : noGc ? 0 : 1); g++) collectGarbage();
    // The probe: setImmediate callbacks run only when the thread is free, so the longest gap between
    // two is the longest block of work the tick did without yielding.
    let longest = 0;
    let last = performance.now();
    let probing = true;
    const probe = (): void => {
      const now = performance.now();
      if (now - last > longest) longest = now - last;
      last = now;
      if (probing) setImmediate(probe);
    };
    await gcsSettled();
    const gcs0 = gcs;
    const heap0 = process.memoryUsage();
    const cpu0 = threadCpuMs();
    const start = performance.now();
    last = start;
    setImmediate(probe);
    await reporter.tick();
    probing = false;
    const heap1 = process.memoryUsage();
    await gcsSettled();
    if (t < warmup) continue;
    cpu.push(writtenCpu - cpu0);
    busy.push(writtenAt - start);
    blocks.push(longest);
    heap.push(gcs > gcs0 ? Number.NaN : heap1.heapUsed - heap0.heapUsed + (heap1.arrayBuffers - heap0.arrayBuffers));
    collectMs.push(c1 - c0);
    cloneMs.push(c2 - c1);
  }
  const fmt = (values: number[], digits = 2): string => {
    const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
    if (sorted.length === 0) return 'n/a';
    const at = (q: number): string => quantile(sorted, q).toFixed(digits);
    return `min ${at(0)}  p10 ${at(0.1)}  median ${at(0.5)}  p90 ${at(0.9)}  max ${at(1)}`;
  };
  const kib = heap.map((b) => b / 1024);
  const mode = cold ? 'cold: 6 full GCs between ticks' : noGc ? 'hot: back to back' : '1 full GC between ticks';
  console.log(`${scenario.name}: ${series} series in a worker delta, ${frameBytes} bytes framed, ${ticks} ticks (${mode})`);
  console.log(`  tick CPU, main (ms):      mean ${(cpu.reduce((a, b) => a + b, 0) / cpu.length).toFixed(2)}`);
  console.log(`  tick wall time (ms):      ${fmt(busy)}`);
  console.log(`  longest block (ms):       ${fmt(blocks)}`);
  console.log(`  heap allocated (KiB):     ${fmt(kib, 0)}${kib.some(Number.isNaN) ? `  (${kib.filter(Number.isNaN).length} ticks with a GC left out)` : ''}`);
  console.log(`  worker collect (ms):      ${fmt(collectMs)}`);
  console.log(`  delta clone (ms):         ${fmt(cloneMs)}`);
}

for (const scenario of SCENARIOS) if (which === 'all' || which === scenario.name) await runScenario(scenario);
