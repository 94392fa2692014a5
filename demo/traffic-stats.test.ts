// The generator's bookkeeping: windows, success rates, and what each deployment should count.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrafficStats, percentile, type Outcome } from './traffic-stats.ts';

const at = (s: number): number => 1_000_000 + s * 1000;
// Outcomes land mid-second: a window covers (now - window, now].
const mid = (s: number): number => s + 0.5;
const ok = (s: number, route: Outcome['route'], latencyMs = 5): Outcome => ({ at: at(s), route, status: 200, latencyMs, blamed: undefined });

test('percentile picks the nearest rank', () => {
  assert.equal(percentile([], 0.5), undefined);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.99), 4);
});

test('one cycle of the mix: web, emoji and voting counts and success rates', () => {
  const stats = new TrafficStats(at(0));
  for (let s = 0; s < 10; s++) {
    stats.record(ok(mid(s), 'GET /api/list'));
    stats.record(ok(mid(s), 'GET /api/leaderboard'));
    stats.record(ok(mid(s), 'GET /api/vote (other emojis)'));
    // A doughnut vote that voting refused: web answers 500 and names voting.
    stats.record({ at: at(mid(s)), route: 'GET /api/vote :doughnut:', status: 500, latencyMs: 9, blamed: 'voting' });
  }
  const report = stats.report(at(10), 60_000);
  assert.equal(report.windowSeconds, 10);
  assert.equal(report.deployments.web.requests, 40);
  assert.equal(report.deployments.web.successRate, 0.75);
  assert.equal(report.deployments.web.rps, 4);
  assert.equal(report.deployments.emoji.requests, 40);
  assert.equal(report.deployments.emoji.successRate, 1);
  assert.equal(report.deployments.voting.requests, 30);
  assert.equal(report.deployments.voting.successRate, 20 / 30);
  assert.equal(report.routes['GET /api/vote :doughnut:'].successRate, 0);
  assert.equal(report.routes['GET /api/list'].p50Ms, 5);
});

test('a call the mesh failed (503) is not counted for the service it never reached', () => {
  const stats = new TrafficStats(at(0));
  stats.record({ at: at(1), route: 'GET /api/vote (other emojis)', status: 503, latencyMs: 1, blamed: 'emoji' });
  stats.record({ at: at(1), route: 'GET /api/vote (other emojis)', status: 503, latencyMs: 1, blamed: 'voting' });
  stats.record({ at: at(1), route: 'GET /api/leaderboard', status: 503, latencyMs: 1, blamed: 'voting' });
  stats.record({ at: at(1), route: 'GET /api/list', status: 0, latencyMs: 1, blamed: undefined });
  const report = stats.report(at(2), 60_000);
  assert.equal(report.deployments.web.requests, 4);
  assert.equal(report.deployments.web.successRate, 0);
  // Only the second vote reached emoji (FindByShortcode answered before voting failed).
  assert.equal(report.deployments.emoji.requests, 1);
  assert.equal(report.deployments.emoji.successRate, 1);
  assert.equal(report.deployments.voting.requests, 0);
});

test('the window only covers recent outcomes', () => {
  const stats = new TrafficStats(at(0));
  for (let s = 0; s < 120; s++) stats.record(ok(mid(s), 'GET /api/list'));
  const report = stats.report(at(120), 60_000);
  assert.equal(report.windowSeconds, 60);
  assert.equal(report.deployments.web.requests, 60);
  assert.equal(report.deployments.web.rps, 1);
  assert.equal(stats.totals.get('GET /api/list')?.requests, 120);
});
