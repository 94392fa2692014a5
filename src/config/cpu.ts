// How many worker threads the proxy runs by default: from the CPU it is given. In a pod that is the
// container's CPU limit (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`); without a
// limit, the CPUs the process may run on.
//
// Why this rule (docs/configuration.md, measured in docs/performance.md): the main thread accepts and
// hands connections over, which costs a little per connection and nothing per request; each worker
// thread costs ~16 MB of memory at idle. Under one core there is no parallelism to gain, so the main
// thread serves everything (SLUICE_PROXY_WORKERS=0: the smallest footprint); with N cores, one worker
// per (started) core lets the proxy use what it is given, never more than 16.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export const MAX_DEFAULT_WORKERS = 16;

/** Pure: the default worker count for `cores` CPUs (fractional for a quota). */
export function workersForCores(cores: number): number {
  if (!(cores >= 1)) return 0;
  return Math.min(MAX_DEFAULT_WORKERS, Math.ceil(cores - 1e-9));
}

/** Pure: a cgroup v2 `cpu.max` line ("max 100000" or "150000 100000") as cores; undefined = no limit. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return undefined;
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? q / p : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The CPU quota of this process's cgroup in cores, if it has one. */
export function cgroupCpuLimit(): number | undefined {
  const v2 = readText('/sys/fs/cgroup/cpu.max');
  if (v2 !== undefined) return parseCpuMax(v2);
  const quota = Number(readText('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') ?? '-1');
  const period = Number(readText('/sys/fs/cgroup/cpu/cpu.cfs_period_us') ?? '0');
  return quota > 0 && period > 0 ? quota / period : undefined;
}

/** The CPU this process is given: its quota, capped by the CPUs it may run on. */
export function coresGiven(): number {
  const available = os.availableParallelism();
  const limit = cgroupCpuLimit();
  return limit === undefined ? available : Math.min(limit, available);
}
