// How many worker threads an injected proxy runs, from the CPU the pod gives it (docs/inject.md).
//
// Measured (docs/performance.md): a worker costs ~20 MB, and on one core the main thread alone carries as
// many HTTP/1.1 requests per second as main thread + one worker (10,476 vs 10,444), but with a worker
// the p99 added at 1,000 req/s is lower (+0.4 ms vs +1.3 ms) because the main thread's own work (admin,
// control-plane streams, telemetry) no longer delays requests. So:
//   - no CPU limit: 1 worker (the proxy must not size itself from the node's cores: a 64-core node
//     would get 64 workers and ~1.3 GB per pod; Linkerd's proxy defaults to one core too);
//   - a limit under one core: 0 workers — two threads cannot both run within less than one core's
//     quota, and the pod has said that resources matter more than the last millisecond;
//   - a limit of N cores: ceil(N) workers (Linkerd's LINKERD2_PROXY_CORES rule), at most 16.

import { parseQuantity } from '../api/quantity.ts';

export { parseQuantity };
import { MAX_DEFAULT_WORKERS, workersForCores } from '../config/cpu.ts';

export const MAX_INJECTED_WORKERS = MAX_DEFAULT_WORKERS;

/** Worker threads for a proxy whose CPU limit is `cpuLimit` (`''` = no limit). */
export function workersForCpuLimit(cpuLimit: string): number {
  if (cpuLimit === '') return 1;
  const cores = parseQuantity(cpuLimit);
  if (cores === undefined || cores <= 0) return 1;
  return workersForCores(cores);
}
