// The project's open-loop load generator, run as its own process (pinned to the load core by the caller).
// Requests are scheduled at evenly spaced times (1/rate apart) from a tight setImmediate loop reading the
// high-resolution clock; each request's latency is measured from its *scheduled* send time to the end of
// its response, so any queueing (in the generator's connection pool, the proxy or the backend) is counted.
// Latencies go into an HdrHistogram with microsecond resolution. Prints one JSON line (OpenLoopResult).
//
//   node perf/loadgen/openloop.ts --protocol h1|h2c|grpc --port N [--host 127.0.0.1] [--authority h:p]
//        --rate 1000 --seconds 10 [--warmup 1] [--connections 32] [--drain-ms 2000] [--h2-client lean|node]
//        [--slow-log-us N] [--freezes FILE,FILE]
// h2c and gRPC go through the proxy's own lean HTTP/2 engine (h2-lean.ts); `--h2-client node` uses
// node:http2 instead, to compare the generator's own noise. `--slow-log-us N` writes every measured
// request slower than N µs to stderr ("slow <scheduled ms> <latency µs>"), to tell stalls (slow requests
// in bursts) from per-request cost (slow requests spread out). `--freezes` names the logs of freeze
// sentinels watching the run's cores (freeze-sentinel.ts): the result then also gives the latency of the
// requests that no freeze of a core touched (perf/lib/freeze-windows.ts).
import { build } from 'hdr-histogram-js';
import { performance } from 'node:perf_hooks';
import { dueCount, requestCount, scheduledAtNs } from './schedule.ts';
import { H1Pool, H2Client } from './clients.ts';
import { H2LeanClient } from './h2-lean.ts';
import type { Client } from './clients.ts';
import { curve, summarize } from '../lib/stats.ts';
import { freezesWithin, overlapsFreeze, parseFreezeLogs } from '../lib/freeze-windows.ts';
import { readFileSync } from 'node:fs';
import type { OpenLoopResult, Protocol } from '../lib/types.ts';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v !== undefined) return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`openloop: missing --${name}`);
}

const protocol = arg('protocol') as Protocol;
if (protocol !== 'h1' && protocol !== 'h2c' && protocol !== 'grpc') throw new Error(`openloop: bad --protocol ${protocol}`);
const host = arg('host', '127.0.0.1');
const port = Number(arg('port'));
const authority = arg('authority', `${host}:${port}`);
const rate = Number(arg('rate'));
const seconds = Number(arg('seconds'));
const warmup = Number(arg('warmup', '1'));
const connections = Number(arg('connections', protocol === 'h1' ? '32' : '4'));
const drainMs = Number(arg('drain-ms', '2000'));
const h2Client = arg('h2-client', 'lean');
const slowLogUs = Number(arg('slow-log-us', '0'));
const freezeLogs = arg('freezes', '').split(',').filter((f) => f !== '');
if (h2Client !== 'lean' && h2Client !== 'node') throw new Error(`openloop: bad --h2-client ${h2Client}`);
if (!(rate > 0) || !(seconds > 0) || !(warmup >= 0) || !(connections > 0)) throw new Error('openloop: bad numbers');

const warmN = requestCount(rate, warmup);
const measuredN = requestCount(rate, seconds);
const total = warmN + measuredN;

const latency = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
const sendLag = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 2 });

const nowNs = (): number => performance.now() * 1e6;
/** CLOCK_MONOTONIC − performance.now(), in ns: puts the schedule on the clock the freeze logs use. */
const monoOffsetNs = Number(process.hrtime.bigint()) - performance.now() * 1e6;
/** Latency of each measured request in µs, NaN until it succeeds: kept for the freeze split at the end. */
const latencies = freezeLogs.length > 0 ? new Float64Array(measuredN).fill(Number.NaN) : undefined;
let t0 = 0;
let next = 0;
let outstanding = 0;
let ok = 0;
let errors = 0;
let firstError: string | undefined;
/** When the last successful measured response arrived, ns after t0. */
let lastOkNs = 0;
let finished = false;

function done(i: number, success: boolean, why?: string): void {
  const t = nowNs();
  outstanding--;
  if (i >= warmN) {
    if (success) {
      ok++;
      lastOkNs = t - t0;
      const us = Math.round((t - t0 - scheduledAtNs(i, rate)) / 1000);
      latency.recordValue(us < 0 ? 0 : us);
      if (latencies !== undefined) latencies[i - warmN] = us < 0 ? 0 : us;
      if (slowLogUs > 0 && us >= slowLogUs) process.stderr.write(`slow ${(scheduledAtNs(i, rate) / 1e6).toFixed(3)} ${us}\n`);
    } else {
      errors++;
      if (firstError === undefined && why !== undefined) firstError = why;
    }
  }
  if (next >= total && outstanding === 0) finish();
}

const ep = { host, port, authority };
const H2 = h2Client === 'lean' ? H2LeanClient : H2Client;
const client: Client = protocol === 'h1' ? new H1Pool(ep, connections, done) : new H2(ep, connections, protocol === 'grpc', done);

function tick(): void {
  const now = nowNs() - t0;
  const due = dueCount(now, rate, total);
  while (next < due) {
    const i = next++;
    outstanding++;
    if (i >= warmN) {
      const lagUs = Math.round((now - scheduledAtNs(i, rate)) / 1000);
      sendLag.recordValue(lagUs < 0 ? 0 : lagUs);
    }
    client.send(i);
  }
  if (next < total) setImmediate(tick);
  else if (outstanding === 0) finish();
  else setTimeout(finish, drainMs).unref();
}

/**
 * Successful responses per second over the measured phase: from its first scheduled send to the last
 * response, or to its last scheduled send when the responses kept up.
 */
function achieved(): number {
  const startNs = scheduledAtNs(warmN, rate);
  const spanNs = Math.max(lastOkNs - startNs, scheduledAtNs(total, rate) - startNs);
  return spanNs > 0 ? ok / (spanNs / 1e9) : 0;
}

/**
 * The latency of the measured requests that no freeze of a watched core overlapped, with what was left
 * out; and, for reading only, the same with the requests a kdamond window touched left out too. The
 * freeze logs are read now: the sentinels write each window as it ends.
 */
function outsideFreezes(): OpenLoopResult['outsideFreezes'] {
  if (latencies === undefined) return undefined;
  const logs = freezeLogs.map((f) => readFileSync(f, 'utf8'));
  const freezeWindows = parseFreezeLogs(logs, 'freeze');
  const allWindows = parseFreezeLogs(logs);
  const t0MonoMs = (t0 + monoOffsetNs) / 1e6;
  const histogram = (): ReturnType<typeof build> => build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const kept = histogram();
  const quiet = histogram();
  let touched = 0;
  let touchedAny = 0;
  for (let k = 0; k < measuredN; k++) {
    const us = latencies[k] as number;
    if (Number.isNaN(us)) continue;
    const sentMs = t0MonoMs + scheduledAtNs(warmN + k, rate) / 1e6;
    const doneMs = sentMs + us / 1000;
    if (overlapsFreeze(freezeWindows, sentMs, doneMs)) touched++;
    else kept.recordValue(us);
    if (overlapsFreeze(allWindows, sentMs, doneMs)) touchedAny++;
    else quiet.recordValue(us);
  }
  const from = t0MonoMs + scheduledAtNs(warmN, rate) / 1e6;
  const to = t0MonoMs + Math.max(lastOkNs, scheduledAtNs(total, rate)) / 1e6;
  const freezes = freezesWithin(freezeWindows, from, to);
  const housekeeping = freezesWithin(parseFreezeLogs(logs, 'housekeeping'), from, to);
  return {
    latency: summarize(kept),
    touched,
    freezes: freezes.count,
    frozenMs: Math.round(freezes.frozenMs * 10) / 10,
    ...(housekeeping.count === 0
      ? {}
      : { housekeeping: { windows: housekeeping.count, ms: Math.round(housekeeping.frozenMs * 10) / 10, touched: touchedAny, p99: summarize(quiet).p99 } }),
  };
}

function finish(): void {
  if (finished) return;
  finished = true;
  // Whatever is still unanswered now counts as failed.
  const unanswered = Math.max(0, measuredN - ok - errors);
  if (unanswered > 0) {
    errors += unanswered;
    firstError ??= `${unanswered} requests unanswered ${drainMs} ms after the last send`;
  }
  const result: OpenLoopResult = {
    protocol,
    rate,
    seconds,
    connections,
    scheduled: measuredN,
    ok,
    errors,
    achievedRate: Math.round(achieved() * 10) / 10,
    sendLagUs: { p99: sendLag.getValueAtPercentile(99), max: sendLag.maxValue },
    latency: summarize(latency),
    curve: curve(latency),
  };
  const outside = outsideFreezes();
  if (outside !== undefined) result.outsideFreezes = outside;
  if (firstError !== undefined) result.firstError = firstError;
  process.stdout.write(`${JSON.stringify(result)}\n`, () => {
    client.close();
    process.exit(0);
  });
}

// A hard bound on the whole run, whatever happens.
setTimeout(
  () => {
    process.stderr.write('openloop: hard time limit reached\n');
    finish();
  },
  (warmup + seconds) * 1000 + drainMs + 10_000,
).unref();

try {
  await client.open();
} catch (err) {
  process.stderr.write(`openloop: cannot connect to ${host}:${port}: ${String(err)}\n`);
  process.exit(2);
}
t0 = nowNs();
// The slow log's clock: CLOCK_MONOTONIC at t0, to line slow requests up with `perf sched -k CLOCK_MONOTONIC`.
if (slowLogUs > 0) process.stderr.write(`t0 ${process.hrtime.bigint() - BigInt(Math.round(performance.now() * 1e6 - t0))}\n`);
tick();
