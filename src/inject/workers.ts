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

export const MAX_INJECTED_WORKERS = 16;

const SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity as a number (`500m` → 0.5, `2` → 2, `1e3` → 1000); undefined if malformed. */
export function parseQuantity(text: string): number | undefined {
  const m = /^\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/.exec(text.trim());
  if (m === null) return undefined;
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * 10 ** Number(m[2].slice(1));
  return base * (SUFFIX[m[3] ?? ''] ?? 1);
}

/** Worker threads for a proxy whose CPU limit is `cpuLimit` (`''` = no limit). */
export function workersForCpuLimit(cpuLimit: string): number {
  if (cpuLimit === '') return 1;
  const cores = parseQuantity(cpuLimit);
  if (cores === undefined || cores <= 0) return 1;
  if (cores < 1) return 0;
  return Math.min(Math.ceil(cores), MAX_INJECTED_WORKERS);
}
