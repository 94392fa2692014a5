import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keepRound, keptRoundIndex, roundOrder } from './rounds.ts';
import { fixed } from './results.testkit.ts';
import type { OpenLoopResult } from './types.ts';

test('rounds go in target order, even rounds in reverse (ABBA), so a linear drift lands on every target alike', () => {
  const targets = ['direct', 'sluice', 'haproxy'];
  assert.deepEqual(roundOrder(targets, 1), ['direct', 'sluice', 'haproxy']);
  assert.deepEqual(roundOrder(targets, 2), ['haproxy', 'sluice', 'direct']);
  assert.deepEqual(roundOrder(targets, 3), ['direct', 'sluice', 'haproxy']);
  // Over rounds 1 and 2 every target's two runs sit at positions summing to the same total.
  const positions = targets.map((t) => roundOrder(targets, 1).indexOf(t) + roundOrder(targets, 2).indexOf(t));
  assert.deepEqual(positions, [2, 2, 2]);
  assert.deepEqual(targets, ['direct', 'sluice', 'haproxy'], 'the list given is not reordered');
  assert.throws(() => roundOrder(targets, 0), /round must be a whole number from 1/);
  assert.throws(() => roundOrder(targets, 1.5), /round must be a whole number from 1/);
});

test('the kept round is the median one; of an even number the higher middle one (of two, the worse)', () => {
  assert.equal(keptRoundIndex([]), -1);
  assert.equal(keptRoundIndex([700]), 0);
  assert.equal(keptRoundIndex([1273, 1510]), 1);
  assert.equal(keptRoundIndex([1510, 1273]), 0);
  assert.equal(keptRoundIndex([900, 300, 600]), 2);
  assert.equal(keptRoundIndex([100, 400, 300, 200]), 2, 'sorted 100 200 300 400: 300, the higher middle');
});

/** A run at 1k/s with the given p99 (µs) and backend CPU per request (the core's speed during it). */
function at(p99: number, backendUs: number, errors = 0): OpenLoopResult {
  return { ...fixed('h1', 1000, p99, errors), backendCpuUsPerRequest: backendUs };
}

test('a round is judged against direct in the same round, not against direct of another moment', () => {
  // Round 1 on a fast core (backend 54 µs/req), round 2 on a core 1.8× slower: everyone slower.
  const direct = [at(400, 54), at(900, 98)];
  const sluice = [at(1000, 54), at(1800, 98)];
  const kept = keepRound(sluice, direct);
  assert.ok(kept !== undefined);
  // Round 1: +600; round 2: +900 — the worse of two is kept, with direct's run of that round beside it.
  assert.equal(kept.round, 2);
  assert.equal(kept.latency.p99, 1800);
  assert.equal(kept.sameRoundDirect?.latency.p99, 900);
  assert.deepEqual(
    kept.rounds?.map((r) => [r.round, r.p99Us, r.p99AddedUs, r.backendCpuUsPerRequest]),
    [
      [1, 1000, 600, 54],
      [2, 1800, 900, 98],
    ],
  );
  // Against direct's round-1 run, round 2 would have read +1,400: the drift, not the proxy.
});

test('with freeze sentinels on both runs of a round, the rounds compare the requests no freeze touched', () => {
  const split = (r: OpenLoopResult, p99: number): OpenLoopResult => ({ ...r, outsideFreezes: { latency: { ...r.latency, p99 }, touched: 10, freezes: 3, frozenMs: 15 } });
  const kept = keepRound([split(at(5000, 50), 1200)], [split(at(4000, 50), 500)]);
  assert.deepEqual(kept?.rounds?.map((r) => [r.p99Us, r.p99AddedUs]), [[1200, 700]]);
  assert.equal(kept?.sameRoundDirect?.outsideFreezes?.latency.p99, 500);
});

test('direct itself: its median round by its own p99, with nothing to compare against', () => {
  const kept = keepRound([at(900, 98), at(400, 54), at(600, 60)]);
  assert.equal(kept?.round, 3);
  assert.equal(kept?.sameRoundDirect, undefined);
  assert.deepEqual(kept?.rounds?.map((r) => r.p99AddedUs), [null, null, null]);
});

test('rounds without a run, or without direct beside them, do not decide; errors of every round are kept', () => {
  // The target failed in round 2 (no run): round 1 is all there is.
  assert.equal(keepRound([at(1000, 54, 2), undefined], [at(400, 54), at(900, 98)])?.round, 1);
  // Direct has no run in round 1: only round 2 compares, so round 2 is kept though round 1 is worse.
  const kept = keepRound([at(3000, 54, 1), at(1000, 54)], [undefined, at(400, 54)]);
  assert.equal(kept?.round, 2);
  assert.deepEqual(kept?.rounds?.map((r) => [r.p99AddedUs, r.errors]), [
    [null, 1],
    [600, 0],
  ]);
  // No run at all: nothing kept.
  assert.equal(keepRound([undefined, undefined], [at(400, 54), at(900, 98)]), undefined);
});
