// How often a core of this machine stops running what is on it: a hiccup meter (loadgen/hiccups.ts)
// spins on the core for a few seconds reading the clock, and every gap between two readings is time
// the core did not run it — another task took it, or on a virtual machine the host descheduled the
// vCPU. On the 2-vCPU VMs these benchmarks run on, an otherwise idle core stops for 4-9 ms about once a
// second: at 1,000 req/s that is ~1 % of requests stalled, so a fixed-rate p99 there measures these
// freezes and how fast each chain drains what queued behind them. `npm run perf` reports them beside
// the figures so that a p99 can be read for what it is.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, statFields, stop, type Started } from './procs.ts';

export interface FreezeFigures {
  core: number;
  seconds: number;
  /** Gaps longer than `thresholdMs`. */
  count: number;
  longestMs: number;
  /** Share of the time the core was taken away. */
  frozenShare: number;
  thresholdMs: number;
}

/** Pure: the figures of a hiccup meter's gaps (ms) over `seconds`. */
export function freezesFromGaps(gaps: readonly number[], seconds: number, thresholdMs: number, core: number): FreezeFigures {
  let count = 0;
  let longestMs = 0;
  let frozenMs = 0;
  for (const gapMs of gaps) {
    if (gapMs <= thresholdMs) continue;
    count++;
    frozenMs += gapMs;
    if (gapMs > longestMs) longestMs = gapMs;
  }
  return { core, seconds, count, longestMs, frozenShare: seconds > 0 ? frozenMs / (seconds * 1000) : 0, thresholdMs };
}

/** Runs the hiccup meter on `core` for `seconds`; undefined when it could not run. */
export async function measureFreezes(root: string, core: number, seconds: number, thresholdMs = 3): Promise<FreezeFigures | undefined> {
  let out = '';
  const p = start(`hiccups-${core}`, process.execPath, [join(root, 'perf', 'loadgen', 'hiccups.ts'), '--seconds', String(seconds), '--threshold-ms', String(thresholdMs)], {
    core,
    onStdout: (c) => (out += c.toString('utf8')),
  });
  const code = await p.exited;
  if (code !== 0) return undefined;
  try {
    const r = JSON.parse(out.trim()) as { gaps: number[] };
    return freezesFromGaps(r.gaps, seconds, thresholdMs, core);
  } catch {
    return undefined;
  }
}

/** Freeze sentinels watching cores during a run: the generator reads `files` (--freezes) at its end. */
export interface Sentinels {
  files: string[];
  stop(): Promise<void>;
}

let realtimeAllowed: boolean | undefined;
/** Whether this user may run a process at real-time priority (root or CAP_SYS_NICE). */
export function canRunRealtime(): boolean {
  realtimeAllowed ??= spawnSync('chrt', ['-f', '1', 'true'], { stdio: 'ignore' }).status === 0;
  return realtimeAllowed;
}

/** Pure: whether a /proc/PID/stat line is a kernel thread (parent kthreadd, PID 2) named kdamond…. */
export function isKdamond(stat: string): boolean {
  const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const ppid = statFields(stat)[1]; // field 4
  return name.startsWith('kdamond') && ppid === '2';
}

let housekeepingPids: number[] | undefined;
/**
 * The kernel threads of the machine's own housekeeping that hold a core for milliseconds at a time:
 * kdamond (DAMON, the memory-access monitor these VMs' kernel runs: 2.5-4 ms every ~512 ms). The
 * sentinels log the windows in which one of them held their core; the report counts them and each run's
 * log line gives the p99 without the requests they touched (p99 added does not leave those out).
 */
export function housekeepingThreads(): number[] {
  if (housekeepingPids !== undefined) return housekeepingPids;
  housekeepingPids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (isKdamond(readFileSync(`/proc/${entry}/stat`, 'utf8'))) housekeepingPids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return housekeepingPids;
}

/**
 * Starts a freeze sentinel (perf/loadgen/freeze-sentinel.ts) on each of `cores`, at real-time priority, for
 * at most `seconds`, watching the kernel's housekeeping threads too; undefined when real-time priority is
 * not allowed (the run then has no freeze split).
 */
export function startSentinels(root: string, cores: readonly number[], dir: string, seconds: number): Sentinels | undefined {
  if (!canRunRealtime()) return undefined;
  const procs: Started[] = [];
  const files: string[] = [];
  const watch = housekeepingThreads();
  for (const core of cores) {
    const file = join(dir, `freezes-core${core}.log`);
    writeFileSync(file, '');
    files.push(file);
    const script = join(root, 'perf', 'loadgen', 'freeze-sentinel.ts');
    const watching = watch.length === 0 ? [] : ['--core', String(core), '--watch', watch.join(',')];
    procs.push(start(`freeze-sentinel-${core}`, process.execPath, ['--single-threaded', script, '--out', file, '--seconds', String(seconds), ...watching], { core, fifo: 50 }));
  }
  return { files, stop: async () => void (await Promise.all(procs.map((p) => stop(p, 500)))) };
}
