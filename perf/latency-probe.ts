// `npx node perf/latency-probe.ts --protocol h1 --targets direct,sluice-2 [--rate 1000] [--seconds 10]
//  [--slow-us 1000] [--repeat N] [--sched]`: where a target's tail latency comes from. Starts the backend and each
// target as `npm run perf` does (same pinning), runs the open-loop generator at one rate with its slow log
// on, and prints the percentiles and how the slow requests are spread in time: a few bursts (stalls:
// GC, a timer's work, the scheduler) or many isolated ones (per-request cost, queueing). A companion to
// `npm run perf` for finding what to fix, not a benchmark with verdicts. With `--sched` (root, Linux
// `perf`), the measured run is recorded with `perf sched` on the proxy core and each burst names the
// threads that held that core while it lasted.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/net.ts';
import { waitWorking } from './lib/probe.ts';
import { cpuSeconds, installCleanupHandlers, pinSelf, sleep, start, stop } from './lib/procs.ts';
import { BACKENDS, TARGETS, firstDead } from './targets.ts';
import { slowBursts } from './lib/slow-bursts.ts';
import { saturate } from './lib/saturation.ts';
import { parseTimehist, windowShares } from './lib/sched-windows.ts';
import type { Started } from './lib/procs.ts';
import type { OpenLoopResult, Protocol } from './lib/types.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : fallback;
};
const protocol = opt('protocol', 'h1') as Protocol;
const targets = opt('targets', 'direct,sluice-2').split(',');
const rate = Number(opt('rate', '1000'));
const seconds = Number(opt('seconds', '10'));
const slowUs = Number(opt('slow-us', '1000'));
const repeat = Number(opt('repeat', '1'));
const sched = argv.includes('--sched');
/** `--cpu-record`: also sample the proxy core's CPU with call graphs (`perf record -g`) into <dir>/cpu.data, kept. */
const cpuRecord = argv.includes('--cpu-record');
const PROXY_CORE = 0;
const LOAD_CORE = 1;
/** `--control-core N`: where the mesh targets' controller runs (default: with the generator, as `npm run perf` has it). */
const CONTROL_CORE = Number(opt('control-core', String(LOAD_CORE)));

interface Run {
  result: OpenLoopResult;
  slow: Array<{ atMs: number; us: number }>;
  /** CLOCK_MONOTONIC ns at the generator's t0. */
  t0Ns: bigint;
}

/** Thread id → "<process>/<thread name>" for the processes we started (read while they run). */
function threadNames(procs: readonly Started[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const p of procs) {
    try {
      for (const tid of readdirSync(`/proc/${p.pid}/task`)) {
        const comm = readFileSync(`/proc/${p.pid}/task/${tid}/comm`, 'utf8').trim();
        out.set(Number(tid), `${p.name}/${comm}`);
      }
    } catch {
      // exited: its threads show under their own names
    }
  }
  return out;
}

function openLoop(port: number, authority: string | undefined, runSeconds: number, warmup: number): Promise<Run> {
  const args = ['--single-threaded-gc', join(root, 'perf', 'loadgen', 'openloop.ts'), '--protocol', protocol, '--port', String(port)];
  if (authority !== undefined) args.push('--authority', authority);
  args.push('--rate', String(rate), '--seconds', String(runSeconds), '--warmup', String(warmup), '--slow-log-us', String(slowUs));
  return new Promise((resolveRun, reject) => {
    let out = '';
    let err = '';
    const p = start('openloop', process.execPath, args, { core: LOAD_CORE, onStdout: (c) => (out += c.toString('utf8')) });
    p.child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
    p.exited.then((code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) return reject(new Error(`openloop exited ${code}: ${err.slice(-600)}`));
      const slow = err
        .split('\n')
        .filter((l) => l.startsWith('slow '))
        .map((l) => {
          const [, at, us] = l.split(' ');
          return { atMs: Number(at), us: Number(us) };
        });
      const t0 = /^t0 (\d+)$/m.exec(err)?.[1];
      resolveRun({ result: JSON.parse(line) as OpenLoopResult, slow, t0Ns: BigInt(t0 ?? '0') });
    });
  });
}

installCleanupHandlers();
// Off the proxy core, as npm run perf keeps itself: its parsing of the slow log and of perf's output
// would otherwise run beside the proxy it is timing.
pinSelf(LOAD_CORE);
const scratch = mkdtempSync(join(tmpdir(), 'sluice-probe-'));
const backendPort = await freePort();
const backend = start(`backend-${protocol}`, process.execPath, [join(root, 'perf', 'backends', BACKENDS[protocol]), '--port', String(backendPort)], { core: PROXY_CORE });
try {
  await waitWorking(protocol, backendPort, 10_000, { gone: () => null });
  for (let r = 0; r < repeat; r++) {
    for (const spec of targets) {
      // `name@/other/checkout`: the target as another checkout builds it (an A/B of two versions in one run).
      const [name, targetRoot] = spec.split('@') as [string, string | undefined];
      const target = TARGETS.find((t) => t.name === name);
      if (target === undefined) throw new Error(`unknown target ${name}`);
      const dir = mkdtempSync(join(scratch, `${name}-`));
      const t = await target.start({ protocol, backendPort, core: PROXY_CORE, controlCore: CONTROL_CORE, root: targetRoot ?? root, dir });
      try {
        await waitWorking(protocol, t.port, 20_000, { gone: () => firstDead(t), authority: t.authority });
        // As `npm run perf` measures fixed rates: after saturation runs (the JIT has compiled the hot path;
        // without them TurboFan compiles it during the measured run, tens of ms on the shared core).
        const sat = { protocol, port: t.port, connections: protocol === 'h1' ? 32 : 4, streams: 32, core: LOAD_CORE, tmpDir: dir, root, authority: t.authority };
        if (argv.includes('--no-saturate')) {
          // Warmed at the fixed rate instead: profiles of the measured run then show low-rate costs only.
          await openLoop(t.port, t.authority, 5, 0);
        } else {
          await saturate({ ...sat, seconds: 2 });
          await saturate({ ...sat, seconds: 3 });
        }
        await t.confirmPath?.();
        // `--idle-before MS`: the target sits idle that long first, as between its runs in `npm run perf`'s rounds.
        await sleep(500 + Number(opt('idle-before', '0')));
        const cpu0 = t.proxies.reduce((s, p) => s + cpuSeconds(p.pid), 0);
        const schedFile = join(dir, 'sched.data');
        const recorder = sched ? spawn('perf', ['sched', 'record', '-k', 'CLOCK_MONOTONIC', '-C', String(PROXY_CORE), '-o', schedFile], { stdio: 'ignore' }) : undefined;
        const cpuFile = join(tmpdir(), `sluice-probe-${name}-${protocol}.cpu.data`);
        const sampler = cpuRecord ? spawn('perf', ['record', '-k', 'CLOCK_MONOTONIC', '-F', '2999', ...(argv.includes('--no-callgraph') ? [] : ['-g']), '-C', String(PROXY_CORE), '-o', cpuFile], { stdio: 'ignore' }) : undefined;
        if (recorder !== undefined || sampler !== undefined) await sleep(300);
        // `--strace`: count each proxy's system calls over the measured run (slows the proxy: counts only).
        const tracers = argv.includes('--strace')
          ? t.proxies.map((p) => ({ name: p.name, out: '', child: spawn('strace', [...(process.env['PROBE_STRACE_ARGS']?.split(' ') ?? ['-c']), '-f', '-p', String(p.pid)], { stdio: ['ignore', 'ignore', 'pipe'] }) }))
          : [];
        for (const tr of tracers) tr.child.stderr?.on('data', (c: Buffer) => (tr.out += c.toString('utf8')));
        const run = await openLoop(t.port, t.authority, seconds, 1);
        for (const tr of tracers) {
          tr.child.kill('SIGINT');
          await new Promise((done) => tr.child.once('exit', done));
          console.log(`strace -c ${tr.name} (${rate * (seconds + 1)} requests):\n${tr.out.split('\n').slice(0, Number(process.env['PROBE_STRACE_LINES'] ?? 22)).join('\n')}`);
        }
        const names = threadNames([...t.proxies, ...(t.helpers ?? []), backend]);
        for (const r of [recorder, sampler]) {
          if (r === undefined) continue;
          r.kill('SIGINT');
          await new Promise((done) => r.once('exit', done));
        }
        if (sampler !== undefined) console.log(`cpu samples of core ${PROXY_CORE}: ${cpuFile} (t0 ${run.t0Ns} ns CLOCK_MONOTONIC)`);
        const cpu = t.proxies.reduce((s, p) => s + cpuSeconds(p.pid), 0) - cpu0;
        const l = run.result.latency;
        const bursts = slowBursts(run.slow, 5);
        // The tail's shape from the slow log: a uniform shift (per-request cost) or a few outliers (stalls).
        const desc = run.slow.map((x) => x.us).sort((a, b) => b - a);
        const measured = rate * seconds;
        const tail = [0.9, 0.95, 0.98, 0.99, 0.995]
          .map((q) => {
            const k = Math.floor(measured * (1 - q));
            return `p${q * 100} ${k < desc.length ? desc[k] : `<${slowUs}`}`;
          })
          .join(' ');
        console.log(
          `${spec.padEnd(20)} p50 ${l.p50} p99 ${l.p99} p99.9 ${l.p999} max ${l.max} µs · errors ${run.result.errors}${run.result.firstError === undefined ? '' : ` (first: ${run.result.firstError})`} · send lag p99 ${run.result.sendLagUs.p99} µs · ` +
            `proxy CPU ${((cpu * 1e6) / (rate * (seconds + 1))).toFixed(1)} µs/req · ≥${slowUs} µs: ${run.slow.length} in ${bursts.length} bursts\n  tail µs: ${tail}`,
        );
        const slices = sched ? parseTimehist(spawnSync('perf', ['sched', 'timehist', '-i', schedFile], { encoding: 'utf8', maxBuffer: 512 << 20 }).stdout) : [];
        const t0s = Number(run.t0Ns) / 1e9;
        if (slices.length > 0) {
          // Where the proxy core's time went over the measured phase (after the generator's 1 s warm-up).
          const whole = windowShares(slices, t0s + 1, t0s + 1 + seconds, (x) => names.get(x.tid) ?? x.comm);
          const per = (ms: number): string => ((ms * 1000) / (rate * seconds)).toFixed(1);
          console.log(`  core ${PROXY_CORE}, µs per request: ${whole.slice(0, 10).map((x) => `${x.who} ${per(x.ms)}`).join(', ')}`);
          const ours = new Set([...t.proxies, ...(t.helpers ?? [])].map((p) => p.name));
          // The three longest run slices of each of our threads: what holds the core long enough to delay requests.
          const byThread = new Map<string, number[]>();
          for (const x of slices) {
            const who = names.get(x.tid) ?? '';
            if (x.start < t0s + 1 || !ours.has(who.split('/')[0] ?? '')) continue;
            const list = byThread.get(who) ?? [];
            list.push((x.end - x.start) * 1000);
            if (argv.includes('--slice-times') && x.end - x.start >= 0.002) console.log(`    slice ${who} ${((x.end - x.start) * 1000).toFixed(1)} ms from ${x.start.toFixed(6)} (run +${((x.start - t0s) * 1000).toFixed(0)} ms)`);
            byThread.set(who, list);
          }
          const longest = [...byThread].map(([who, l]) => `${who} ${l.sort((a, b) => b - a).slice(0, 3).map((ms) => ms.toFixed(1)).join('/')} (${l.filter((ms) => ms >= 1).length} ≥1 ms)`);
          console.log(`  longest slices, ms: ${longest.join(', ')}`);
        }
        for (const b of bursts.slice(0, 12)) {
          console.log(`    at ${b.startMs.toFixed(1)} ms: ${b.count} slow over ${b.spanMs.toFixed(1)} ms, worst ${b.worstUs} µs`);
          if (slices.length === 0) continue;
          const from = t0s + b.startMs / 1000;
          const shares = windowShares(slices, from, from + (b.spanMs * 1000 + b.worstUs) / 1e6, (x) => names.get(x.tid) ?? x.comm);
          console.log(`      core ${PROXY_CORE}: ${shares.slice(0, 6).map((x) => `${x.who} ${x.ms.toFixed(1)} ms (longest ${x.longestMs.toFixed(1)})`).join(', ')}`);
        }
      } finally {
        await t.stop();
      }
    }
  }
} finally {
  await stop(backend);
  rmSync(scratch, { recursive: true, force: true });
}
