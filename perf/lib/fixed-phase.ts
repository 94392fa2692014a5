// The fixed-rate phase of one protocol: every prepared target is running; at each rate, `--rounds`
// rounds, each giving every target (direct included) one open-loop run, in target order on odd rounds
// and reversed on even ones (lib/rounds.ts). Then per target and rate one run is kept — the round whose
// p99 added over direct's run of the same round is the median (with two rounds the worse) — and stored
// in `result.fixed` with every round's figures beside it, so the checks compare runs made minutes apart
// on a core whose speed changed no more than runs made seconds apart.
//
// Only the target being measured runs: the others' processes are paused (SIGSTOP) meanwhile. An idle Node
// proxy cleans up after its own run — V8's memory reducer does full GCs of 15–27 ms, and the idle trim
// gives memory back, up to ~15 ms — and on the shared core that landed in whichever target ran next: most
// often another Sluice target, since they run side by side in the order. Paused, a target does that
// clean-up when it runs again, inside its own warm-up.
import { fmtInt, fmtRate } from './fmt.ts';
import { describeRun, fixedRateRun } from './fixed-run.ts';
import type { FixedRun } from './fixed-run.ts';
import { pause, resume } from './procs.ts';
import type { Started } from './procs.ts';
import { LATE_US } from './run-context.ts';
import type { Bench } from './run-context.ts';
import { keepRound, roundOrder } from './rounds.ts';
import { failTarget, noteIfNoisy } from './target-run.ts';
import type { Prepared } from './target-run.ts';
import { firstDead } from '../targets.ts';
import type { RunningTarget } from '../targets.ts';
import type { Protocol, RoundFigures } from './types.ts';

/** How one run is made: fixedRateRun, or a stand-in in the tests. */
export type RunOnce = (b: Bench, protocol: Protocol, t: RunningTarget, backend: Started, rate: number, dir: string, tag: string) => Promise<FixedRun>;

/** Runs every rate's rounds over `targets` (in place: results, notes, failures). */
export async function fixedPhase(b: Bench, protocol: Protocol, backend: Started, targets: readonly Prepared[], runOnce: RunOnce = fixedRateRun): Promise<void> {
  const rounds = b.o.rounds;
  if (targets.length > 0) {
    b.log(`${protocol}: fixed rates, ${rounds} round${rounds === 1 ? '' : 's'} of ${targets.map((p) => p.target.name).join(', ')} (even rounds in reverse), the others paused during each run`);
  }
  for (const p of targets) processesOf(p).forEach(pause);
  try {
    for (const rate of b.o.rates) await ratePhase(b, protocol, backend, targets, rate, runOnce);
  } finally {
    for (const p of targets) processesOf(p).forEach(resume);
  }
}

/** A target's processes: its proxies and its helpers (the controller). */
function processesOf(p: Prepared): Started[] {
  return [...p.running.proxies, ...(p.running.helpers ?? [])];
}

/** One rate's rounds, then the round kept per target. */
async function ratePhase(b: Bench, protocol: Protocol, backend: Started, targets: readonly Prepared[], rate: number, runOnce: RunOnce): Promise<void> {
  const rounds = b.o.rounds;
  // Per target, its run of each round (undefined: none, it failed).
  const runs = new Map<Prepared, Array<FixedRun | undefined>>(targets.map((p) => [p, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const p of roundOrder(targets, round)) {
      if (p.stopped) continue;
      processesOf(p).forEach(resume);
      try {
        const run = await runOnce(b, protocol, p.running, backend, rate, p.dir, p.tag);
        const dead = firstDead(p.running);
        if (dead !== null) throw new Error(`died during the ${fmtRate(rate)}/s run: ${dead}`);
        (runs.get(p) as Array<FixedRun | undefined>)[round - 1] = run;
        b.log(`${p.tag}: @${fmtRate(rate)}/s round ${round}/${rounds} ${describeRun(run.r)}`);
      } catch (err) {
        await failTarget(b, p, err);
      } finally {
        processesOf(p).forEach(pause);
      }
    }
  }
  // Direct's runs count even if it failed in a later round: each was made beside the others' of its round.
  const direct = targets.find((p) => p.target.name === 'direct');
  const directRuns = direct === undefined ? undefined : padded(runs.get(direct), rounds).map((x) => x?.r);
  for (const p of targets) {
    if (p.stopped) continue;
    const mine = padded(runs.get(p), rounds);
    const kept = keepRound(
      mine.map((x) => x?.r),
      p === direct ? undefined : directRuns,
    );
    if (kept === undefined) continue;
    recordNotes(p, rate, mine);
    p.result.fixed.push(kept);
    if (rounds > 1) b.log(`${p.tag}: @${fmtRate(rate)}/s ${keptLine(kept.rounds ?? [], kept.round ?? 0)}`);
  }
}

function padded<T>(list: ReadonlyArray<T | undefined> | undefined, length: number): Array<T | undefined> {
  return Array.from({ length }, (_, i) => list?.[i]);
}

/** What the notes under the table say about a target's runs at `rate`: disturbed, late, errors — of any round. */
function recordNotes(p: Prepared, rate: number, mine: ReadonlyArray<FixedRun | undefined>): void {
  const several = mine.length > 1;
  mine.forEach((run, i) => {
    if (run === undefined) return;
    const at = `${fmtRate(rate)}/s${several ? ` (round ${i + 1})` : ''}`;
    noteIfNoisy(p.result, `the ${at} run`, run.foreign);
    if (run.r.sendLagUs.p99 > LATE_US) p.result.notes.push(`at ${at} the generator itself sent late (send lag p99 ${fmtInt(run.r.sendLagUs.p99)} µs)`);
    if (run.r.firstError !== undefined) p.result.notes.push(`at ${at}: ${run.r.errors} errors, first: ${run.r.firstError}`);
  });
}

/** "rounds p99 added +1,273 / +1,510 µs (backend 54 / 98 µs/req): round 2 kept". */
function keptLine(rounds: readonly RoundFigures[], kept: number): string {
  const signed = (v: number | null): string => (v === null ? '–' : `${v >= 0 ? '+' : '−'}${fmtInt(Math.abs(v))}`);
  const compared = rounds.some((r) => r.p99AddedUs !== null);
  const figures = compared ? `p99 added ${rounds.map((r) => signed(r.p99AddedUs)).join(' / ')} µs` : `p99 ${rounds.map((r) => fmtInt(r.p99Us)).join(' / ')} µs`;
  const backend = rounds.map((r) => (r.backendCpuUsPerRequest === undefined ? '–' : r.backendCpuUsPerRequest.toFixed(0))).join(' / ');
  return `rounds ${figures} (backend ${backend} µs/req): round ${kept} kept`;
}
