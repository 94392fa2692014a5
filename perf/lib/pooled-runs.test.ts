import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { canPool, poolRuns } from './pooled-runs.ts';
import { summarize } from './stats.ts';
import type { OpenLoopResult } from './types.ts';

/** A generator result at 1k/s whose requests took `latencies` µs; `frozen` of them touched by a core freeze. */
export function measured(latencies: readonly number[], frozen: readonly number[] = [], extra: Partial<OpenLoopResult> = {}): OpenLoopResult {
  const histogram = (values: readonly number[]) => {
    const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
    for (const v of values) h.recordValue(v);
    return h;
  };
  const all = histogram([...latencies, ...frozen]);
  const outside = histogram(latencies);
  const n = latencies.length + frozen.length;
  return {
    protocol: 'h1',
    rate: 1000,
    seconds: 4,
    connections: 32,
    scheduled: n,
    ok: n,
    errors: 0,
    achievedRate: 1000,
    sendLagUs: { p99: 20, max: 100 },
    latency: summarize(all),
    curve: [],
    outsideFreezes: { latency: summarize(outside), touched: frozen.length, freezes: frozen.length > 0 ? 1 : 0, frozenMs: frozen.length > 0 ? 8 : 0 },
    histograms: { all: encodeIntoCompressedBase64(all), outsideFreezes: encodeIntoCompressedBase64(outside) },
    ...extra,
  };
}

/** `n` requests: all at `base` µs but the last `slow`, at `slowUs`. */
export function requests(n: number, base: number, slow = 0, slowUs = 0): number[] {
  return Array.from({ length: n }, (_, i) => (i >= n - slow ? slowUs : base));
}

test('pooled runs are one distribution of all their requests, not an average of percentiles', () => {
  // Round 1: 1 % of 1,000 slow (p99 sits on the edge); round 2: none. Pooled: 0.5 % slow, so p99 is the fast level.
  const a = measured(requests(1000, 200, 11, 5000));
  const b = measured(requests(1000, 210));
  assert.ok(a.latency.p99 >= 4990, `round 1 alone: p99 ${a.latency.p99}`);
  const pooled = poolRuns([a, b]);
  assert.equal(pooled.latency.count, 2000);
  assert.ok(pooled.latency.p99 <= 210, `pooled p99 ${pooled.latency.p99}`);
  assert.ok(pooled.latency.max >= 4990);
  assert.equal(pooled.scheduled, 2000);
  assert.equal(pooled.seconds, 8);
  assert.equal(pooled.histograms, undefined, 'the written result does not carry the histograms');
});

test('what the freezes touched stays apart, summed over the runs; counts, lag, rate and CPU combine conservatively', () => {
  const a = measured(requests(980, 300), requests(20, 9000), { sendLagUs: { p99: 40, max: 900 }, achievedRate: 1000, proxyCpuUsPerRequest: 100, backendCpuUsPerRequest: 50 });
  const b = measured(requests(995, 300), requests(5, 7000), { sendLagUs: { p99: 80, max: 300 }, achievedRate: 870, proxyCpuUsPerRequest: 140, errors: 3, firstError: 'status 502' });
  const pooled = poolRuns([a, b]);
  assert.equal(pooled.outsideFreezes?.latency.count, 1975);
  assert.ok((pooled.outsideFreezes?.latency.p99 ?? 0) <= 300);
  assert.ok(pooled.latency.p99 >= 6990, 'all requests: 25 of 2,000 frozen, above 1 %');
  assert.deepEqual([pooled.outsideFreezes?.touched, pooled.outsideFreezes?.freezes, pooled.outsideFreezes?.frozenMs], [25, 2, 16]);
  assert.deepEqual(pooled.sendLagUs, { p99: 80, max: 900 }, "the generator's worst lag");
  assert.equal(pooled.achievedRate, 870, 'a round that fell behind stays visible');
  assert.equal(pooled.proxyCpuUsPerRequest, 120);
  assert.equal(pooled.backendCpuUsPerRequest, 50, 'averaged over the runs that have it');
  assert.equal(pooled.errors, 3);
  assert.equal(pooled.firstError, 'status 502');
});

test('runs without histograms (other tools, results from before) cannot be pooled', () => {
  const { histograms: _, ...bare } = measured(requests(10, 100));
  assert.equal(canPool([bare]), false);
  assert.equal(canPool([]), false);
  assert.throws(() => poolRuns([bare]), /histograms/);
});
