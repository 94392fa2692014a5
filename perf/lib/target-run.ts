// One target's life in a protocol of `npm run perf`, around the fixed-rate phase: start it, read its idle
// memory, make its saturation runs (prepareTarget); it then stays running while every target's
// fixed-rate rounds are made (lib/fixed-phase.ts); then its memory at the end, and stop (finishTarget).
// A target that fails at any point is stopped at once and its row says why (failTarget).
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { IDLE_SETTLED_TARGETS, IDLE_SETTLE_MS } from './checks.ts';
import { fmtInt } from './fmt.ts';
import { foreignCores, mark, waitQuiet } from './noise.ts';
import { waitWorking } from './probe.ts';
import { cpuSeconds, sleep, treeMemory, which } from './procs.ts';
import type { Started } from './procs.ts';
import { LOAD_CORE, NOISY, PROXY_CORE, mem, sumCpu } from './run-context.ts';
import type { Bench } from './run-context.ts';
import { medianRun, saturate } from './saturation.ts';
import type { MemoryFigures, Protocol, RunResult, SaturationResult } from './types.ts';
import { firstDead } from '../targets.ts';
import type { RunningTarget, Target } from '../targets.ts';

/** A target started, measured idle and at saturation, and still running. */
export interface Prepared {
  target: Target;
  result: RunResult;
  /** `h1 · sluice`: the prefix of its log lines. */
  tag: string;
  /** Its private scratch directory. */
  dir: string;
  running: RunningTarget;
  stopped: boolean;
  idle: number[];
  idleSettled: number[] | undefined;
  afterSat: number[];
}

export function noteIfNoisy(result: RunResult, what: string, cores: number): void {
  if (cores > NOISY) result.notes.push(`other processes used ${cores.toFixed(2)} cores during ${what}: figures may be disturbed`);
}

/** Start the target, idle memory, saturation runs. On failure the target is stopped and `prepared` is absent. */
export async function prepareTarget(b: Bench, target: Target, protocol: Protocol, backend: Started, backendPort: number): Promise<{ result: RunResult; prepared?: Prepared }> {
  const result: RunResult = { target: target.name, protocol, ok: false, memory: [], fixed: [], notes: [] };
  const tag = `${protocol} · ${target.name}`;
  const dir = mkdtempSync(join(b.scratch, `${target.name}-${protocol}-`));
  let running: RunningTarget | undefined;
  try {
    running = await target.start({ protocol, backendPort, core: b.o.pin ? PROXY_CORE : undefined, controlCore: b.o.pin ? LOAD_CORE : undefined, root: b.root, dir });
    const t = running;
    result.notes.push(...t.notes);
    await waitWorking(protocol, t.port, 20_000, { gone: () => firstDead(t), authority: t.authority });
    await sleep(b.o.settleMs);
    const idle = mem(t.proxies);
    if (idle.length > 0) b.log(`${tag}: idle RSS ${idle.map((v) => (v / 1e6).toFixed(1)).join(' + ')} MB`);
    // A second reading for the targets the idle limits name: a second after start-up a Node proxy still
    // holds its start-up garbage and a grown young generation, which V8 collects once it has been idle a
    // few seconds; a sidecar spends its idle life after that.
    let idleSettled: number[] | undefined;
    if (IDLE_SETTLED_TARGETS.includes(target.name)) {
      await sleep(IDLE_SETTLE_MS);
      idleSettled = mem(t.proxies);
      b.log(`${tag}: idle RSS after ${IDLE_SETTLE_MS / 1000} s more ${idleSettled.map((v) => (v / 1e6).toFixed(1)).join(' + ')} MB`);
    }
    let afterSat = idle.map(() => 0);
    if (protocol === 'h1' || which('h2load') !== null) {
      afterSat = await saturationPhase(b, protocol, t, backend, result, tag);
    } else {
      result.notes.push('h2load is not installed: no saturation run');
      await t.confirmPath?.();
    }
    return { result, prepared: { target, result, tag, dir, running: t, stopped: false, idle, idleSettled, afterSat } };
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    b.log(`${tag}: FAILED: ${result.error.split('\n')[0]}`);
    await running?.stop();
    return { result };
  }
}

/**
 * `--saturation-runs` measured runs after a warm-up, the median kept (at equal core speed, by proxy CPU
 * per request); a run disturbed by other processes is run again (`--attempts` - 1 times in all at most)
 * and counts only if nothing better came. Sets `result.saturation`; returns the memory after it.
 */
async function saturationPhase(b: Bench, protocol: Protocol, t: RunningTarget, backend: Started, result: RunResult, tag: string): Promise<number[]> {
  const { o } = b;
  const helpers = t.helpers ?? [];
  const satOpts = {
    protocol,
    port: t.port,
    connections: protocol === 'h1' ? o.satH1Connections : o.satH2Connections,
    streams: o.satH2Streams,
    core: o.pin ? LOAD_CORE : undefined,
    tmpDir: b.scratch,
    root: b.root,
    authority: t.authority,
  };
  await saturate({ ...satOpts, seconds: o.saturationWarmupSeconds });
  // Before any figure: fails the target if its traffic did not take the path it claims.
  await t.confirmPath?.();
  interface Sample {
    sat: SaturationResult;
    foreign: number;
    mem: number[];
  }
  const clean: Sample[] = [];
  const disturbed: Sample[] = [];
  let retries = o.attempts - 1;
  while (clean.length < o.saturationRuns) {
    await waitQuiet(o.quiet.threshold, o.quiet.maxWaitMs);
    const n0 = mark();
    const cpu0 = sumCpu(t.proxies);
    const help0 = sumCpu(helpers);
    const be0 = cpuSeconds(backend.pid);
    const counts = await saturate({ ...satOpts, seconds: o.saturationSeconds });
    const cpu1 = sumCpu(t.proxies);
    const help1 = sumCpu(helpers);
    const be1 = cpuSeconds(backend.pid);
    const foreign = foreignCores(n0, mark());
    const memNow = mem(t.proxies);
    const proxyCpu = t.proxies.length === 0 ? null : cpu1 - cpu0;
    const sat: SaturationResult = {
      tool: counts.tool,
      seconds: counts.seconds,
      connections: satOpts.connections,
      streams: protocol === 'h1' ? 1 : o.satH2Streams,
      requests: counts.requests,
      errors: counts.errors,
      rps: counts.seconds > 0 ? counts.requests / counts.seconds : 0,
      proxyCpuSeconds: proxyCpu,
      proxyCpuUsPerRequest: proxyCpu === null || counts.requests === 0 ? null : (proxyCpu * 1e6) / counts.requests,
      backendCpuUsPerRequest: counts.requests === 0 ? 0 : ((be1 - be0) * 1e6) / counts.requests,
    };
    if (helpers.length > 0 && counts.requests > 0) sat.controllerCpuUsPerRequest = ((help1 - help0) * 1e6) / counts.requests;
    const sample = { sat, foreign, mem: memNow };
    if (foreign <= NOISY) {
      clean.push(sample);
    } else if (retries > 0 && !b.overBudget()) {
      retries--;
      disturbed.push(sample);
      b.log(`${tag}: saturation disturbed (other processes used ${foreign.toFixed(2)} cores), running it again`);
    } else {
      disturbed.push(sample);
      break;
    }
    if (b.overBudget()) break;
  }
  // Without enough clean runs, the least disturbed ones fill in.
  const pool = clean.length > 0 ? clean : [...disturbed].sort((x, y) => x.foreign - y.foreign).slice(0, 1);
  const kept = medianRun(pool.map((x) => x.sat));
  const best = pool.find((x) => x.sat === kept);
  if (best === undefined) throw new Error('no saturation run');
  if (pool.length > 1) {
    b.log(
      `${tag}: ${pool.length} saturation runs, proxy CPU µs/req ${pool.map((x) => x.sat.proxyCpuUsPerRequest?.toFixed(1) ?? '–').join(' / ')}, ` +
        `backend µs/req ${pool.map((x) => x.sat.backendCpuUsPerRequest.toFixed(1)).join(' / ')}, requests/s ${pool.map((x) => fmtInt(x.sat.rps)).join(' / ')}: the median at equal core speed kept`,
    );
  }
  const sat = best.sat;
  noteIfNoisy(result, 'the saturation run', best.foreign);
  if (protocol === 'grpc') sat.note = 'h2load checks the HTTP status only, not grpc-status';
  result.saturation = sat;
  b.log(
    `${tag}: saturation ${fmtInt(sat.rps)} req/s` +
      (sat.proxyCpuUsPerRequest === null ? '' : `, proxy CPU ${sat.proxyCpuUsPerRequest.toFixed(1)} µs/req`) +
      (sat.controllerCpuUsPerRequest === undefined ? '' : ` (controller ${sat.controllerCpuUsPerRequest.toFixed(2)} µs/req more)`) +
      `, backend ${sat.backendCpuUsPerRequest.toFixed(1)} µs/req, errors ${sat.errors}`,
  );
  // Memory at the end of saturation: the higher of right after the kept run and now (after the last run).
  return mem(t.proxies).map((v, i) => Math.max(v, best.mem[i] ?? 0));
}

/** Stop a prepared target (once). */
export async function stopTarget(p: Prepared): Promise<void> {
  if (p.stopped) return;
  p.stopped = true;
  await p.running.stop();
}

/** The target failed after it was prepared (during the fixed-rate phase): its row says why; it is stopped. */
export async function failTarget(b: Bench, p: Prepared, err: unknown): Promise<void> {
  p.result.ok = false;
  p.result.error = err instanceof Error ? err.message : String(err);
  b.log(`${p.tag}: FAILED: ${p.result.error.split('\n')[0]}`);
  await stopTarget(p);
}

/** After the fixed-rate phase: memory at the end (and its peak), the helpers' memory in the notes; then stop. */
export async function finishTarget(b: Bench, p: Prepared): Promise<void> {
  if (p.stopped) return;
  try {
    const dead = firstDead(p.running);
    if (dead !== null) throw new Error(`died during the run: ${dead}`);
    const end = p.running.proxies.map((proc) => treeMemory(proc.pid));
    p.result.memory = p.running.proxies.map(
      (_, i): MemoryFigures => ({
        idle: p.idle[i] ?? 0,
        ...(p.idleSettled === undefined ? {} : { idleSettled: p.idleSettled[i] ?? 0 }),
        afterSaturation: p.afterSat[i] ?? 0,
        peak: end[i]?.peak ?? 0,
        end: end[i]?.rss ?? 0,
      }),
    );
    for (const h of p.running.helpers ?? []) p.result.notes.push(`${h.name} (not counted as proxy): RSS ${(treeMemory(h.pid).rss / 1e6).toFixed(1)} MB at the end`);
    p.result.ok = true;
    await stopTarget(p);
  } catch (err) {
    await failTarget(b, p, err);
  }
}
