// A freeze sentinel: watches one core *while* a fixed-rate run measures latency, so that the run can tell
// which requests a stop of the whole core held up. Run pinned (taskset) and at real-time priority
// (chrt -f) by perf/lib/freezes.ts: it sleeps `--period-ms`, wakes, reads the clock, and sleeps again. A
// real-time thread preempts anything else on its core the moment its timer fires, so a wake-up later than
// the period by more than `--threshold-ms` means the core ran nothing of ours at all for that long (on a
// VM, the host descheduled the vCPU). Busy is not frozen: a core loaded by proxies still wakes it on time.
//
// Each freeze is appended to `--out` as it ends — "<start ms> <end ms>" on CLOCK_MONOTONIC, the clock the
// generator can read too — with a synchronous write, because the sleep blocks the event loop; the
// process runs until `--seconds` pass or it is killed. It allocates nothing while it watches, so its own
// garbage collector cannot pass for a freeze.
//
// `--watch PID,…` names kernel threads of the machine's own housekeeping (lib/freezes.ts finds them:
// kdamond, the DAMON memory monitor these VMs run, holds a core 2.5-4 ms every ~512 ms). A real-time
// sentinel preempts them, so their time is no freeze; but every other process on the core waits for them.
// When one of them ran on this core (`--core`) while the sentinel slept — its run time in
// /proc/PID/schedstat grew by `--watch-min-us` (200) or more and /proc/PID/stat names this CPU as its
// last — that stretch is logged as "<start ms> <end ms> k": the core was the machine's, not the benchmark's.
//
//   node --single-threaded perf/loadgen/freeze-sentinel.ts --out FILE --seconds 60 [--period-ms 1] [--threshold-ms 1]
//        [--core N --watch PID,PID [--watch-min-us 200]]
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`freeze-sentinel: missing --${name}`);
  return v;
}

/** A thread's run time and last CPU, read from /proc through file descriptors kept open, into one buffer. */
class WatchedThread {
  private readonly schedstat: number;
  private readonly stat: number;
  private readonly buf = Buffer.alloc(1024);
  private runNs: number;

  constructor(pid: number) {
    this.schedstat = openSync(`/proc/${pid}/schedstat`, 'r');
    this.stat = openSync(`/proc/${pid}/stat`, 'r');
    this.runNs = this.readRunNs();
  }

  /** Whether it ran at least `minNs` since the last call and last ran on `cpu`. */
  ranOn(cpu: number, minNs: number): boolean {
    const runNs = this.readRunNs();
    const ran = runNs - this.runNs;
    this.runNs = runNs;
    return ran >= minNs && ran > 0 && this.lastCpu() === cpu;
  }

  /** /proc/PID/schedstat: "<ns on a CPU> <ns waiting> <time slices>". */
  private readRunNs(): number {
    const n = readSync(this.schedstat, this.buf, 0, this.buf.length, 0);
    return leadingNumber(this.buf, 0, n);
  }

  /** /proc/PID/stat, field 39 (`processor`), counted after the `)` that closes the command name. */
  private lastCpu(): number {
    const n = readSync(this.stat, this.buf, 0, this.buf.length, 0);
    let i = this.buf.lastIndexOf(0x29, n - 1); // ')'
    // Fields 3… follow; 39 is the 37th of them.
    for (let field = 2; field < 39 && i >= 0 && i < n; field++) i = this.buf.indexOf(0x20, i + 1);
    return i < 0 || i >= n ? -1 : leadingNumber(this.buf, i + 1, n);
  }
}

/** The decimal number at `from` in `buf` (ASCII digits up to the first other byte). Allocates nothing. */
function leadingNumber(buf: Buffer, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i] as number;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
  }
  return value;
}

const out = openSync(arg('out'), 'a');
const seconds = Number(arg('seconds'));
const periodMs = Number(arg('period-ms', '1'));
const thresholdMs = Number(arg('threshold-ms', '1'));
if (!(seconds > 0) || !(periodMs > 0) || !(thresholdMs > 0)) throw new Error('freeze-sentinel: bad numbers');
const core = Number(arg('core', '-1'));
/** A watched thread's run shorter than this within one period held nothing up worth leaving out. */
const watchMinNs = Number(arg('watch-min-us', '200')) * 1000;
const watched = arg('watch', '')
  .split(',')
  .filter((w) => w !== '')
  .map((pid) => new WatchedThread(Number(pid)));
if (watched.length > 0 && !(core >= 0)) throw new Error('freeze-sentinel: --watch needs --core');

// performance.now() runs on CLOCK_MONOTONIC from a process-local origin; this offset makes it absolute.
const monoOffsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
const sleeper = new Int32Array(new SharedArrayBuffer(4));
writeSync(out, `start ${(performance.now() + monoOffsetMs).toFixed(3)}\n`);
const end = performance.now() + seconds * 1000;
let last = performance.now();
while (last < end) {
  Atomics.wait(sleeper, 0, 0, periodMs);
  const now = performance.now();
  const housekeeping = watched.length > 0 && housekeepingRan(); // read every time, to stay current
  if (now - last > periodMs + thresholdMs) writeSync(out, `${(last + monoOffsetMs).toFixed(3)} ${(now + monoOffsetMs).toFixed(3)}\n`);
  else if (housekeeping) writeSync(out, `${(last + monoOffsetMs).toFixed(3)} ${(now + monoOffsetMs).toFixed(3)} k\n`);
  last = now;
}
closeSync(out);

/** Whether a watched thread ran on this core since the last look (every one is read). */
function housekeepingRan(): boolean {
  let ran = false;
  for (const t of watched) if (t.ranOn(core, watchMinNs)) ran = true;
  return ran;
}
