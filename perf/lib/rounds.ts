// The fixed-rate phase runs in rounds: at each rate, every running target (direct included) gets one
// open-loop run per round, and p99 added is taken against direct's run of the same round. The core's
// speed drifts by ~1.7× for minutes at a time on these VMs (docs/performance.md), so a target measured
// minutes after direct would be compared on a different machine. This module holds the pure parts: the
// order of each round, and which round's run is kept.
import { p99AddedOver } from './checks.ts';
import type { OpenLoopResult, RoundFigures } from './types.ts';

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

/**
 * One target's runs at one rate, one entry per round (undefined where it has no run: it failed, or had
 * not started), and direct's runs of the same rounds (undefined for direct itself, or where direct has
 * none) → the kept run, marked with its round, every round's figures and direct's run beside it; or
 * undefined when the target has no run at all. Rounds are scored by p99 added over direct's run of the
 * same round, among the rounds that can be compared; where none can (no direct run, or no answers), by
 * the target's own p99.
 */
export function keepRound(target: ReadonlyArray<OpenLoopResult | undefined>, direct?: ReadonlyArray<OpenLoopResult | undefined>): OpenLoopResult | undefined {
  const figures: Array<RoundFigures | undefined> = target.map((r, i) => {
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
  const ran = figures.flatMap((f, i) => (f === undefined ? [] : [{ f, i }]));
  if (ran.length === 0) return undefined;
  const comparable = ran.filter((x) => x.f.p99AddedUs !== null);
  const pool = comparable.length > 0 ? comparable : ran;
  const pick = keptRoundIndex(pool.map((x) => (comparable.length > 0 ? (x.f.p99AddedUs ?? 0) : x.f.p99Us)));
  const kept = pool[pick] as { f: RoundFigures; i: number };
  const run = target[kept.i] as OpenLoopResult;
  const d = direct?.[kept.i];
  return {
    ...run,
    round: kept.i + 1,
    rounds: ran.map((x) => x.f),
    ...(d === undefined ? {} : { sameRoundDirect: { latency: d.latency, ...(d.outsideFreezes === undefined ? {} : { outsideFreezes: { latency: d.outsideFreezes.latency } }) } }),
  };
}
