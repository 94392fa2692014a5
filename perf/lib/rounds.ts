// The fixed-rate phase runs in rounds: at each rate, every running target (direct included) gets one
// open-loop run per round, and p99 added is taken against direct's run of the same round. The core's
// speed drifts by ~1.7× for minutes at a time on these VMs (docs/performance.md), so a target measured
// minutes after direct would be compared on a different machine. This module holds the pure parts: the
// order of each round, and how a target's rounds become the one result its checks read — pooled
// (lib/pooled-runs.ts), or, for runs without the generator's histograms, the median round kept.
import { p99AddedOver } from './checks.ts';
import { canPool, poolRuns } from './pooled-runs.ts';
import type { OpenLoopResult, P99Sides, RoundFigures } from './types.ts';

/**
 * The order of round `round` (1-based): the targets' order on odd rounds, reversed on even ones
 * (A B C, C B A, …), so a drift of the core that is linear over the phase lands on every target alike
 * over two rounds instead of always on the last ones.
 */
export function roundOrder<T>(targets: readonly T[], round: number): T[] {
  if (!Number.isInteger(round) || round < 1) throw new Error(`round must be a whole number from 1, got ${round}`);
  return round % 2 === 0 ? [...targets].reverse() : [...targets];
}

/**
 * Index of the round to keep, given each round's score (p99 added, µs; higher is worse): the median
 * round, and with an even number of rounds the higher of the two middle ones — with two rounds the worse
 * one, so that keeping a round never flatters a target. -1 for no rounds.
 */
export function keptRoundIndex(scores: readonly number[]): number {
  if (scores.length === 0) return -1;
  const ranked = scores.map((score, index) => ({ index, score })).sort((a, b) => a.score - b.score || a.index - b.index);
  return (ranked[Math.floor(ranked.length / 2)] as { index: number }).index;
}

/** The p99 the comparison uses for a run of its own: outside core freezes when the sentinels split it. */
function ownP99(r: OpenLoopResult): number {
  return r.outsideFreezes?.latency.p99 ?? r.latency.p99;
}

/** Each round's figures: undefined where the target has no run. */
function roundFigures(target: ReadonlyArray<OpenLoopResult | undefined>, direct?: ReadonlyArray<OpenLoopResult | undefined>): Array<RoundFigures | undefined> {
  return target.map((r, i) => {
    if (r === undefined) return undefined;
    const d = direct?.[i];
    return {
      round: i + 1,
      p99Us: ownP99(r),
      p99AddedUs: d === undefined ? null : p99AddedOver(r, d),
      errors: r.errors,
      backendCpuUsPerRequest: r.backendCpuUsPerRequest,
    };
  });
}

/** The figures direct's side of a comparison keeps. */
function p99Sides(d: OpenLoopResult): P99Sides {
  return { latency: d.latency, ...(d.outsideFreezes === undefined ? {} : { outsideFreezes: { latency: d.outsideFreezes.latency } }) };
}

/**
 * One target's runs at one rate, one entry per round (undefined where it has no run), and direct's runs
 * of the same rounds (undefined for direct itself, or where direct has none) → one result for the
 * checks, with every round's figures beside it; undefined when the target has no run at all.
 *
 * Pooled: the target's runs of the rounds where direct also ran (all its runs if direct ran in none),
 * as one distribution, against direct's runs of the same rounds, pooled alike (`sameRoundDirect`,
 * `pooledRounds`). The errors of every round count. Runs without the generator's histograms (results
 * of other tools, the tests' stand-ins) fall back to keeping the median round (`keepRound`).
 */
export function combineRounds(target: ReadonlyArray<OpenLoopResult | undefined>, direct?: ReadonlyArray<OpenLoopResult | undefined>): OpenLoopResult | undefined {
  const ran = target.flatMap((r, i) => (r === undefined ? [] : [i]));
  if (ran.length === 0) return undefined;
  const beside = ran.filter((i) => direct?.[i] !== undefined);
  const pooledIndexes = beside.length > 0 ? beside : ran;
  const runs = pooledIndexes.map((i) => target[i] as OpenLoopResult);
  const directRuns = beside.map((i) => direct?.[i] as OpenLoopResult);
  if (!canPool(runs) || (directRuns.length > 0 && !canPool(directRuns))) return keepRound(target, direct);
  const figures = roundFigures(target, direct);
  const pooled = poolRuns(runs);
  pooled.errors = ran.reduce((a, i) => a + (target[i] as OpenLoopResult).errors, 0);
  pooled.pooledRounds = pooledIndexes.map((i) => i + 1);
  pooled.rounds = figures.filter((f): f is RoundFigures => f !== undefined);
  if (directRuns.length > 0) pooled.sameRoundDirect = p99Sides(poolRuns(directRuns));
  return pooled;
}

/**
 * The median round kept (see keptRoundIndex), marked with its round, every round's figures and direct's
 * run beside it. Rounds are scored by p99 added over direct's run of the same round, among the rounds
 * that can be compared; where none can (no direct run, or no answers), by the target's own p99.
 */
export function keepRound(target: ReadonlyArray<OpenLoopResult | undefined>, direct?: ReadonlyArray<OpenLoopResult | undefined>): OpenLoopResult | undefined {
  const figures = roundFigures(target, direct);
  const ran = figures.flatMap((f, i) => (f === undefined ? [] : [{ f, i }]));
  if (ran.length === 0) return undefined;
  const comparable = ran.filter((x) => x.f.p99AddedUs !== null);
  const pool = comparable.length > 0 ? comparable : ran;
  const pick = keptRoundIndex(pool.map((x) => (comparable.length > 0 ? (x.f.p99AddedUs ?? 0) : x.f.p99Us)));
  const kept = pool[pick] as { f: RoundFigures; i: number };
  const run = target[kept.i] as OpenLoopResult;
  const d = direct?.[kept.i];
  const { histograms: _dropped, ...rest } = run;
  return {
    ...rest,
    round: kept.i + 1,
    rounds: ran.map((x) => x.f),
    ...(d === undefined ? {} : { sameRoundDirect: p99Sides(d) }),
  };
}
