// What every phase of `npm run perf` shares: the options, where things are, the cores, the log, the time
// budget, and the small /proc readings over a chain's processes.
import type { PerfOptions } from './args.ts';
import { treeCpuSeconds, treeMemory } from './procs.ts';
import type { Started } from './procs.ts';

/** The backend and the proxies under test. */
export const PROXY_CORE = 0;
/** Load generators, the mesh targets' controllers, this process. */
export const LOAD_CORE = 1;
/** Other processes using more cores than this during a measured phase get a note in the results. */
export const NOISY = 0.25;
/** A fixed-rate run whose generator put its p99 request on the wire later than this (µs) is repeated. */
export const LATE_US = 2000;

export interface Bench {
  o: PerfOptions;
  /** The repository. */
  root: string;
  /** This run's scratch directory (removed at the end). */
  scratch: string;
  log(line: string): void;
  /** Past the time budget (`--budget`), disturbed runs are no longer repeated. */
  overBudget(): boolean;
}

export function makeBench(o: PerfOptions, root: string, scratch: string, began: number): Bench {
  return {
    o,
    root,
    scratch,
    log: (line) => process.stdout.write(`${line}\n`),
    overBudget: () => (performance.now() - began) / 1000 > o.budgetSeconds,
  };
}

/** CPU seconds used so far by the processes (and their descendants). */
export function sumCpu(ps: readonly Started[]): number {
  return ps.reduce((s, p) => s + treeCpuSeconds(p.pid), 0);
}

/** Resident memory of each process (with its descendants), bytes. */
export function mem(ps: readonly Started[]): number[] {
  return ps.map((p) => treeMemory(p.pid).rss);
}
