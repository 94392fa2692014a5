// The sparklines' history: one sample per row per round, rates over the row's window, samples older
// than the span dropped, and a bound on how many resources are followed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StatRow, StatSummaryResponse } from '../../api/public-messages.ts';
import { sampleOf, StatHistory } from './history.ts';

function row(name: string, success: number, failure: number, seconds = 10): StatRow {
  return {
    resource: { namespace: 'emojivoto', type: 'deployment', name },
    window_seconds: seconds,
    stats: { success_count: success, failure_count: failure, latency_ms_p50: 2, latency_ms_p95: 9, latency_ms_p99: 30 },
  } as StatRow;
}

function answer(...rows: StatRow[]): StatSummaryResponse {
  return { ok: { stat_tables: [{ pod_group: { rows } }] } };
}

describe('StatHistory', () => {
  it('turns a row into rates over the seconds its window covered', () => {
    assert.deepEqual(sampleOf(row('web', 95, 5, 10), 1000), { t: 1000, rps: 10, success: 0.95, p50Ms: 2, p95Ms: 9, p99Ms: 30 });
    const quiet = sampleOf({ resource: { namespace: 'emojivoto', type: 'deployment', name: 'web' } } as StatRow, 1000);
    assert.deepEqual(quiet, { t: 1000, rps: null, success: null, p50Ms: null, p95Ms: null, p99Ms: null });
  });

  it('keeps one series per resource, oldest sample first, filtered by key', () => {
    const history = new StatHistory(10_000, 60_000);
    history.record(0, [answer(row('web', 10, 0), row('emoji', 5, 5))]);
    history.record(10_000, [answer(row('web', 20, 0))]);
    const web = history.query((key) => key === 'deployment/emojivoto/web');
    assert.deepEqual(Object.keys(web.series), ['deployment/emojivoto/web']);
    assert.deepEqual(web.series['deployment/emojivoto/web']?.t, [0, 10_000]);
    assert.deepEqual(web.series['deployment/emojivoto/web']?.rps, [1, 2]);
    assert.deepEqual(history.query(() => true).series['deployment/emojivoto/emoji']?.success, [0.5]);
  });

  it('forgets samples older than the span, and resources with none left', () => {
    const history = new StatHistory(10_000, 30_000);
    history.record(0, [answer(row('web', 10, 0), row('emoji', 10, 0))]);
    for (let t = 10_000; t <= 40_000; t += 10_000) history.record(t, [answer(row('web', 10, 0))]);
    const series = history.query(() => true).series;
    assert.deepEqual(series['deployment/emojivoto/web']?.t, [20_000, 30_000, 40_000]);
    assert.equal(series['deployment/emojivoto/emoji'], undefined);
  });

  it('follows at most maxSeries resources, dropping the ones not seen longest', () => {
    const history = new StatHistory(10_000, 600_000, 2);
    history.record(0, [answer(row('a', 1, 0), row('b', 1, 0))]);
    history.record(10_000, [answer(row('a', 1, 0), row('c', 1, 0))]);
    assert.equal(history.size, 2);
    assert.deepEqual(Object.keys(history.query(() => true).series).sort(), ['deployment/emojivoto/a', 'deployment/emojivoto/c']);
  });
});
