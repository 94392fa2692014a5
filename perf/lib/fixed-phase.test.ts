import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from './args.ts';
import { p99Added } from './checks.ts';
import { fixedPhase } from './fixed-phase.ts';
import type { RunOnce } from './fixed-phase.ts';
import type { Started } from './procs.ts';
import { fixed } from './results.testkit.ts';
import type { Bench } from './run-context.ts';
import type { Prepared } from './target-run.ts';
import type { Target } from '../targets.ts';

// The phase's bookkeeping without processes: the runs are stand-ins that record their order and return
// the p99 the test gives each target and round.

function bench(args: string[]): Bench & { lines: string[] } {
  const lines: string[] = [];
  return { o: parseArgs(args), root: '/nonexistent', scratch: '/nonexistent', log: (l) => lines.push(l), overBudget: () => false, lines };
}

function prepared(name: string): Prepared & { stops: number } {
  const target: Target = { name, description: name, protocols: ['h1'], unavailable: () => null, start: () => Promise.reject(new Error('not in this test')) };
  const p = {
    target,
    result: { target: name, protocol: 'h1' as const, ok: false, memory: [], fixed: [], notes: [] },
    tag: `h1 · ${name}`,
    dir: '/nonexistent',
    running: {
      port: 1,
      proxies: [],
      notes: [],
      stop: async () => {
        p.stops++;
      },
    },
    stopped: false,
    idle: [],
    idleSettled: undefined,
    afterSat: [],
    stops: 0,
  };
  return p;
}

const backend = {} as Started;

test('each rate runs its rounds over every target, even rounds in reverse, and keeps a round judged against direct in the same round', async () => {
  const b = bench(['--rates', '1000', '--rounds', '2']);
  const targets = [prepared('direct'), prepared('sluice'), prepared('haproxy')];
  // p99 by target and round: the core is slower in round 2, for direct too.
  const p99: Record<string, number[]> = { direct: [400, 900], sluice: [1000, 1600], haproxy: [500, 1300] };
  const order: string[] = [];
  const seen = new Map<string, number>();
  const runOnce: RunOnce = async (_b, _p, t, _be, rate, _d, tag) => {
    const name = tag.replace('h1 · ', '');
    order.push(name);
    const n = seen.get(name) ?? 0;
    seen.set(name, n + 1);
    assert.equal(t.port, 1);
    return { r: fixed('h1', rate, p99[name]?.[n] ?? 0), foreign: 0 };
  };
  await fixedPhase(b, 'h1', backend, targets, runOnce);
  assert.deepEqual(order, ['direct', 'sluice', 'haproxy', 'haproxy', 'sluice', 'direct']);
  const runs = targets.map((t) => ({ ...t.result, ok: true }));
  // sluice: rounds +600 / +700 → round 2 kept; haproxy: +100 / +400 → round 2 kept.
  assert.deepEqual(
    runs.map((r) => [r.target, r.fixed[0]?.round, r.fixed[0]?.rounds?.map((x) => x.p99AddedUs)]),
    [
      ['direct', 2, [null, null]],
      ['sluice', 2, [600, 700]],
      ['haproxy', 2, [100, 400]],
    ],
  );
  assert.equal(p99Added(runs, 'sluice', 'h1', 1000), 700);
  assert.ok(b.lines.includes('h1 · sluice: @1k/s round 2/2 p50 800 µs, p99 1,600 µs, p99.9 3,200 µs, max 4,800 µs, achieved 1,000/s, errors 0, send lag p99 10 µs'), b.lines.join('\n'));
  assert.ok(b.lines.includes('h1 · sluice: @1k/s rounds p99 added +600 / +700 µs (backend – / – µs/req): round 2 kept'), b.lines.join('\n'));
  assert.deepEqual(
    targets.map((t) => t.stops),
    [0, 0, 0],
    'the targets are left running for the memory readings after the phase',
  );
});

test('a target that fails in a round is stopped, leaves the later rounds and rates, and the others go on', async () => {
  const b = bench(['--rates', '1000,5000', '--rounds', '2']);
  const targets = [prepared('direct'), prepared('sluice'), prepared('haproxy')];
  const order: string[] = [];
  const runOnce: RunOnce = async (_b, _p, _t, _be, rate, _d, tag) => {
    const name = tag.replace('h1 · ', '');
    order.push(`${name}@${rate}`);
    if (name === 'sluice' && order.filter((o) => o.startsWith('sluice')).length === 2) throw new Error('open-loop generator exited with 1: boom');
    return { r: fixed('h1', rate, name === 'direct' ? 400 : 900), foreign: 0 };
  };
  await fixedPhase(b, 'h1', backend, targets, runOnce);
  assert.deepEqual(order, ['direct@1000', 'sluice@1000', 'haproxy@1000', 'haproxy@1000', 'sluice@1000', 'direct@1000', 'direct@5000', 'haproxy@5000', 'haproxy@5000', 'direct@5000']);
  const [, sluice, haproxy] = targets;
  assert.equal(sluice?.stops, 1);
  assert.equal(sluice?.stopped, true);
  assert.equal(sluice?.result.ok, false);
  assert.match(sluice?.result.error ?? '', /boom/);
  assert.deepEqual(sluice?.result.fixed, [], 'a failed target keeps no fixed-rate figures');
  assert.equal(haproxy?.result.fixed.length, 2);
  assert.ok(b.lines.some((l) => l.startsWith('h1 · sluice: FAILED: open-loop generator exited with 1: boom')));
});

test('notes name the round of a disturbed or late run, and of errors', async () => {
  const b = bench(['--rates', '1000', '--rounds', '2']);
  const targets = [prepared('direct'), prepared('sluice')];
  let n = 0;
  const runOnce: RunOnce = async (_b, _p, _t, _be, rate, _d, tag) => {
    n++;
    const r = fixed('h1', rate, 500, tag.endsWith('sluice') && n === 2 ? 3 : 0);
    if (tag.endsWith('sluice') && n === 2) r.firstError = 'status 502';
    if (tag.endsWith('sluice') && n === 3) r.sendLagUs = { p99: 5000, max: 9000 };
    return { r, foreign: tag.endsWith('direct') && n === 4 ? 0.6 : 0 };
  };
  await fixedPhase(b, 'h1', backend, targets, runOnce);
  const [direct, sluice] = targets;
  assert.deepEqual(sluice?.result.notes, ['at 1k/s (round 1): 3 errors, first: status 502', 'at 1k/s (round 2) the generator itself sent late (send lag p99 5,000 µs)']);
  assert.deepEqual(direct?.result.notes, ['other processes used 0.60 cores during the 1k/s (round 2) run: figures may be disturbed']);
  assert.deepEqual(sluice?.result.fixed[0]?.rounds?.map((r) => r.errors), [3, 0]);
});
