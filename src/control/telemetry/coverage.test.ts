// Rates from the embedded store are counts over the time the counts cover: a steady proxy's rate reads
// the same at every moment of its report cycle and of the slot grid, where the window's wall-clock
// seconds alone are off by up to one report interval (±8 % of a minute at 5 s).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProxyCoverage } from './coverage.ts';
import { rateSeconds, type KeyClasses, type StatKey } from './keys.ts';
import { TelemetryStore } from './store.ts';
import { ManualClock, syntheticReport } from './testkit.ts';

const INTERVAL = 5_000;
const byPod = (key: StatKey): string | undefined => (key.scope === 'svc' && key.direction === 'inbound' ? key.pod : undefined);
const byWorkload = (key: StatKey): string | undefined => (key.scope === 'svc' && key.direction === 'inbound' ? key.workload : undefined);
/** As `stat deploy` asks: the store answers from its per-workload rollups. */
const ROLLUPS: KeyClasses = { directions: ['inbound'], scopes: ['svc'], byWorkload: true };

interface Pod {
  readonly name: string;
  readonly rps: number;
  /** Milliseconds into the report cycle at which this proxy reports. */
  readonly phase: number;
}

/** A store fed by `pods`, each reporting its steady rate every 5 s, from `from` to `until` (ms after the start). */
function meshReporting(pods: readonly Pod[], from: number, until: number) {
  const clock = new ManualClock();
  const store = new TelemetryStore({ now: clock.read });
  clock.advance(2 * 60 * 60_000);
  const start = clock.now;
  const events = pods
    .flatMap((pod) => {
      const times: Array<{ at: number; pod: Pod }> = [];
      for (let at = from + pod.phase; at <= until; at += INTERVAL) times.push({ at, pod });
      return times;
    })
    .sort((a, b) => a.at - b.at);
  let next = 0;
  /** Moves the clock to `ms` after the start, delivering every report due by then. */
  const runTo = (ms: number): void => {
    for (; next < events.length && (events[next]?.at as number) <= ms; next++) {
      const { at, pod } = events[next] as { at: number; pod: Pod };
      clock.now = start + at;
      store.ingest(syntheticReport({ pod: pod.name, workload: 'deployment/web', requests: [{ ok: (pod.rps * INTERVAL) / 1000 }], intervalMs: INTERVAL }));
    }
    clock.now = start + ms;
  };
  return { store, runTo };
}

/** The rate of `group` as `stat` reads it (corrected) and as the window's seconds alone would give it. */
function rates(store: TelemetryStore, group: string, groupOf: (key: StatKey) => string | undefined, only?: KeyClasses): { corrected: number; uncorrected: number } {
  const result = store.query(60_000, groupOf, undefined, only);
  const agg = result.groups.get(group);
  assert.ok(agg !== undefined, `${group} has counts`);
  return { corrected: agg.requests / rateSeconds(agg, result.seconds), uncorrected: agg.requests / result.seconds };
}

describe('rates over the time reports cover', () => {
  it("a steady proxy's rate reads true at every moment of the report cycle and the slot grid", () => {
    const { store, runTo } = meshReporting([{ name: 'web-1', rps: 10, phase: 1_234 }], 0, 300_000);
    let worstUncorrected = 0;
    // Every 250 ms over 20 s: two slot widths and four report intervals.
    for (let t = 180_000; t < 200_000; t += 250) {
      runTo(t);
      const { corrected, uncorrected } = rates(store, 'web-1', byPod);
      assert.ok(Math.abs(corrected - 10) < 0.01, `at ${t} ms: ${corrected} req/s, not 10`);
      worstUncorrected = Math.max(worstUncorrected, Math.abs(uncorrected - 10) / 10);
    }
    // The control: without the correction the same queries are several percent off at some moments.
    assert.ok(worstUncorrected > 0.05, `uncorrected worst ${worstUncorrected}`);
  });

  it("a workload's rollup rate is the sum of its proxies' rates, whatever their phases", () => {
    const pods: Pod[] = [
      { name: 'web-1', rps: 10, phase: 300 },
      { name: 'web-2', rps: 20, phase: 2_900 },
      { name: 'web-3', rps: 5, phase: 4_700 },
    ];
    const { store, runTo } = meshReporting(pods, 0, 300_000);
    for (let t = 180_000; t < 200_000; t += 500) {
      runTo(t);
      const { corrected } = rates(store, 'deployment/web', byWorkload, ROLLUPS);
      assert.ok(Math.abs(corrected - 35) < 0.01, `at ${t} ms: ${corrected} req/s, not 35`);
    }
  });

  it('a proxy that started within the window counts from its first report, not from the window start', () => {
    // Reporting from 150 s on: at 180 s a minute's window holds 30 s of its traffic (from 145 s, when its first report began).
    const { store, runTo } = meshReporting([{ name: 'web-1', rps: 10, phase: 0 }], 150_000, 300_000);
    runTo(180_000);
    const result = store.query(60_000, byPod);
    const agg = result.groups.get('web-1');
    assert.ok(agg !== undefined);
    assert.equal(agg.requests, 350, 'seven reports of 50');
    // 350 requests over the whole window: the rate averaged over the minute, as Prometheus's rate() gives.
    const rate = agg.requests / rateSeconds(agg, result.seconds);
    assert.ok(Math.abs(rate - 350 / result.seconds) < 0.01, `${rate} req/s over ${result.seconds} s`);
  });

  it('a proxy that fell silent is not extrapolated past its last report', () => {
    const { store, runTo } = meshReporting([{ name: 'web-1', rps: 10, phase: 0 }], 0, 150_000);
    runTo(175_000);
    const result = store.query(60_000, byPod);
    const agg = result.groups.get('web-1');
    assert.ok(agg !== undefined);
    // It served 10 req/s until 150 s and nothing since: averaged over the window, 10 × its seconds in it.
    const rate = agg.requests / rateSeconds(agg, result.seconds);
    const windowStart = 175 - result.seconds;
    const expected = (10 * (150 - windowStart)) / result.seconds;
    assert.ok(Math.abs(rate - expected) < 0.01, `${rate} req/s, expected ${expected}`);
    assert.ok(agg.requests / result.seconds > expected, 'its reports cover more than its time in the window: uncorrected reads high');
  });
});

describe('ProxyCoverage', () => {
  const window = (stamp: number, start: number, now: number) => ({ stamp, start, now, fineFirst: Math.floor(start / 10_000), fineLast: Math.floor(now / 10_000) });

  it('sums the time covered by reports that arrived in the window’s slots', () => {
    const coverage = new ProxyCoverage();
    for (let at = 1_000; at <= 61_000; at += 5_000) coverage.add(at, 5_000, 5_000);
    assert.equal(coverage.covered(0, 6), 13 * 5_000);
    assert.equal(coverage.covered(2, 6), 9 * 5_000, 'arrivals at 21..61 s');
  });

  it('bounds its factor to [0.5, 2], and is 1 with nothing covered', () => {
    const sparse = new ProxyCoverage();
    sparse.add(59_000, 1_000, 5_000);
    assert.equal(sparse.factor(window(1, 0, 60_000)), 2, '1 s covered of 60 s live');
    assert.equal(new ProxyCoverage().factor(window(1, 0, 60_000)), 1);
  });

  it('works its factor out once per query stamp', () => {
    const coverage = new ProxyCoverage();
    coverage.add(55_000, 5_000, 5_000);
    const first = coverage.factor(window(7, 50_000, 57_000));
    coverage.add(60_000, 5_000, 5_000);
    assert.equal(coverage.factor(window(7, 50_000, 61_000)), first, 'same stamp, same answer');
    assert.notEqual(coverage.factor(window(8, 50_000, 61_000)), first);
  });
});
