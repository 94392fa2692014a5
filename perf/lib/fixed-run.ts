// One fixed-rate (open-loop) run of one target, as `npm run perf` makes it: wait for a quiet machine,
// run the generator on the load core with freeze sentinels on both cores, read the proxies' and the
// backend's CPU per request around it, and run it again when other processes or the generator's own lateness
// disturbed it. The rounds around it are lib/fixed-phase.ts.
import { join } from 'node:path';
import { startSentinels } from './freezes.ts';
import { waitWorking } from './probe.ts';
import { fmtInt, fmtRate } from './fmt.ts';
import { foreignCores, mark, waitQuiet } from './noise.ts';
import { cpuSeconds, start } from './procs.ts';
import type { Started } from './procs.ts';
import { LATE_US, LOAD_CORE, NOISY, PROXY_CORE, sumCpu } from './run-context.ts';
import type { Bench } from './run-context.ts';
import type { OpenLoopResult, Protocol } from './types.ts';
import type { RunningTarget } from '../targets.ts';

export interface FixedRun {
  r: OpenLoopResult;
  /** Cores other processes used during the kept attempt. */
  foreign: number;
}

/**
 * The target's run at `rate`: up to `--attempts` tries when disturbed (other processes used the machine,
 * or the generator sent late), the least disturbed kept. Throws when the generator fails.
 */
export async function fixedRateRun(b: Bench, protocol: Protocol, t: RunningTarget, backend: Started, rate: number, dir: string, tag: string): Promise<FixedRun> {
  const { o } = b;
  let best: (FixedRun & { score: number }) | undefined;
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    // A mesh target idle since its last round (other targets ran meanwhile) has released its
    // destination (discovery idle timeout, 5 s as Linkerd's): its next request waits for the controller,
    // which runs under SCHED_IDLE beside the generator. One request first, so that the run measures the
    // destination resolved, as steady traffic keeps it, rather than one control-plane round trip.
    if (t.authority !== undefined) await waitWorking(protocol, t.port, 10_000, { authority: t.authority });
    await waitQuiet(o.quiet.threshold, o.quiet.maxWaitMs);
    const n0 = mark();
    const cpu0 = sumCpu(t.proxies);
    const be0 = cpuSeconds(backend.pid);
    const r = await openLoop(b, protocol, t, rate, dir);
    const foreign = foreignCores(n0, mark());
    // Proxy CPU per request at this rate (warm-up included): at low rates each request pays its own
    // wake-ups and system calls, which saturation spreads over many. The backend's beside it: the
    // core's speed during the run (see "The core's speed changes" in docs/performance.md).
    const sent = rate * (o.warmupSeconds + o.fixedSeconds);
    if (t.proxies.length > 0) r.proxyCpuUsPerRequest = ((sumCpu(t.proxies) - cpu0) * 1e6) / sent;
    r.backendCpuUsPerRequest = ((cpuSeconds(backend.pid) - be0) * 1e6) / sent;
    // Disturbed: others used the machine, or the generator itself could not keep its schedule.
    const late = r.sendLagUs.p99 > LATE_US;
    const score = foreign + (late ? 1 : 0);
    if (best === undefined || score < best.score) best = { r, foreign, score };
    if ((foreign <= NOISY && !late) || b.overBudget()) break;
    if (attempt < o.attempts) {
      const why = late ? `the generator sent late, send lag p99 ${fmtInt(r.sendLagUs.p99)} µs` : `other processes used ${foreign.toFixed(2)} cores`;
      b.log(`${tag}: @${fmtRate(rate)}/s disturbed (${why}), running it again`);
    }
  }
  if (best === undefined) throw new Error('no fixed-rate run (--attempts must be at least 1)');
  return { r: best.r, foreign: best.foreign };
}

/** The log line of one run: latencies, rate, errors, send lag, CPU per request, what the freezes touched. */
export function describeRun(r: OpenLoopResult): string {
  const l = r.latency;
  return (
    `p50 ${fmtInt(l.p50)} µs, p99 ${fmtInt(l.p99)} µs, p99.9 ${fmtInt(l.p999)} µs, max ${fmtInt(l.max)} µs, ` +
    `achieved ${fmtInt(r.achievedRate)}/s, errors ${r.errors}, send lag p99 ${fmtInt(r.sendLagUs.p99)} µs` +
    (r.proxyCpuUsPerRequest === undefined ? '' : `, proxy CPU ${r.proxyCpuUsPerRequest.toFixed(1)} µs/req`) +
    (r.backendCpuUsPerRequest === undefined ? '' : `, backend ${r.backendCpuUsPerRequest.toFixed(1)} µs/req`) +
    (r.outsideFreezes === undefined
      ? ''
      : `; ${r.outsideFreezes.freezes} core freezes (${r.outsideFreezes.frozenMs} ms) touched ${r.outsideFreezes.touched} requests, the others p99 ${fmtInt(r.outsideFreezes.latency.p99)} µs` +
        (r.outsideFreezes.housekeeping === undefined
          ? ''
          : `; with ${r.outsideFreezes.housekeeping.windows} kdamond windows (${r.outsideFreezes.housekeeping.ms} ms) ${r.outsideFreezes.housekeeping.touched} touched, the others p99 ${fmtInt(r.outsideFreezes.housekeeping.p99)} µs`))
  );
}

/**
 * One generator run. With pinned cores, a freeze sentinel watches each (lib/freezes.ts) and the result
 * also gives the latency of the requests no freeze of a core held up.
 */
async function openLoop(b: Bench, protocol: Protocol, t: RunningTarget, rate: number, scratch: string): Promise<OpenLoopResult> {
  const { o } = b;
  const runSeconds = o.fixedSeconds + o.warmupSeconds + 20;
  const sentinels = o.pin ? startSentinels(b.root, [PROXY_CORE, LOAD_CORE], scratch, runSeconds + 5) : undefined;
  try {
    return await runGenerator(b, protocol, t, rate, runSeconds, sentinels?.files ?? []);
  } finally {
    await sentinels?.stop();
  }
}

function runGenerator(b: Bench, protocol: Protocol, t: RunningTarget, rate: number, limitSeconds: number, freezeLogs: readonly string[]): Promise<OpenLoopResult> {
  const { o } = b;
  const args = [
    // One core for the generator: V8's parallel scavenger then fights itself for that core (pauses of
    // several ms); single-threaded GC keeps the generator's own pauses at ~0.2 ms.
    '--single-threaded-gc',
    join(b.root, 'perf', 'loadgen', 'openloop.ts'),
    '--protocol', protocol,
    '--port', String(t.port),
    ...(t.authority === undefined ? [] : ['--authority', t.authority]),
    '--rate', String(rate),
    '--seconds', String(o.fixedSeconds),
    '--warmup', String(o.warmupSeconds),
    '--connections', String(protocol === 'h1' ? o.h1Connections : o.h2Connections),
    ...(freezeLogs.length === 0 ? [] : ['--freezes', freezeLogs.join(',')]),
  ];
  return new Promise((resolveRun, reject) => {
    let out = '';
    const p = start('openloop', process.execPath, args, { core: o.pin ? LOAD_CORE : undefined, onStdout: (c) => (out += c.toString('utf8')) });
    const limit = setTimeout(() => process.kill(p.pid, 'SIGKILL'), limitSeconds * 1000);
    p.exited.then((code) => {
      clearTimeout(limit);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`open-loop generator exited with ${code}: ${p.stderrTail().trim().slice(-800)}`));
      else resolveRun(JSON.parse(line) as OpenLoopResult);
    });
  });
}
