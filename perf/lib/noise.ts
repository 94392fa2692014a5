// Other people's work on the same machine distorts a benchmark; this measures how much CPU was used
// during a phase by processes that are not ours (machine-wide busy time minus ours), and can wait for
// the machine to quieten before a phase starts.
import { readFileSync } from 'node:fs';
import { CLK_TCK, cpuSeconds, descendants, sleep, statFields } from './procs.ts';

/** Busy CPU seconds of the whole machine so far (user + nice + system of the `cpu` line of /proc/stat). */
export function parseMachineBusy(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('no cpu line in /proc/stat');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0)) / CLK_TCK;
}

function machineBusy(): number {
  return parseMachineBusy(readFileSync('/proc/stat', 'utf8'));
}

/** CPU seconds of this process, its reaped children (cutime/cstime) and its live descendants. */
function ours(): number {
  let total = 0;
  try {
    const rest = statFields(readFileSync('/proc/self/stat', 'utf8'));
    // Fields 14–17: utime, stime, cutime, cstime (rest[0] is field 3).
    for (let k = 11; k <= 14; k++) total += Number(rest[k] ?? 0);
  } catch {
    // ignore
  }
  let sum = total / CLK_TCK;
  for (const pid of descendants(process.pid)) sum += cpuSeconds(pid);
  return sum;
}

export interface NoiseMark {
  wall: number;
  busy: number;
  ours: number;
}

export function mark(): NoiseMark {
  return { wall: performance.now() / 1000, busy: machineBusy(), ours: ours() };
}

/** Average number of cores used by other processes between two marks (0 = quiet machine). */
export function foreignCores(a: NoiseMark, b: NoiseMark): number {
  const wall = b.wall - a.wall;
  if (wall <= 0) return 0;
  const foreign = b.busy - a.busy - (b.ours - a.ours);
  return Math.max(0, foreign / wall);
}

/**
 * Waits until other processes use less than `threshold` cores over a `windowMs` window, at most `maxWaitMs`.
 * Resolves with the last window's figure.
 */
export async function waitQuiet(threshold = 0.15, maxWaitMs = 10_000, windowMs = 250): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let last = 0;
  for (;;) {
    const a = mark();
    await sleep(windowMs);
    last = foreignCores(a, mark());
    if (last < threshold || Date.now() >= deadline) return last;
  }
}
