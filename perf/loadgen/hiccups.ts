// A hiccup meter (in the manner of jHiccup): spins on one core for --seconds reading the clock, and
// prints one JSON line with every gap between two readings longer than --threshold-ms. A spinning
// thread is never idle, so a gap is time the core did not run it: another task took the core, or on
// a virtual machine the host descheduled the vCPU. Run pinned (taskset) by perf/lib/freezes.ts.
import { performance } from 'node:perf_hooks';

function arg(name: string, fallback: string): number {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i >= 0 ? process.argv[i + 1] : fallback);
}

const seconds = arg('seconds', '5');
const thresholdMs = arg('threshold-ms', '1');
const gaps: number[] = [];
const end = performance.now() + seconds * 1000;
let last = performance.now();
for (let now = last; now < end; now = performance.now()) {
  if (now - last > thresholdMs) gaps.push(Math.round((now - last) * 1000) / 1000);
  last = now;
}
process.stdout.write(`${JSON.stringify({ seconds, thresholdMs, gaps })}\n`);
