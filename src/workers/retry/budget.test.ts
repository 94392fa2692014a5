// Linkerd's retry budget with an injected clock: deposits per request × ratio, a floor of
// min_retries_per_second × ttl, and a window that forgets after ttl.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RetryBudget } from './budget.ts';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 5_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function drain(budget: RetryBudget): number {
  let n = 0;
  while (budget.withdraw()) n++;
  return n;
}

describe('RetryBudget', () => {
  it('allows min_retries_per_second × ttl retries with no traffic at all', () => {
    const c = clock();
    assert.equal(drain(new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 }, c.now)), 100);
    assert.equal(drain(new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 0, ttlMs: 10_000 }, c.now)), 0);
  });

  it('adds retry_ratio of a retry per original request', () => {
    const c = clock();
    const budget = new RetryBudget({ retryRatio: 0.2, minRetriesPerSecond: 0, ttlMs: 10_000 }, c.now);
    for (let i = 0; i < 50; i++) budget.deposit();
    assert.equal(budget.available(), 10);
    assert.equal(drain(budget), 10);
    assert.equal(budget.withdraw(), false);
  });

  it('forgets deposits and withdrawals older than the ttl', () => {
    const c = clock();
    const budget = new RetryBudget({ retryRatio: 0.5, minRetriesPerSecond: 1, ttlMs: 10_000 }, c.now);
    for (let i = 0; i < 20; i++) budget.deposit();
    assert.equal(drain(budget), 20); // 10 earned + 10 floor
    c.advance(5_000);
    assert.equal(budget.withdraw(), false, 'still spent halfway through the window');
    c.advance(6_000);
    assert.equal(drain(budget), 10, 'the floor again once the window has moved on');
  });

  it('clamps the ttl to Linkerd’s 1 s … 60 s', () => {
    const c = clock();
    assert.equal(new RetryBudget({ retryRatio: 0, minRetriesPerSecond: 1, ttlMs: 0 }, c.now).config.ttlMs, 1000);
    assert.equal(new RetryBudget({ retryRatio: 0, minRetriesPerSecond: 1, ttlMs: 3_600_000 }, c.now).config.ttlMs, 60_000);
  });

  it('never allows more than deposits × ratio + floor within one ttl window (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(20),
        fc.array(fc.record({ op: fc.constantFrom('deposit', 'withdraw', 'wait'), ms: fc.nat(3000) }), { maxLength: 200 }),
        (ratio, floor, ops) => {
          const c = clock();
          const ttlMs = 10_000;
          const budget = new RetryBudget({ retryRatio: ratio, minRetriesPerSecond: floor, ttlMs }, c.now);
          const log: Array<{ t: number; kind: 'd' | 'w' }> = [];
          for (const { op, ms } of ops) {
            if (op === 'wait') c.advance(ms);
            else if (op === 'deposit') {
              budget.deposit();
              log.push({ t: c.now(), kind: 'd' });
            } else if (budget.withdraw()) {
              log.push({ t: c.now(), kind: 'w' });
              // Everything that can count at this moment lies within the last ttl (plus a slot).
              const since = c.now() - ttlMs - ttlMs / 10;
              const recent = log.filter((e) => e.t > since);
              const withdrawn = recent.filter((e) => e.kind === 'w').length;
              const deposited = recent.filter((e) => e.kind === 'd').length;
              assert.ok(withdrawn <= deposited * ratio + floor * (ttlMs / 1000) + 1e-6, `${withdrawn} > ${deposited} × ${ratio} + ${floor * 10}`);
            }
          }
        },
      ),
    );
  });
});
