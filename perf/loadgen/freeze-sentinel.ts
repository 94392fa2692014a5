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
//   node --single-threaded perf/loadgen/freeze-sentinel.ts --out FILE --seconds 60 [--period-ms 1] [--threshold-ms 1]
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`freeze-sentinel: missing --${name}`);
  return v;
}

const out = openSync(arg('out'), 'a');
const seconds = Number(arg('seconds'));
const periodMs = Number(arg('period-ms', '1'));
const thresholdMs = Number(arg('threshold-ms', '1'));
if (!(seconds > 0) || !(periodMs > 0) || !(thresholdMs > 0)) throw new Error('freeze-sentinel: bad numbers');

// performance.now() runs on CLOCK_MONOTONIC from a process-local origin; this offset makes it absolute.
const monoOffsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
const sleeper = new Int32Array(new SharedArrayBuffer(4));
writeSync(out, `start ${(performance.now() + monoOffsetMs).toFixed(3)}\n`);
const end = performance.now() + seconds * 1000;
let last = performance.now();
while (last < end) {
  Atomics.wait(sleeper, 0, 0, periodMs);
  const now = performance.now();
  if (now - last > periodMs + thresholdMs) writeSync(out, `${(last + monoOffsetMs).toFixed(3)} ${(now + monoOffsetMs).toFixed(3)}\n`);
  last = now;
}
closeSync(out);
