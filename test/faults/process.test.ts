// Fault matrix, process rows: a worker thread that crashes under load (an uncaught exception injected
// by test/support/worker-crash-hook.cjs), and SIGTERM with requests in flight.
//
// What may be lost is decided by where each request was, not by timing: after a crash, only requests in
// flight on the dead thread's connections fail, each at the connection level (reset or closed, never a
// wrong or made-up answer), and traffic recovers at once on the replacement. On SIGTERM, every request
// that reached the upstream is answered in full; the only failures are requests the proxy never took
// (the listener already closed, or a stream past GOAWAY), which a client may safely send again.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/backends.ts';
import { CRASHABLE_PROXY, crashWorker } from '../support/proxy.ts';
import { startBackend, type Backend } from './backend.ts';
import { LOAD_RATE, lost, measuredLoad, underLoad } from './cell.ts';
import { summarize, type Outcome } from './load.ts';
import { COLUMNS, Results, startTopology, type Row } from './matrix.ts';

const results = new Results('process');

let backend: Backend;
before(async () => {
  backend = await startBackend();
});
after(() => backend.close());

/** A request lost to a crash or a shutdown fails at the connection, never with an answer. */
const connectionLevel = (o: Outcome): boolean => o.kind === 'conn' || o.kind === 'reset';

const CRASH: Row = 'a worker thread crashes under load';
describe(CRASH, () => {
  for (const topology of ['1 worker', '2 workers'] as const) {
    for (const protocol of COLUMNS) {
      it(`${topology}, ${protocol}: only requests in flight on the dead thread fail, at the connection; the rest and everything after succeed`, async (t) => {
        const running = await startTopology(topology, backend.addr, {}, CRASHABLE_PROXY);
        t.after(() => running.stop());
        const { load, fault } = await underLoad(
          running,
          protocol,
          `crash-${protocol}-${topology}`,
          async () => {
            crashWorker(running.entry);
            await eventually(() => running.entry.logs().includes('worker thread exited; starting a new one'), 15_000, 'the worker to be replaced');
            return { replaced: true, exitCode: running.entry.child.exitCode };
          },
          3_000,
        );
        const failures = lost(load);
        // Requests the proxy answered (status) are never among the losses; lost ones were cut.
        const onlyConnectionLevel = failures.every(connectionLevel);
        // Recovery: the last 40 % of the load, started after the replacement, all succeed.
        const tail = load.slice(Math.floor(load.length * 0.6));
        const recovered = tail.every((o) => o.kind === 'ok');
        // Bounded by what was in flight on the dead thread: a few requests, far from the whole load.
        const bound = Math.ceil(LOAD_RATE[protocol] * 0.3);
        const pass = onlyConnectionLevel && recovered && failures.length <= bound && fault.exitCode === null;
        results.record({
          row: CRASH,
          column: protocol,
          topology,
          expected: `lost: only requests in flight on the crashed thread, each cut at the connection (≤ ${bound}); the proxy keeps running; the last 40 % of the load all succeed`,
          measured: { ...measuredLoad(load), lost: failures.length, lostKinds: summarize(failures) },
          pass,
        });
        assert.equal(fault.exitCode, null, 'the proxy process survived');
        assert.ok(onlyConnectionLevel, `failures: ${JSON.stringify(failures)}`);
        assert.ok(recovered, `after the replacement: ${JSON.stringify(summarize(tail))}`);
        assert.ok(failures.length <= bound, `${failures.length} lost, more than were in flight (${bound})`);
      });
    }
  }
});

const SIGTERM: Row = 'SIGTERM with requests in flight';
describe(SIGTERM, () => {
  for (const topology of ['1 worker', '2 workers'] as const) {
    for (const protocol of COLUMNS) {
      it(`${topology}, ${protocol}: every request that reached the upstream is answered; the proxy exits 0`, async (t) => {
        const running = await startTopology(topology, backend.addr);
        t.after(() => running.stop());
        // Each answer takes 200 ms, so requests are in flight when the signal comes.
        backend.delayMs = 200;
        t.after(() => (backend.delayMs = 0));
        const { load, fault } = await underLoad(running, protocol, `sigterm-${protocol}-${topology}`, async () => ({ exitCode: await running.entry.stop('SIGTERM') }));
        const reached = load.filter((o) => backend.received.has(o.id));
        const reachedButFailed = reached.filter((o) => o.kind !== 'ok');
        const failures = lost(load);
        const neverTaken = failures.every((o) => connectionLevel(o) && !backend.received.has(o.id));
        const answered = reached.length - reachedButFailed.length;
        const pass = fault.exitCode === 0 && reachedButFailed.length === 0 && neverTaken && answered > 0;
        results.record({
          row: SIGTERM,
          column: protocol,
          topology,
          expected: 'every request that reached the upstream answered in full; the others refused before the proxy took them (connection refused / past GOAWAY), never an error answer; exit code 0',
          measured: { ...measuredLoad(load), reachedUpstream: reached.length, reachedButFailed: reachedButFailed.length, refusedBeforeTaken: failures.length, exitCode: fault.exitCode },
          pass,
        });
        assert.equal(fault.exitCode, 0);
        assert.deepEqual(reachedButFailed, [], 'no request the upstream received was lost');
        assert.ok(neverTaken, `failures: ${JSON.stringify(failures.slice(0, 5))}`);
        assert.ok(answered > 0);
      });
    }
  }
});
