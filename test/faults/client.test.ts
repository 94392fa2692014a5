// Fault matrix, client rows: a client that goes away in the middle of its request, and hostile clients
// (slowloris, header floods, CONTINUATION floods, oversized heads). Under each, a steady load through the
// same proxy loses nothing; the aborted request is aborted upstream too, and each attack gets the
// documented answer.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/backends.ts';
import { RawPeer } from '../support/h2-raw.ts';
import { collect, connect } from '../support/net.ts';
import { encodeFrame, ErrorCode, FrameType } from '../../src/workers/http2/frames.ts';
import { FAULT, startBackend, type Backend } from './backend.ts';
import { lost, measuredLoad, underLoad } from './cell.ts';
import type { Outcome, Protocol } from './load.ts';
import { Results, startTopology, type Row, type Running, type Topology } from './matrix.ts';

const results = new Results('client');

let backend: Backend;
before(async () => {
  backend = await startBackend();
});
after(() => backend.close());

function check(row: Row, column: Protocol, topology: Topology, expected: string, load: readonly Outcome[], fault: unknown, ok: boolean): void {
  const failures = lost(load);
  results.record({ row, column, topology, expected, measured: { ...measuredLoad(load), fault }, pass: failures.length === 0 && ok });
  assert.deepEqual(failures, [], 'the load beside the fault lost nothing');
  assert.ok(ok, `fault: expected ${expected}; got ${JSON.stringify(fault)}`);
}

const ABORTS: Row = 'client aborts mid-request';
describe(ABORTS, () => {
  for (const topology of ['1 worker', 'chain'] as const) {
    describe(topology, () => {
      let running: Running;
      before(async () => {
        running = await startTopology(topology, backend.addr);
      });
      after(() => running.stop());

      /** Starts an upload, waits until the upstream has it, then `abort`s; resolves with the upstream's count. */
      async function abortedUpload(id: string, start: () => { abort(): void }, counter: () => number): Promise<Record<string, unknown>> {
        const before = counter();
        const upload = start();
        await eventually(() => backend.received.has(id), 15_000, 'the upload to reach the upstream');
        upload.abort();
        await eventually(() => counter() >= before + 1, 15_000, `the upstream to see the upload aborted (${counter() - before})`).catch((e: Error) => { throw new Error(`${e.message}: ${counter() - before}`); });
        return { upstreamAborted: counter() - before };
      }

      it('HTTP/1.1: the client closes mid-body; the upstream request is aborted', async () => {
        const id = `abort-h1-${topology.replace(' ', '_')}`;
        const { load, fault } = await underLoad(running, 'http1', id, () =>
          abortedUpload(
            id,
            () => {
              const socket = net.connect(running.port, '127.0.0.1');
              socket.on('error', () => {});
              socket.write(`POST ${FAULT.upload} HTTP/1.1\r\nHost: ${running.authority}\r\nx-load-id: ${id}\r\nContent-Length: 100000\r\n\r\n${'u'.repeat(1000)}`);
              return { abort: () => socket.destroy() };
            },
            () => backend.abortedUploads,
          ),
        );
        check(ABORTS, 'http1', topology, 'the upstream sees the upload aborted (1); load: 0 lost', load, fault, fault['upstreamAborted'] === 1);
      });

      for (const protocol of ['h2c', 'grpc'] as const) {
        it(`${protocol}: the client cancels its stream mid-body; the upstream stream is reset`, async () => {
          const id = `abort-${protocol}-${topology.replace(' ', '_')}`;
          const session = http2.connect(`http://127.0.0.1:${running.port}`);
          session.on('error', () => {});
          try {
            const { load, fault } = await underLoad(running, protocol, id, () =>
              abortedUpload(
                id,
                () => {
                  const grpc = protocol === 'grpc' ? { 'content-type': 'application/grpc', te: 'trailers' } : {};
                  const stream = session.request({ ':method': 'POST', ':authority': running.authority, ':path': protocol === 'grpc' ? FAULT.grpcUpload : FAULT.upload, 'x-load-id': id, 'x-upload-length': '100000', ...grpc });
                  stream.on('error', () => {});
                  stream.write(Buffer.alloc(1000, 'u'));
                  return { abort: () => stream.close(http2.constants.NGHTTP2_CANCEL) };
                },
                () => backend.abortedUploads,
              ),
            );
            check(ABORTS, protocol, topology, 'the upstream stream is reset (1 aborted upload); load: 0 lost', load, fault, fault['upstreamAborted'] === 1);
          } finally {
            session.destroy();
          }
        });
      }

      it('TCP: the client resets its connection; the upstream connection is reset too', async () => {
        const id = `abort-tcp-${topology.replace(' ', '_')}`;
        const { load, fault } = await underLoad(running, 'tcp', id, () =>
          abortedUpload(
            id,
            () => {
              const socket = net.connect(running.port, '127.0.0.1', () => socket.write(`\x00${id} and more to come\n`));
              socket.on('error', () => {});
              return { abort: () => socket.resetAndDestroy() };
            },
            () => backend.tcpAborted,
          ),
        );
        check(ABORTS, 'tcp', topology, 'the upstream connection is reset (1); load: 0 lost', load, fault, fault['upstreamAborted'] === 1);
      });
    });
  }
});

const FLOODS: Row = 'slowloris, header and CONTINUATION floods, oversized heads';
describe(FLOODS, () => {
  let running: Running;
  before(async () => {
    running = await startTopology('1 worker', backend.addr, { SLUICE_PROXY_HTTP_HEADER_TIMEOUT: '1000ms' });
  });
  after(() => running.stop());

  it('HTTP/1.1: 20 slowloris connections get 408, an oversized head and a flood of 3,000 fields get 431', async () => {
    const slowloris = async (): Promise<string> => {
      const socket = await connect(running.port);
      const text = 'GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: ' + 'z'.repeat(200);
      let i = 0;
      const drip = setInterval(() => {
        if (i < text.length && !socket.destroyed) socket.write(text[i++] as string);
      }, 50);
      try {
        return (await collect(socket, undefined, 15_000)).split('\r\n')[0] as string;
      } finally {
        clearInterval(drip);
      }
    };
    const oneShot = async (head: string): Promise<string> => {
      const socket = await connect(running.port);
      socket.write(head);
      return (await collect(socket, undefined, 15_000)).split('\r\n')[0] as string;
    };
    const { load, fault } = await underLoad(running, 'http1', 'flood-h1', async () => {
      const [loris, oversized, fields] = await Promise.all([
        Promise.all(Array.from({ length: 20 }, slowloris)),
        oneShot(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`),
        oneShot(`GET / HTTP/1.1\r\nHost: a\r\n${Array.from({ length: 3000 }, (_, i) => `X-F${i}: v\r\n`).join('')}\r\n`),
      ]);
      return { slowloris: countsOf(loris), oversized, fields };
    });
    const ok = fault.slowloris['HTTP/1.1 408 Request Timeout'] === 20 && /^HTTP\/1\.1 431 /.test(fault.oversized) && /^HTTP\/1\.1 431 /.test(fault.fields);
    check(FLOODS, 'http1', '1 worker', 'slowloris ×20 → 408 each; 20 KB field → 431; 3,000 fields → 431; load: 0 lost', load, fault, ok);
  });

  /** A CONTINUATION flood and an oversized head on raw HTTP/2 connections, `grpc` shaped or not. */
  async function h2Attacks(grpc: boolean): Promise<Record<string, unknown>> {
    const flood = await RawPeer.connect(running.port);
    const frames = [flood.headers(1, [':method', 'POST', ':scheme', 'http', ':path', '/x', ':authority', running.authority], false).subarray(0, 0)];
    frames.push(encodeFrame(FrameType.HEADERS, 0, 1, Buffer.from([0x82])));
    for (let i = 0; i < 200; i++) frames.push(encodeFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(2000, 'x'.charCodeAt(0))));
    flood.send(...frames);
    const [, floodCode] = await flood.goaway(15_000);
    await flood.closed(15_000);
    flood.close();

    const big = await RawPeer.connect(running.port);
    const extra = grpc ? ['content-type', 'application/grpc', 'te', 'trailers'] : [];
    big.send(big.headers(1, [':method', 'POST', ':scheme', 'http', ':path', grpc ? FAULT.grpcCall : '/big', ':authority', running.authority, ...extra, 'x-big', 'b'.repeat(70_000)], true));
    const head = await big.responseHead(1);
    big.close();
    return { continuationFlood: floodCode === ErrorCode.ENHANCE_YOUR_CALM ? 'GOAWAY ENHANCE_YOUR_CALM' : `GOAWAY ${floodCode}`, oversizedHead: `:status ${head[head.indexOf(':status') + 1]}` };
  }

  for (const protocol of ['h2c', 'grpc'] as const) {
    it(`${protocol}: a CONTINUATION flood gets GOAWAY ENHANCE_YOUR_CALM, a 70 KB head gets 431`, async () => {
      const { load, fault } = await underLoad(running, protocol, `flood-${protocol}`, () => h2Attacks(protocol === 'grpc'));
      const ok = fault['continuationFlood'] === 'GOAWAY ENHANCE_YOUR_CALM' && fault['oversizedHead'] === ':status 431';
      check(FLOODS, protocol, '1 worker', 'CONTINUATION flood → GOAWAY(ENHANCE_YOUR_CALM), connection closed; 70 KB head → 431 on that stream; load: 0 lost', load, fault, ok);
    });
  }

  it('TCP: does not apply', () => {
    results.notApplicable(FLOODS, 'tcp', 'opaque TCP has no head to be slow with, flood or oversize: its bytes are the application\'s, and an idle connection is a legitimate tunnel');
  });
});

function countsOf(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
