import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'hdr-histogram-js';
import { curve, curvePercentiles, nines, summarize } from './stats.ts';

test('curve percentiles are evenly spaced in nines and stop where samples run out', () => {
  const ps = curvePercentiles(1000, 10, 5);
  assert.equal(ps[0], 0);
  assert.ok(ps.includes(90));
  assert.ok(ps.includes(99));
  assert.ok(ps.includes(99.9));
  assert.ok(!ps.some((p) => p > 99.9));
  for (let i = 1; i < ps.length; i++) {
    const step = nines(ps[i] as number) - nines(ps[i - 1] as number);
    assert.ok(Math.abs(step - 0.1) < 1e-3, `step ${step}`);
  }
  assert.deepEqual(curvePercentiles(0), []);
  assert.equal(curvePercentiles(1e9, 10, 5).at(-1), 99.999);
});

test('nines maps percentiles to log10(1 / (1 − p))', () => {
  assert.equal(nines(0), 0);
  assert.ok(Math.abs(nines(90) - 1) < 1e-9);
  assert.ok(Math.abs(nines(99.9) - 3) < 1e-9);
  assert.equal(nines(100), Infinity);
});

test('summary and curve of a known distribution (µs values 1..10000)', () => {
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 1e8, numberOfSignificantValueDigits: 3 });
  for (let v = 1; v <= 10000; v++) h.recordValue(v);
  const s = summarize(h);
  assert.equal(s.count, 10000);
  assert.ok(Math.abs(s.p50 - 5000) <= 5);
  assert.ok(Math.abs(s.p99 - 9900) <= 10);
  assert.ok(Math.abs(s.p999 - 9990) <= 10);
  assert.ok(Math.abs(s.max - 10000) <= 10);
  const c = curve(h);
  const last = c.at(-1);
  assert.ok(last !== undefined && Math.abs(last[1] - 10000) <= 10);
  for (let i = 1; i < c.length; i++) {
    assert.ok((c[i] as [number, number])[0] > (c[i - 1] as [number, number])[0]);
    assert.ok((c[i] as [number, number])[1] >= (c[i - 1] as [number, number])[1]);
  }
});

test('an empty histogram gives zeros and an empty curve', () => {
  const h = build();
  assert.equal(summarize(h).count, 0);
  assert.deepEqual(curve(h), []);
});
