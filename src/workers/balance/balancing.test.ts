// The pure pieces of outbound balancing: backoff, peak-EWMA, power of two choices, failure accrual.
// Clocks and random numbers are injected: nothing here depends on real time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { backoffDelay } from '../../core/backoff.ts';
import { pickP2c, type Candidate } from './balancer.ts';
import { EndpointSet } from './endpoints.ts';
import { FailureAccrual } from './failure-accrual.ts';
import { DEFAULT_DECAY_MS, DEFAULT_RTT_MS, PeakEwma } from './peak-ewma.ts';

function clock(start = 1000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A random source replaying `values` in a loop. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

describe('backoffDelay', () => {
  const config = { minMs: 1000, maxMs: 60_000, jitter: 0.5 };

  it('doubles from the minimum up to the maximum', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(config, n, 0)), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  });

  it('adds up to jitter × the delay', () => {
    assert.equal(backoffDelay(config, 0, 0.999999), 1500);
    assert.equal(backoffDelay(config, 2, 0.5), 5000);
    assert.equal(backoffDelay(config, 100, 1), 90_000);
  });

  it('stays finite and within [base, base × (1 + jitter)] for any attempt (fast-check)', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(100_000), fc.double({ min: 0, max: 2, noNaN: true }), fc.nat(), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (min, extra, jitter, attempt, random) => {
        const c = { minMs: min, maxMs: min + extra, jitter };
        const delay = backoffDelay(c, attempt, random);
        const base = Math.min(c.maxMs, min * 2 ** Math.min(attempt, 52));
        assert.ok(Number.isFinite(delay));
        assert.ok(delay >= Math.round(base) - 1 && delay <= Math.round(base * (1 + jitter)) + 1);
      }),
    );
  });
});

describe('PeakEwma', () => {
  it('starts at the default RTT (30 ms) with a decay of 10 s', () => {
    const c = clock();
    const ewma = new PeakEwma(c.now);
    assert.equal(DEFAULT_RTT_MS, 30);
    assert.equal(DEFAULT_DECAY_MS, 10_000);
    assert.equal(ewma.estimate(), 30);
  });

  it('jumps to a peak at once and decays back towards smaller samples', () => {
    const c = clock();
    const ewma = new PeakEwma(c.now);
    ewma.observe(200);
    assert.equal(ewma.estimate(), 200);
    c.advance(10_000); // one decay period: e^-1 of the gap remains
    ewma.observe(10);
    assert.ok(Math.abs(ewma.estimate() - (10 + 190 * Math.exp(-1))) < 1e-9);
  });

  it('decays towards 0 without samples, so a once-slow endpoint is tried again', () => {
    const c = clock();
    const ewma = new PeakEwma(c.now);
    ewma.observe(500);
    c.advance(50_000);
    assert.ok(ewma.estimate() < 500 * Math.exp(-4));
  });

  it('counts requests in flight in the cost: estimate × (pending + 1)', () => {
    const c = clock();
    const ewma = new PeakEwma(c.now);
    ewma.observe(40);
    assert.equal(ewma.cost(), 40);
    ewma.pending = 3;
    assert.equal(ewma.cost(), 160);
  });
});

class Fixed implements Candidate {
  readonly name: string;
  readonly load: number;
  readonly up: boolean;
  constructor(name: string, load: number, up = true) {
    this.name = name;
    this.load = load;
    this.up = up;
  }
  available(): boolean {
    return this.up;
  }
  cost(): number {
    return this.load;
  }
}

describe('pickP2c', () => {
  it('returns undefined for no candidates, and the only one when it is available', () => {
    assert.equal(pickP2c([], Math.random), undefined);
    const only = new Fixed('only', 5);
    assert.equal(pickP2c([only], Math.random), only);
    assert.equal(pickP2c([new Fixed('down', 1, false)], Math.random), undefined);
  });

  it('compares two distinct candidates and takes the cheaper', () => {
    const list = [new Fixed('a', 10), new Fixed('b', 1), new Fixed('c', 5)];
    // Draws 0 → a; then 0.99 of the two others → c (b skipped as j ≥ i shifts).
    assert.equal(pickP2c(list, sequence(0, 0.99))?.name, 'c');
    assert.equal(pickP2c(list, sequence(0, 0))?.name, 'b');
    assert.equal(pickP2c(list, sequence(0.99, 0.99))?.name, 'b');
  });

  it('never picks an unavailable candidate while another is available (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ load: fc.nat(1000), up: fc.boolean() }), { minLength: 1, maxLength: 8 }), fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 2, maxLength: 20 }), (specs, draws) => {
        const list = specs.map((s, i) => new Fixed(String(i), s.load, s.up));
        const picked = pickP2c(list, sequence(...draws));
        if (list.some((c) => c.up)) assert.ok(picked?.up === true);
        else assert.equal(picked, undefined);
      }),
    );
  });

  it('never picks the most loaded of several available candidates (fast-check)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(1000), { minLength: 2, maxLength: 8 }), fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 2, maxLength: 2 }), (loads, draws) => {
        const list = loads.map((load, i) => new Fixed(String(i), load));
        const worst = Math.max(...loads);
        assert.notEqual(pickP2c(list, sequence(...draws))?.load, worst);
      }),
    );
  });
});

describe('FailureAccrual (consecutive failures)', () => {
  const config = { maxFailures: 7, minMs: 1000, maxMs: 60_000, jitter: 0.5 };

  it('ejects after 7 failures in a row, not 6; a success in between resets the count', () => {
    const c = clock();
    const accrual = new FailureAccrual(config, c.now, () => 0);
    for (let i = 0; i < 6; i++) accrual.failure();
    assert.equal(accrual.state(), 'ready');
    accrual.success();
    for (let i = 0; i < 6; i++) accrual.failure();
    assert.equal(accrual.state(), 'ready');
    accrual.failure();
    assert.equal(accrual.state(), 'ejected');
    assert.equal(accrual.available(), false);
  });

  it('probes with one request after the penalty; success makes it ready, failure doubles the penalty', () => {
    const c = clock();
    const accrual = new FailureAccrual(config, c.now, () => 0);
    for (let i = 0; i < 7; i++) accrual.failure();
    c.advance(999);
    assert.equal(accrual.state(), 'ejected');
    c.advance(1);
    assert.equal(accrual.state(), 'probing');
    assert.equal(accrual.available(), true);
    accrual.dispatched();
    assert.equal(accrual.available(), false, 'one probe at a time');
    accrual.failure();
    assert.equal(accrual.state(), 'ejected');
    c.advance(1999);
    assert.equal(accrual.state(), 'ejected');
    c.advance(1);
    accrual.dispatched();
    accrual.success();
    assert.equal(accrual.state(), 'ready');
    // The penalty starts over after a recovery.
    for (let i = 0; i < 7; i++) accrual.failure();
    c.advance(1000);
    assert.equal(accrual.state(), 'probing');
  });

  it('caps the penalty at 60 s plus jitter', () => {
    const c = clock();
    const accrual = new FailureAccrual(config, c.now, () => 0.999);
    for (let i = 0; i < 7; i++) accrual.failure();
    for (let round = 0; round < 12; round++) {
      c.advance(200_000);
      accrual.dispatched();
      accrual.failure();
    }
    c.advance(89_000);
    assert.equal(accrual.state(), 'ejected');
    c.advance(1_000);
    assert.equal(accrual.state(), 'probing');
  });

  it('a withdrawn request (shed by the proxy, never sent) is no outcome; a withdrawn probe frees the probe slot', () => {
    const c = clock();
    const accrual = new FailureAccrual(config, c.now, () => 0);
    for (let i = 0; i < 6; i++) accrual.failure();
    for (let i = 0; i < 100; i++) {
      accrual.dispatched();
      accrual.withdrawn();
    }
    assert.equal(accrual.state(), 'ready', 'withdrawals neither eject nor reset the count');
    accrual.failure();
    assert.equal(accrual.state(), 'ejected', 'the 7th failure in a row still ejects');
    c.advance(1000);
    accrual.dispatched();
    assert.equal(accrual.available(), false);
    accrual.withdrawn();
    assert.equal(accrual.state(), 'probing', 'still to be probed');
    assert.equal(accrual.available(), true, 'the next request may probe');
  });

  it('with maxFailures 0 never ejects', () => {
    const accrual = new FailureAccrual({ ...config, maxFailures: 0 }, clock().now);
    for (let i = 0; i < 100; i++) accrual.failure();
    assert.equal(accrual.state(), 'ready');
  });
});

describe('EndpointSet', () => {
  const accrual = { maxFailures: 7, minMs: 1000, maxMs: 60_000, jitter: 0 };

  it('keeps an endpoint that stays (and what was learnt about it), and reports the ones that left', () => {
    const set = new EndpointSet(accrual, clock().now, () => 0);
    set.update([{ host: '10.0.0.1', port: 80, labels: { pod: 'a' } }, { host: '10.0.0.2', port: 80, labels: {} }]);
    const first = set.endpoints[0];
    first?.ewma.observe(123);
    const removed = set.update([{ host: '10.0.0.1', port: 80, labels: { pod: 'a2' } }, { host: '10.0.0.3', port: 80, labels: {} }]);
    assert.equal(set.endpoints[0], first);
    assert.equal(first?.ewma.estimate(), 123);
    assert.equal(first?.dstLabels, 'dst_pod="a2"');
    assert.deepEqual(removed.map((e) => e.key), ['10.0.0.2:80']);
    assert.equal(removed[0]?.removed, true);
    assert.deepEqual(set.endpoints.map((e) => e.key), ['10.0.0.1:80', '10.0.0.3:80']);
  });

  it('ignores an address listed twice', () => {
    const set = new EndpointSet(accrual, clock().now);
    set.update([{ host: '10.0.0.1', port: 80, labels: {} }, { host: '10.0.0.1', port: 80, labels: {} }]);
    assert.equal(set.endpoints.length, 1);
  });

  it('an endpoint whose requests are withdrawn keeps its latency estimate and load, and stays available', () => {
    const set = new EndpointSet(accrual, clock().now, () => 0);
    set.update([{ host: '10.0.0.1', port: 80, labels: {} }]);
    const only = set.endpoints[0];
    only?.ewma.observe(200);
    for (let i = 0; i < 20; i++) {
      only?.dispatched();
      only?.withdrawn();
    }
    assert.equal(only?.ewma.estimate(), 200, 'no latency observed for a request never sent');
    assert.equal(only?.ewma.pending, 0);
    assert.equal(set.pick(), only);
  });

  it('says no_endpoints for an empty set and fail_fast when every endpoint is ejected', () => {
    const c = clock();
    const set = new EndpointSet(accrual, c.now, () => 0);
    assert.equal(set.pick(), 'no_endpoints');
    set.update([{ host: '10.0.0.1', port: 80, labels: {} }]);
    const only = set.endpoints[0];
    for (let i = 0; i < 7; i++) only?.outcome(true);
    assert.equal(set.pick(), 'fail_fast');
    c.advance(1000);
    assert.equal(set.pick(), only, 'probed after the penalty');
  });
});
