// The reporter's sender on Telemetry.ReportStream, over the proxy's own gRPC client, against real grpc-js
// servers that answer as the test says: reports share one stream and their answers are matched in order;
// a report the controller rejects fails with its code while the stream goes on; a stream that breaks,
// answers out of order or not in time fails the reports on it and the next report opens a new one; an
// older controller without ReportStream (UNIMPLEMENTED) gets unary Report calls from then on, said once.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../api/proto.ts';
import type { ReportRequest, ReportResponse } from '../api/telemetry-messages.ts';
import { Logger } from '../log/logger.ts';
import { GrpcChannel } from './grpc/channel.ts';
import { Status } from './grpc/status.ts';
import { StreamingReportSender } from './telemetry-stream-sender.ts';

const service = lookup<grpc.ServiceClientConstructor>(loadProto('telemetry.proto'), 'sluice.proxy.telemetry.Telemetry').service;

/** What a test server does with one report on a stream: answer it (how), stay silent, or end the stream. */
type Answer = ReportResponse | 'silent' | { readonly fail: number };

interface FakeController {
  readonly sender: StreamingReportSender;
  /** Reports as they came: per stream, and by unary call. */
  readonly streams: ReportRequest[][];
  readonly unary: ReportRequest[];
  readonly endedCleanly: boolean[];
  readonly logs: string[];
  close(): void;
}

const running: FakeController[] = [];
after(() => {
  for (const fake of running) fake.close();
});

/** A grpc-js Telemetry server whose streams answer with `answer`; `streaming: false`: a controller from before ReportStream. */
async function fakeController(answer: (request: ReportRequest) => Answer, streaming = true, serverOptions: grpc.ServerOptions = {}): Promise<FakeController> {
  const streams: ReportRequest[][] = [];
  const unary: ReportRequest[] = [];
  /** Per stream: whether it ended cleanly (the client ended its side). */
  const endedCleanly: boolean[] = [];
  const server = new grpc.Server(serverOptions);
  const definition = streaming ? service : { Report: service['Report'] as grpc.MethodDefinition<object, object> };
  server.addService(definition, {
    Report: (call: grpc.ServerUnaryCall<ReportRequest, object>, callback: grpc.sendUnaryData<object>) => {
      unary.push(call.request);
      callback(null, {});
    },
    ...(streaming
      ? {
          ReportStream: (call: grpc.ServerDuplexStream<ReportRequest, ReportResponse>) => {
            const mine: ReportRequest[] = [];
            const index = streams.push(mine) - 1;
            endedCleanly[index] = false;
            call.on('data', (request: ReportRequest) => {
              mine.push(request);
              const what = answer(request);
              if (what === 'silent') return;
              if ('fail' in what) return call.emit('error', { code: what.fail, details: 'the stream broke' });
              call.write(what);
            });
            call.on('end', () => {
              endedCleanly[index] = true;
              call.end();
            });
            call.on('error', () => {});
          },
        }
      : {}),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  const channel = new GrpcChannel({ authority: `127.0.0.1:${port}`, connect: () => net.connect({ host: '127.0.0.1', port }) });
  const logs: string[] = [];
  const sender = new StreamingReportSender(channel, new Logger('info', 'plain', 'test', (line) => logs.push(line)), () => channel.close());
  const fake = { sender, streams, unary, logs, endedCleanly, close: () => (sender.close(), server.forceShutdown()) };
  running.push(fake);
  return fake;
}

const report = (sequence: number, instance_id = 'proxy-a'): ReportRequest => ({ instance_id, sequence, process: { scheduled_instance: 'web-1' } });
const echo = (request: ReportRequest): Answer => ({ sequence: request.sequence ?? 0 });
const codeOf = (error: unknown): number | undefined => (error as { code?: number }).code;

describe('StreamingReportSender', { timeout: 20_000 }, () => {
  it('sends reports as messages on one stream and matches the answers in order', async () => {
    const fake = await fakeController(echo);
    await Promise.all([1, 2, 3].map((sequence) => fake.sender.report(report(sequence), 5000)));
    await fake.sender.report(report(4), 5000);
    await fake.sender.report(report(5), 5000);
    assert.deepEqual(
      fake.streams.map((s) => s.map((r) => r.sequence)),
      [[1, 2, 3, 4, 5]],
    );
    assert.equal(fake.sender.streamsOpened, 1);
    assert.equal(fake.sender.mode, 'stream');
    assert.deepEqual(fake.unary, []);
  });

  it('fails a report the controller could not apply with the code of its answer, and keeps the stream', async () => {
    const fake = await fakeController((request) => (request.instance_id === 'bad' ? { error_code: Status.INVALID_ARGUMENT, error_message: 'cannot apply report: nope' } : echo(request)));
    await assert.rejects(fake.sender.report(report(1, 'bad'), 5000), (error) => codeOf(error) === Status.INVALID_ARGUMENT && /cannot apply report: nope/.test((error as Error).message));
    await fake.sender.report(report(2), 5000);
    assert.equal(fake.sender.streamsOpened, 1);
  });

  it('fails the reports on a stream that breaks, and sends the next one (the same report again) on a new stream', async () => {
    let broken = false;
    const fake = await fakeController((request) => (request.sequence === 2 && !broken ? ((broken = true), { fail: Status.UNAVAILABLE }) : echo(request)));
    await fake.sender.report(report(1), 5000);
    await assert.rejects(fake.sender.report(report(2), 5000), (error) => codeOf(error) === Status.UNAVAILABLE);
    await fake.sender.report(report(2), 5000); // what the reporter does at its next tick
    assert.deepEqual(
      fake.streams.map((s) => s.map((r) => r.sequence)),
      [[1, 2], [2]],
    );
    assert.equal(fake.sender.streamsOpened, 2);
  });

  it('gives up on a stream that does not answer in time (DEADLINE_EXCEEDED) and opens another for the next report', async () => {
    let silent = true;
    const fake = await fakeController((request) => (silent ? 'silent' : echo(request)));
    const started = Date.now();
    await assert.rejects(fake.sender.report(report(1), 200), (error) => codeOf(error) === Status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 2000);
    silent = false;
    await fake.sender.report(report(1), 5000);
    assert.equal(fake.sender.streamsOpened, 2);
  });

  it('does not take an answer for another report: an answer out of order breaks the stream', async () => {
    const fake = await fakeController((request) => ({ sequence: (request.sequence ?? 0) + 100 }));
    await assert.rejects(fake.sender.report(report(1), 5000), (error) => codeOf(error) === Status.INTERNAL && /answered report 101 where report 1 was due/.test((error as Error).message));
    assert.equal(fake.streams.length, 1);
  });

  it('moves to a new connection once the controller sent GOAWAY on the old one, ending the old stream cleanly', async () => {
    // grpc-js sends GOAWAY when a connection is ~300 ms old and then lets its streams go on.
    const fake = await fakeController(echo, true, { 'grpc.max_connection_age_ms': 300 });
    await fake.sender.report(report(1), 5000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await fake.sender.report(report(2), 5000);
    assert.deepEqual(
      fake.streams.map((s) => s.map((r) => r.sequence)),
      [[1], [2]],
    );
    const deadline = Date.now() + 5000;
    while (fake.endedCleanly[0] !== true && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(fake.endedCleanly[0], true);
  });

  it('falls back to unary Report for good when the controller answers UNIMPLEMENTED, and says so once', async () => {
    const fake = await fakeController(echo, false);
    await fake.sender.report(report(1), 5000);
    await fake.sender.report(report(2), 5000);
    await fake.sender.report(report(3), 5000);
    assert.equal(fake.sender.mode, 'unary');
    assert.deepEqual(
      fake.unary.map((r) => r.sequence),
      [1, 2, 3],
    );
    assert.equal(fake.sender.streamsOpened, 1);
    const said = fake.logs.filter((line) => line.includes('does not serve Telemetry.ReportStream'));
    assert.equal(said.length, 1);
    assert.match(said[0] ?? '', /INFO/);
  });
});
