import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dueCount, requestCount, scheduledAtNs } from './schedule.ts';

test('requests are evenly spaced 1/rate apart', () => {
  assert.equal(scheduledAtNs(0, 1000), 0);
  assert.equal(scheduledAtNs(1, 1000), 1_000_000);
  assert.equal(scheduledAtNs(5, 5000), 1_000_000);
  assert.equal(scheduledAtNs(3, 3), 1e9);
});

test('dueCount counts exactly the requests whose time has come', () => {
  for (const rate of [1, 3, 1000, 5000, 7919, 100_000]) {
    for (const elapsed of [0, 1, 199_999, 200_000, 999_999, 1_000_000, 123_456_789, 2e9]) {
      const due = dueCount(elapsed, rate, Number.MAX_SAFE_INTEGER);
      // Every request before `due` is scheduled at or before `elapsed` (allowing float rounding), the next one after.
      assert.ok(scheduledAtNs(due - 1, rate) <= elapsed + 1e-6, `rate ${rate} elapsed ${elapsed}`);
      assert.ok(scheduledAtNs(due, rate) > elapsed - 1e-6, `rate ${rate} elapsed ${elapsed}`);
    }
  }
});

test('dueCount: nothing before the start, capped at the total', () => {
  assert.equal(dueCount(-5, 1000, 10), 0);
  assert.equal(dueCount(0, 1000, 10), 1);
  assert.equal(dueCount(60e9, 1000, 10), 10);
});

test('requestCount rounds rate × seconds', () => {
  assert.equal(requestCount(1000, 5), 5000);
  assert.equal(requestCount(5000, 0.5), 2500);
  assert.equal(requestCount(3, 0.5), 2);
  assert.equal(requestCount(1000, 0), 0);
});
