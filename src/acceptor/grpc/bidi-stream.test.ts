// The lean gRPC client's calls that stream their requests (GrpcChannel.bidiStream), against a real
// grpc-js server of the project's Telemetry service: requests written before the connection exists are
// sent once it does, each answered in order; ending our side lets the server finish with OK; a server
// that ends the call with an error is reported once and later writes are refused; cancel() reaches the
// server; a server that answers before we ended our side does not leave the stream half open.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import type { ReportRequest, ReportResponse } from '../../api/telemetry-messages.ts';
import { GrpcChannel } from './channel.ts';
import { TelemetryReportStream } from './control-methods.ts';
import { Status, type GrpcStatus } from './status.ts';

interface Collected {
  readonly answers: ReportResponse[];
  readonly status: Promise<GrpcStatus>;
  answered(count: number): Promise<void>;
}

function collector(): { observer: { message(m: ReportResponse): void; status(s: GrpcStatus): void }; collected: Collected } {
  const answers: ReportResponse[] = [];
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  let done: (s: GrpcStatus) => void = () => {};
  const status = new Promise<GrpcStatus>((resolve) => (done = resolve));
  return {
    observer: {
      message: (m) => {
        answers.push(m);
        waiters = waiters.filter((w) => (answers.length >= w.count ? (w.resolve(), false) : true));
      },
      status: (s) => done(s),
    },
    collected: {
      answers,
      status,
      answered: (count) => (answers.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
    },
  };
}

describe('GrpcChannel.bidiStream against grpc-js', { timeout: 20_000 }, () => {
  let server: grpc.Server;
  let channel: GrpcChannel;
  /** Per stream the server saw: the sequences it got, and whether the client cancelled it. */
  const seen: Array<{ sequences: number[]; cancelled: boolean }> = [];

  before(async () => {
    server = new grpc.Server();
    const service = lookup<grpc.ServiceClientConstructor>(loadProto('telemetry.proto'), 'sluice.proxy.telemetry.Telemetry').service;
    server.addService(service, {
      Report: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback(null, {}),
      ReportStream: (call: grpc.ServerDuplexStream<ReportRequest, ReportResponse>) => {
        const mine = { sequences: [] as number[], cancelled: false };
        seen.push(mine);
        call.on('cancelled', () => (mine.cancelled = true));
        call.on('data', (request: ReportRequest) => {
          const sequence = request.sequence ?? 0;
          mine.sequences.push(sequence);
          // Instructions from the test, by instance id.
          if (request.instance_id === 'fail') return call.emit('error', { code: Status.RESOURCE_EXHAUSTED, details: 'too many reports, ünïcode' });
          if (request.instance_id === 'finish') return call.end();
          if (request.instance_id !== 'silent') call.write({ sequence });
        });
        call.on('end', () => call.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
    );
    channel = new GrpcChannel({ authority: `127.0.0.1:${port}`, connect: () => net.connect({ host: '127.0.0.1', port }) });
  });

  after(() => {
    channel.close();
    server.forceShutdown();
  });

  it('sends requests written before the connection exists, answers come in order, and ending our side ends the call OK', async () => {
    const { observer, collected } = collector();
    const call = channel.bidiStream(TelemetryReportStream, observer);
    for (let sequence = 1; sequence <= 3; sequence++) assert.equal(call.write({ instance_id: 'a', sequence }), true);
    await collected.answered(3);
    for (let sequence = 4; sequence <= 20; sequence++) call.write({ instance_id: 'a', sequence });
    await collected.answered(20);
    assert.deepEqual(
      collected.answers.map((a) => a.sequence),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    call.end();
    assert.deepEqual(await collected.status, { code: Status.OK, details: 'OK' });
    assert.equal(call.done, true);
    assert.equal(call.write({ sequence: 21 }), false);
    assert.deepEqual(seen.at(-1)?.sequences, collected.answers.map((a) => a.sequence));
  });

  it('reports an error status from the server once, and refuses writes after it', async () => {
    const { observer, collected } = collector();
    const call = channel.bidiStream(TelemetryReportStream, observer);
    call.write({ instance_id: 'a', sequence: 1 });
    await collected.answered(1);
    call.write({ instance_id: 'fail', sequence: 2 });
    assert.deepEqual(await collected.status, { code: Status.RESOURCE_EXHAUSTED, details: 'too many reports, ünïcode' });
    assert.equal(call.write({ instance_id: 'a', sequence: 3 }), false);
  });

  it('resets a stream the server finished while our side was open, and the connection carries on', async () => {
    const { observer, collected } = collector();
    const call = channel.bidiStream(TelemetryReportStream, observer);
    call.write({ instance_id: 'finish', sequence: 1 });
    assert.equal((await collected.status).code, Status.OK);
    // The next call on the same channel (same connection) works: nothing was left half open.
    const next = collector();
    const again = channel.bidiStream(TelemetryReportStream, next.observer);
    again.write({ instance_id: 'a', sequence: 7 });
    await next.collected.answered(1);
    assert.equal(next.collected.answers[0]?.sequence, 7);
    again.end();
    assert.equal((await next.collected.status).code, Status.OK);
  });

  it('cancel() ends the call with CANCELLED and the server sees it cancelled', async () => {
    const { observer, collected } = collector();
    const call = channel.bidiStream(TelemetryReportStream, observer);
    call.write({ instance_id: 'silent', sequence: 1 });
    const deadline = Date.now() + 5_000;
    while (seen.at(-1)?.sequences[0] !== 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const mine = seen.at(-1);
    call.cancel();
    assert.equal((await collected.status).code, Status.CANCELLED);
    while (mine?.cancelled !== true && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(mine?.cancelled, true);
  });

  it('fails at once on a closed channel, with UNAVAILABLE', async () => {
    const closed = new GrpcChannel({ authority: 'x', connect: () => net.connect({ host: '127.0.0.1', port: 9 }) });
    closed.close();
    const { observer, collected } = collector();
    const call = closed.bidiStream(TelemetryReportStream, observer);
    assert.equal((await collected.status).code, Status.UNAVAILABLE);
    assert.equal(call.write({ sequence: 1 }), false);
  });
});
