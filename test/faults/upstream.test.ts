// Fault matrix, upstream rows: an upstream that resets in the middle of an answer, and one that never
// answers, refuses the connection, or has vanished (its SYNs go unanswered). Under each, a steady load
// through the same proxy loses nothing, and the one request the fault hits ends exactly as documented.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startBlackhole, type Blackhole } from '../support/blackhole.ts';
import { closeServer, listen } from '../support/net.ts';
import { FAULT, startBackend, type Backend } from './backend.ts';
import { lost, measuredLoad, underLoad, victim } from './cell.ts';
import type { Outcome, Protocol } from './load.ts';
import { Results, startTopology, type Row, type Running, type Topology } from './matrix.ts';

const results = new Results('upstream');
/**
 * The response timeout is longer than the connect timeout: a request to an upstream whose SYNs vanish
 * must end on the connect timeout. With both at 1 s the two deadlines raced, and on a loaded machine
 * the response timeout sometimes fired first (504 "response timed out" for the vanished victim).
 */
const TIMEOUTS = { SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '1500ms', SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT: '1000ms', SLUICE_PROXY_INBOUND_CONNECT_TIMEOUT: '1000ms' };

let backend: Backend;
let deadPort = 0;
let blackhole: Blackhole;

before(async () => {
  backend = await startBackend();
  const server = net.createServer();
  deadPort = await listen(server);
  await closeServer(server);
  blackhole = await startBlackhole();
});
after(async () => {
  await backend.close();
  blackhole.close();
});

/** A TCP client whose upstream connection the upstream resets: what the client sees. */
function tcpVictimReset(port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${FAULT.tcpReset} now\n`));
    let bytes = 0;
    socket.on('data', (c: Buffer) => (bytes += c.length));
    socket.on('error', (e: NodeJS.ErrnoException) => resolve({ id: 'victim', kind: 'conn', detail: `${e.code} after ${bytes} bytes` }));
    socket.on('close', () => resolve({ id: 'victim', kind: 'conn', detail: `closed after ${bytes} bytes` }));
  });
}

/** Records the cell, then asserts: no load request lost, and the victim as `expect` says. */
function check(row: Row, column: Protocol, topology: Topology, expected: string, load: readonly Outcome[], victimOutcome: Outcome | Record<string, unknown>, ok: boolean): void {
  const failures = lost(load);
  const pass = failures.length === 0 && ok;
  results.record({ row, column, topology, expected, measured: { ...measuredLoad(load), victim: victimOutcome }, pass });
  assert.deepEqual(failures, [], 'the load beside the fault lost nothing');
  assert.ok(ok, `victim: expected ${expected}; got ${JSON.stringify(victimOutcome)}`);
}

const RESETS: Row = 'upstream resets mid-body / mid-stream';
describe(RESETS, () => {
  for (const topology of ['1 worker', 'chain'] as const) {
    describe(topology, () => {
      let running: Running;
      before(async () => {
        running = await startTopology(topology, backend.addr, TIMEOUTS);
      });
      after(() => running.stop());

      it('HTTP/1.1: the client connection is cut after the head, so a truncated body never looks complete', async () => {
        const { load, fault } = await underLoad(running, 'http1', `reset-h1-${topology}`, () => victim(running, 'http1', 'victim', FAULT.resetMidBody));
        check(RESETS, 'http1', topology, 'victim: 200 head, then the connection cut (no complete body); load: 0 lost', load, fault, fault.kind === 'conn' && fault.headSeen === true);
      });

      it('h2c: the client stream is reset after the head', async () => {
        const { load, fault } = await underLoad(running, 'h2c', `reset-h2-${topology}`, () => victim(running, 'h2c', 'victim', FAULT.resetMidBody));
        check(RESETS, 'h2c', topology, 'victim: 200 head, then RST_STREAM (never END_STREAM); load: 0 lost', load, fault, fault.kind === 'reset' && fault.headSeen === true);
      });

      it('gRPC: the call is reset after its first message, never ended with grpc-status 0', async () => {
        const { load, fault } = await underLoad(running, 'grpc', `reset-grpc-${topology}`, () => victim(running, 'grpc', 'victim', '', FAULT.grpcResetMidStream));
        check(RESETS, 'grpc', topology, 'victim: head + 1 message, then RST_STREAM (no grpc-status 0); load: 0 lost', load, fault, fault.kind === 'reset' && fault.headSeen === true);
      });

      it('TCP: the upstream reset reaches the client as a reset/close, with no bytes invented', async () => {
        const { load, fault } = await underLoad(running, 'tcp', `reset-tcp-${topology}`, () => tcpVictimReset(running.port));
        check(RESETS, 'tcp', topology, 'victim: connection reset/closed, 0 bytes; load: 0 lost', load, fault, fault.kind === 'conn' && / after 0 bytes$/.test(fault.detail ?? ''));
      });
    });
  }
});

const NEVER: Row = 'upstream never answers / refuses / vanishes';
describe(NEVER, () => {
  for (const topology of ['1 worker', '2 workers'] as const) {
    describe(topology, () => {
      let running: Running;
      before(async () => {
        running = await startTopology(topology, backend.addr, TIMEOUTS);
      });
      after(() => running.stop());

      /** Three victims: one that hangs, one to a port that refuses, one to a port that never answers SYN. */
      async function threeVictims(protocol: Exclude<Protocol, 'tcp'>): Promise<Record<string, Outcome>> {
        const at = (authority: string): Running => ({ ...running, authority });
        const [hang, refused, vanished] = await Promise.all([
          victim(running, protocol, 'hang', FAULT.hang, FAULT.grpcHang, protocol === 'grpc' ? { 'grpc-timeout': '1000m' } : {}),
          victim(at(`127.0.0.1:${deadPort}`), protocol, 'refused', '/refused', FAULT.grpcCall),
          victim(at(`127.0.0.1:${blackhole.port}`), protocol, 'vanished', '/vanished', FAULT.grpcCall),
        ]);
        return { hang, refused, vanished };
      }
      const is = (o: Outcome | undefined, status: number, proxyError: string, grpcStatus?: string): boolean =>
        o?.kind === 'status' && o.status === status && o.proxyError === proxyError && (grpcStatus === undefined || o.grpcStatus === grpcStatus);

      for (const protocol of ['http1', 'h2c'] as const) {
        it(`${protocol}: 504 response timed out / 502 refused / 504 connect timed out`, async () => {
          const { load, fault } = await underLoad(running, protocol, `never-${protocol}-${topology}`, () => threeVictims(protocol));
          const ok =
            is(fault.hang, 504, 'response timed out') && is(fault.refused, 502, 'connection refused by upstream') && is(fault.vanished, 504, 'connect to upstream timed out');
          check(NEVER, protocol, topology, 'victims: hang → 504 "response timed out"; refused → 502 "connection refused by upstream"; vanished → 504 "connect to upstream timed out"; load: 0 lost', load, fault, ok);
        });
      }

      it('gRPC: DEADLINE_EXCEEDED / UNAVAILABLE / UNAVAILABLE, each with sluice-proxy-error', async () => {
        const { load, fault } = await underLoad(running, 'grpc', `never-grpc-${topology}`, () => threeVictims('grpc'));
        const ok =
          fault.hang?.kind === 'status' &&
          fault.hang.grpcStatus === '4' &&
          fault.hang.proxyError !== undefined &&
          is(fault.refused, 200, 'connection refused by upstream', '14') &&
          is(fault.vanished, 200, 'connect to upstream timed out', '14');
        check(NEVER, 'grpc', topology, 'victims: hang (grpc-timeout 1 s) → grpc-status 4; refused → 14 "connection refused by upstream"; vanished → 14 "connect to upstream timed out"; load: 0 lost', load, fault, ok);
      });
    });
  }

  it('TCP (1 worker): a refused or vanished upstream closes the client connection without a byte; the load on the other listener loses nothing', async (t) => {
    // TCP goes to the connection's destination, not to an authority: the victims use the same proxy's
    // inbound listener, whose destination refuses (or never answers), while the load uses its outbound one.
    const refusing = await startTopology('1 worker', backend.addr, { ...TIMEOUTS, SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${deadPort}` });
    t.after(() => refusing.stop());
    const vanishing = await startTopology('1 worker', backend.addr, { ...TIMEOUTS, SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${blackhole.port}` });
    t.after(() => vanishing.stop());
    const tcpVictim = (port: number): Promise<Outcome> =>
      new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write('\x00victim hello\n'));
        let bytes = 0;
        socket.on('data', (c: Buffer) => (bytes += c.length));
        socket.on('error', (e: NodeJS.ErrnoException) => resolve({ id: 'victim', kind: 'conn', detail: `${e.code} after ${bytes} bytes` }));
        socket.on('close', () => resolve({ id: 'victim', kind: 'conn', detail: `closed after ${bytes} bytes` }));
      });
    const [a, b] = await Promise.all([
      underLoad(refusing, 'tcp', 'never-tcp-refused', () => tcpVictim(refusing.entry.inbound.port)),
      underLoad(vanishing, 'tcp', 'never-tcp-vanished', () => tcpVictim(vanishing.entry.inbound.port)),
    ]);
    const noBytes = (o: Outcome): boolean => o.kind === 'conn' && / after 0 bytes$/.test(o.detail ?? '');
    const load = [...a.load, ...b.load];
    check(NEVER, 'tcp', '1 worker', 'victims: refused → closed, 0 bytes; vanished → closed after the connect timeout, 0 bytes ("never answers" does not apply: a silent TCP peer is legitimate); load: 0 lost', load, { refused: a.fault, vanished: b.fault }, noBytes(a.fault) && noBytes(b.fault));
  });
});
