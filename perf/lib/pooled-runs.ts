// A target's runs of several rounds at one rate, pooled into one run: the latency distribution of all
// their requests (the generator's histograms added together), counts summed. A p99 read from one 4-s run
// at 1,000 req/s rests on its 40 slowest requests, a handful of the VM's core freezes; the same
// percentile over every round's requests rests on all of them, and direct's runs of the same rounds,
// pooled alike, cover the same moments (lib/rounds.ts).
import { build, decodeFromCompressedBase64 } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { curve, summarize } from './stats.ts';
import type { OpenLoopResult } from './types.ts';

/** Whether every run carries the histograms pooling needs (the generator's results do). */
export function canPool(runs: readonly OpenLoopResult[]): boolean {
  return runs.length > 0 && runs.every((r) => r.histograms !== undefined);
}

function sum(encoded: readonly string[]): Histogram {
  const total = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  for (const e of encoded) total.add(decodeFromCompressedBase64(e));
  return total;
}

function mean(values: ReadonlyArray<number | undefined>): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : known.reduce((a, b) => a + b, 0) / known.length;
}

/**
 * One run standing for `runs` (at least one, all with histograms, same protocol and rate): percentiles
 * and curve of all their requests; scheduled, answered, failed requests, freezes and the time they took
 * summed; the generator's worst send lag; the slowest round's achieved rate (a round that fell behind
 * stays visible); CPU per request averaged; the first error. Without histograms in the result.
 */
export function poolRuns(runs: readonly OpenLoopResult[]): OpenLoopResult {
  if (!canPool(runs)) throw new Error('poolRuns: every run needs the generator histograms');
  const first = runs[0] as OpenLoopResult;
  const all = sum(runs.map((r) => r.histograms?.all ?? ''));
  const pooled: OpenLoopResult = {
    protocol: first.protocol,
    rate: first.rate,
    seconds: runs.reduce((a, r) => a + r.seconds, 0),
    connections: first.connections,
    scheduled: runs.reduce((a, r) => a + r.scheduled, 0),
    ok: runs.reduce((a, r) => a + r.ok, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    achievedRate: Math.min(...runs.map((r) => r.achievedRate)),
    sendLagUs: { p99: Math.max(...runs.map((r) => r.sendLagUs.p99)), max: Math.max(...runs.map((r) => r.sendLagUs.max)) },
    latency: summarize(all),
    curve: curve(all),
  };
  const split = runs.every((r) => r.outsideFreezes !== undefined && r.histograms?.outsideFreezes !== undefined);
  if (split) {
    pooled.outsideFreezes = {
      latency: summarize(sum(runs.map((r) => r.histograms?.outsideFreezes ?? ''))),
      touched: runs.reduce((a, r) => a + (r.outsideFreezes?.touched ?? 0), 0),
      freezes: runs.reduce((a, r) => a + (r.outsideFreezes?.freezes ?? 0), 0),
      frozenMs: Math.round(runs.reduce((a, r) => a + (r.outsideFreezes?.frozenMs ?? 0), 0) * 10) / 10,
    };
  }
  const proxyCpu = mean(runs.map((r) => r.proxyCpuUsPerRequest));
  if (proxyCpu !== undefined) pooled.proxyCpuUsPerRequest = proxyCpu;
  const backendCpu = mean(runs.map((r) => r.backendCpuUsPerRequest));
  if (backendCpu !== undefined) pooled.backendCpuUsPerRequest = backendCpu;
  const firstError = runs.find((r) => r.firstError !== undefined)?.firstError;
  if (firstError !== undefined) pooled.firstError = firstError;
  return pooled;
}
