// The telemetry store reuses what leaving time slices give back (slots and their latency regions,
// latency-pool.ts) and updates each proxy's records in place: over many minutes of reports, folded and
// trimmed slices, the windows still hold exactly what was reported in them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COUNTS_LENGTH, indexOfMicros, percentilesOfDense } from '../../telemetry/exact-latency.ts';
import { latencyPercentiles } from './keys.ts';
import { TelemetryStore, type StatKey } from './store.ts';
import { queryWindow } from './store-query.ts';
import { ManualClock, syntheticReport } from './testkit.ts';

const byPod = (key: StatKey): string | undefined => (key.scope === 'svc' && key.direction === 'inbound' ? key.pod : undefined);

interface Sent {
  readonly at: number;
  readonly pod: string;
  readonly ok: number;
  readonly latencies: readonly number[];
}

/** What the reports sent at or after `since` add up to, per pod: counts and dense latencies. */
function expected(sent: readonly Sent[], since: number): Map<string, { ok: number; dense: Float64Array }> {
  const out = new Map<string, { ok: number; dense: Float64Array }>();
  for (const s of sent) {
    if (s.at < since) continue;
    let e = out.get(s.pod);
    if (e === undefined) out.set(s.pod, (e = { ok: 0, dense: new Float64Array(COUNTS_LENGTH) }));
    e.ok += s.ok;
    for (const us of s.latencies) e.dense[indexOfMicros(us)] = (e.dense[indexOfMicros(us)] as number) + 1;
  }
  return out;
}

function assertWindow(store: TelemetryStore, sent: readonly Sent[], windowMs: number, now: number): void {
  const quantiles = [0.5, 0.9, 0.99, 1];
  const want = expected(sent, queryWindow(windowMs, now).firstStart);
  const got = store.query(windowMs, byPod, now).groups;
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [pod, e] of want) {
    const agg = got.get(pod);
    assert.equal(agg?.success, e.ok, `${pod} over ${windowMs} ms`);
    assert.deepEqual(latencyPercentiles(agg, quantiles), percentilesOfDense(e.dense, quantiles), `${pod} latencies over ${windowMs} ms`);
  }
}

/** 20 minutes of three pods reporting every 5 s, latencies of a varying spread (regions of many sizes). */
function run(store: TelemetryStore, clock: ManualClock, check: (sent: readonly Sent[]) => void): void {
  const sent: Sent[] = [];
  for (let tick = 0; tick < (20 * 60_000) / 5_000; tick++) {
    for (const pod of ['web-1', 'web-2', 'web-3']) {
      const ok = 1 + ((tick * 7 + pod.length) % 13);
      const latencies = Array.from({ length: ok }, (_, k) => 500 + ((k * 7919 + tick * 104_729) % (2_000 + tick * 900)));
      store.ingest(syntheticReport({ pod, workload: 'deployment/web', requests: [{ ok, latencyUs: latencies }], instance: pod, sequence: tick + 1 }));
      sent.push({ at: clock.now, pod, ok, latencies });
    }
    clock.advance(5_000);
    if (tick % 2 === 1) store.maintain();
    if (tick % 12 === 11) check(sent);
  }
}

describe('TelemetryStore reuse of what leaves', () => {
  it('answers every window exactly while slices are folded into minutes and their slots and latencies reused', () => {
    const clock = new ManualClock();
    clock.advance(2 * 60 * 60_000);
    const store = new TelemetryStore({ now: clock.read });
    store.query(0, byPod); // nothing yet
    run(store, clock, (sent) => {
      for (const windowMs of [10_000, 60_000, 10 * 60_000, 60 * 60_000]) assertWindow(store, sent, windowMs, clock.now);
    });
    assert.equal(store.keyCount, 3);
  });

  it('answers the windows it still holds exactly while trimming to its byte bound reuses the oldest slices', () => {
    const clock = new ManualClock();
    clock.advance(2 * 60 * 60_000);
    const maxBytes = 20_000;
    const store = new TelemetryStore({ now: clock.read, maxBytes });
    run(store, clock, (sent) => {
      assert.ok(store.byteSize <= maxBytes, `${store.byteSize} bytes`);
      // What the store still holds is the last few slices at this bound: a 10-second window is whole.
      assertWindow(store, sent, 10_000, clock.now);
    });
    assert.ok(store.counters.trimmedSlices > 100, String(store.counters.trimmedSlices));
  });
});
