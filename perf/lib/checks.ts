// The targets, checked against the figures of one run.
import type { OpenLoopResult, Protocol, RunResult, TargetCheck } from './types.ts';

export const MB = 1_000_000;

export function find(runs: readonly RunResult[], target: string, protocol: Protocol): RunResult | undefined {
  return runs.find((r) => r.target === target && r.protocol === protocol && r.ok);
}

export function fixedAt(run: RunResult | undefined, rate: number): OpenLoopResult | undefined {
  return run?.fixed.find((f) => f.rate === rate);
}

/** p99 of `target` minus p99 of direct, same protocol and rate, µs; null if either is missing or had errors. */
export function p99Added(runs: readonly RunResult[], target: string, protocol: Protocol, rate: number): number | null {
  const t = fixedAt(find(runs, target, protocol), rate);
  const d = fixedAt(find(runs, 'direct', protocol), rate);
  if (t === undefined || d === undefined || t.latency.count === 0 || d.latency.count === 0) return null;
  return t.latency.p99 - d.latency.p99;
}

function check(name: string, limit: string, value: number | null, fmt: (v: number) => string, pass: (v: number) => boolean): TargetCheck {
  return value === null || !Number.isFinite(value)
    ? { name, limit, value: 'not measured', pass: null }
    : { name, limit, value: fmt(value), pass: pass(value) };
}

const us = (v: number): string => `${v.toFixed(1)} µs`;
const mb = (v: number): string => `${(v / MB).toFixed(1)} MB`;

function maxOf(values: Array<number | undefined>): number | null {
  const ok = values.filter((v): v is number => v !== undefined && v > 0);
  return ok.length === 0 ? null : Math.max(...ok);
}

export function computeChecks(runs: readonly RunResult[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const cpu = (p: Protocol): number | null => find(runs, 'sluice', p)?.saturation?.proxyCpuUsPerRequest ?? null;
  out.push(check('sluice CPU per HTTP/1.1 request', '≤ 12 µs', cpu('h1'), us, (v) => v <= 12));
  out.push(check('sluice CPU per h2c request', '≤ 15 µs', cpu('h2c'), us, (v) => v <= 15));

  const s = find(runs, 'sluice', 'h1')?.saturation?.rps;
  const h = find(runs, 'haproxy', 'h1')?.saturation?.rps;
  out.push(
    check(
      'HTTP/1.1 saturation, 1 worker, vs HAProxy',
      '≥ 0.5×',
      s !== undefined && h !== undefined && h > 0 ? s / h : null,
      (v) => `${v.toFixed(2)}× (${Math.round(s ?? 0)} vs ${Math.round(h ?? 0)} req/s)`,
      (v) => v >= 0.5,
    ),
  );

  for (const p of ['h1', 'grpc'] as const) {
    for (const rate of [1000, 5000]) {
      out.push(
        check(
          `p99 added over direct, ${p === 'h1' ? 'HTTP/1.1' : 'gRPC'} at ${rate} req/s`,
          '≤ 1 ms',
          p99Added(runs, 'sluice', p, rate),
          (v) => `${Math.round(v)} µs`,
          (v) => v <= 1000,
        ),
      );
    }
  }

  const idle = (t: string): number | null => maxOf(runs.filter((r) => r.target === t && r.ok).map((r) => r.memory[0]?.idle));
  out.push(check('idle resident memory, 1 worker', '≤ 70 MB', idle('sluice'), mb, (v) => v <= 70 * MB));
  out.push(check('idle resident memory, SLUICE_PROXY_WORKERS=0', '≤ 50 MB', idle('sluice-w0'), mb, (v) => v <= 50 * MB));
  out.push(
    check(
      'resident memory at the end of a saturation run (any sluice run)',
      '≤ 150 MB',
      maxOf(runs.filter((r) => r.target.startsWith('sluice') && r.ok).flatMap((r) => r.memory.map((m) => m.afterSaturation))),
      mb,
      (v) => v <= 150 * MB,
    ),
  );
  return out;
}
