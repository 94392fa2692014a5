// Child-process bookkeeping for the benchmark: every process the suite starts goes through `start()`,
// is remembered by PID, and is stopped by PID (its own descendants first collected from /proc) when the
// run ends, fails or is interrupted. Also reads CPU time and resident memory from /proc.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Clock ticks per second for /proc/<pid>/stat (sysconf(_SC_CLK_TCK)); 100 on every Linux/x86-64 build. */
export const CLK_TCK = 100;

export interface Started {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Everything the process wrote to stderr (last 16 KiB), for error messages. */
  stderrTail(): string;
}

const live = new Map<number, Started>();

export interface StartOptions {
  /** CPU core to pin to with `taskset -c` (taskset execs, so the PID stays the command's own). */
  core?: number | undefined;
  /** Niceness for the whole process, every thread (`nice -n`, which execs too). */
  nice?: number;
  /** Real-time FIFO priority (`chrt -f`, which execs too; needs root or CAP_SYS_NICE). */
  fifo?: number;
  /**
   * SCHED_IDLE (`chrt -i 0`): the process runs only when its core has nothing else to run, and any other
   * thread waking up takes the core from it at once — unlike nice 19, under which the kernel's EEVDF
   * scheduler still lets it finish a slice of up to a few ms first.
   */
  idle?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with each stdout chunk (stdout is otherwise discarded). */
  onStdout?: (chunk: Buffer) => void;
  /** Pass stdout/stderr through to ours instead of capturing. */
  inherit?: boolean;
}

export function start(name: string, cmd: string, args: string[], opts: StartOptions = {}): Started {
  const pinned = opts.core === undefined ? [cmd, ...args] : ['taskset', '-c', String(opts.core), cmd, ...args];
  const niced = opts.nice === undefined ? pinned : ['nice', '-n', String(opts.nice), ...pinned];
  const policy = opts.fifo !== undefined ? ['chrt', '-f', String(opts.fifo)] : opts.idle === true ? ['chrt', '-i', '0'] : [];
  const chain = [...policy, ...niced];
  const file = chain[0] as string;
  const argv = chain.slice(1);
  const spawnOpts: SpawnOptions = {
    env: opts.env ?? process.env,
    stdio: opts.inherit === true ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
  };
  if (opts.cwd !== undefined) spawnOpts.cwd = opts.cwd;
  const child = spawn(file, argv, spawnOpts);
  if (child.pid === undefined) throw new Error(`could not start ${name}: ${file} ${argv.join(' ')}`);
  const pid = child.pid;
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-16384);
  });
  if (opts.onStdout !== undefined) child.stdout?.on('data', opts.onStdout);
  else child.stdout?.resume();
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(pid);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      live.delete(pid);
      tail += `\n${String(err)}`;
      resolve('spawn-error');
    });
  });
  const started: Started = { name, pid, child, exited, stderrTail: () => tail };
  live.set(pid, started);
  return started;
}

/** PIDs of every descendant of `pid` (children of all its threads, recursively), from /proc. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      let text = '';
      try {
        text = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of text.split(' ')) {
        const n = Number(c);
        if (c.trim() !== '' && Number.isInteger(n) && !out.includes(n)) {
          out.push(n);
          queue.push(n);
        }
      }
    }
  }
  return out;
}

/**
 * Freezes a process and its descendants (SIGSTOP) until resume(): while one target is measured, the
 * others then take no CPU at all, not even the clean-up an idle Node process does after its own run.
 */
export function pause(p: Started): void {
  if (live.has(p.pid)) signalAll([p.pid, ...descendants(p.pid)], 'SIGSTOP');
}

/** Lets a process paused by pause() run again (harmless on one that was not paused). */
export function resume(p: Started): void {
  if (live.has(p.pid)) signalAll([p.pid, ...descendants(p.pid)], 'SIGCONT');
}

function signalAll(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) signal(pid, sig);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Resolves 'timeout' after `ms`, for Promise.race: unlike sleep() its timer does not keep the process
 * alive, so a race that was won long ago cannot hold up the program's exit.
 */
export function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

/** SIGTERM the process, SIGKILL it (and any descendant still there) after `graceMs`. */
export async function stop(p: Started, graceMs = 3000): Promise<void> {
  if (!live.has(p.pid)) return;
  const kids = descendants(p.pid);
  signal(p.pid, 'SIGTERM');
  // A paused process acts on SIGTERM only once it runs again.
  signalAll([p.pid, ...kids], 'SIGCONT');
  const how = await Promise.race([p.exited, timeout(graceMs)]);
  if (how === 'timeout') {
    signal(p.pid, 'SIGKILL');
    await p.exited;
  }
  for (const k of kids) if (pidAlive(k)) signal(k, 'SIGKILL');
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stop everything still running (in parallel). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live.values()].map((p) => stop(p, 2000)));
}

/** Last resort, synchronous (for process 'exit'): SIGKILL every child we started and its descendants. */
export function killAllNow(): void {
  for (const p of live.values()) {
    const kids = descendants(p.pid);
    signal(p.pid, 'SIGKILL');
    for (const k of kids) signal(k, 'SIGKILL');
  }
  live.clear();
}

let hooked = false;
/** Make sure no child outlives us: on exit, and on SIGINT/SIGTERM/SIGHUP (stop them, run `onSignal`, exit 130/143). */
export function installCleanupHandlers(onSignal?: () => void): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping the processes this run started…\n`);
      const code = sig === 'SIGINT' ? 130 : 143;
      const hard = setTimeout(() => process.exit(code), 4000);
      hard.unref();
      stopAll().finally(() => {
        onSignal?.();
        process.exit(code);
      });
    });
  }
}

/** Parses the utime+stime fields (14, 15) of a /proc/<pid>/stat line, in clock ticks. */
export function parseStatTicks(stat: string): number {
  const rest = statFields(stat);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`bad /proc stat line: ${stat}`);
  return utime + stime;
}

/**
 * The fields of a /proc/<pid>/stat line after the command name, from field 3 (state) on: field N is at
 * index N - 3. The name (field 2) is in parentheses and may hold spaces and parentheses itself, so the
 * split starts after the last ')'.
 */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds (user + system, all threads) used so far by `pid`, or 0 if it has gone. */
export function cpuSeconds(pid: number): number {
  try {
    return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU seconds of a process and all its current descendants (nginx: master + worker). */
export function treeCpuSeconds(pid: number): number {
  let sum = cpuSeconds(pid);
  for (const k of descendants(pid)) sum += cpuSeconds(k);
  return sum;
}

/** Reads a `Key:   1234 kB` field of /proc/<pid>/status, in bytes (0 if absent). */
export function parseStatusKb(status: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
}

export interface Memory {
  /** Current resident set size, bytes. */
  rss: number;
  /** Peak resident set size since start (VmHWM), bytes. */
  peak: number;
}

export function memory(pid: number): Memory {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: parseStatusKb(s, 'VmRSS'), peak: parseStatusKb(s, 'VmHWM') };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

/** Memory summed over a process tree (peak is the sum of each process's own peak: an upper bound). */
export function treeMemory(pid: number): Memory {
  const total = memory(pid);
  for (const k of descendants(pid)) {
    const m = memory(k);
    total.rss += m.rss;
    total.peak += m.peak;
  }
  return total;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Full path of `bin` on PATH (or in the sbin directories, where Debian puts daemons), or null. */
/**
 * Moves every thread of this process to `core` (taskset -a -p): a benchmark's own process is idle while
 * measuring, but not quite (timers, its children's pipes, the garbage collector's threads), and on the
 * proxy core that would be ours to count. Does nothing without taskset.
 */
export function pinSelf(core: number): void {
  spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
}

export function which(bin: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, bin);
    if (d !== '' && existsSync(p)) return p;
  }
  return null;
}
