// Fixtures for the benchmark's pure tests: results shaped as the generator reports them.
import type { OpenLoopResult, Protocol } from './types.ts';

/** A fixed-rate run of 4 s with the given p99 (µs); the other percentiles follow from it. */
export function fixed(protocol: Protocol, rate: number, p99: number, errors = 0): OpenLoopResult {
  return {
    protocol,
    rate,
    seconds: 4,
    connections: 4,
    scheduled: rate * 4,
    ok: rate * 4 - errors,
    errors,
    achievedRate: rate,
    sendLagUs: { p99: 10, max: 40 },
    latency: { count: rate * 4 - errors, p50: p99 / 2, p90: p99 * 0.8, p99, p999: p99 * 2, max: p99 * 3, mean: p99 / 2 },
    curve: [],
  };
}
