// The controller's Telemetry.ReportStream, driven by a real grpc-js client as a proxy would use it: many
// reports on one stream, each applied once and answered in order; a report resent on a new stream after
// its answer was lost is recognised and not counted again; a malformed report is answered with an error
// and the stream goes on; a stream the proxy resets is forgotten. And the hand-written answer decodes,
// with protobufjs, to what the .proto says.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import { TELEMETRY_PROTO, TELEMETRY_SERVICE, type ReportRequest } from '../../api/telemetry-messages.ts';
import { podsOnlyDiscovery, startController, type RunningController } from '../../../test/support/controller.ts';
import { telemetryComponent } from './component.ts';
import { encodeReportResponse } from './report-service.ts';
import { syntheticReport } from './testkit.ts';

const service = lookup<grpc.ServiceClientConstructor>(loadProto(TELEMETRY_PROTO), TELEMETRY_SERVICE).service;
const streamMethod = service['ReportStream'] as grpc.MethodDefinition<ReportRequest, ReportAnswer>;
const encode = (report: ReportRequest): Buffer => streamMethod.requestSerialize(report);

interface ReportAnswer {
  sequence?: number;
  already_applied?: boolean;
  error_code?: number;
  error_message?: string;
}

/** One ReportStream from a grpc-js client that sends bytes as given, with its answers in arrival order. */
class ReportStreamClient {
  readonly answers: ReportAnswer[] = [];
  readonly call: grpc.ClientDuplexStream<Buffer, ReportAnswer>;
  readonly status: Promise<grpc.StatusObject>;
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(client: grpc.Client) {
    this.call = client.makeBidiStreamRequest(streamMethod.path, (bytes: Buffer) => bytes, streamMethod.responseDeserialize);
    this.call.on('data', (answer: ReportAnswer) => {
      this.answers.push(answer);
      this.waiters = this.waiters.filter((w) => (this.answers.length >= w.count ? (w.resolve(), false) : true));
    });
    this.call.on('error', () => {});
    this.status = new Promise((resolve) => this.call.on('status', resolve));
  }

  /** Waits until `count` answers came (the test's own timeout bounds it). */
  answered(count: number): Promise<void> {
    if (this.answers.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

const report = (sequence: number, ok: number, failed = 0): ReportRequest =>
  syntheticReport({ pod: 'web-1', workload: 'deployment/web', instance: 'proxy-a', sequence, requests: [{ authority: 'web:80', ok, failed }] });

function webTotals(controller: RunningController): { success: number; failure: number } {
  const group = controller.store.query(3_600_000, (key) => (key.direction === 'inbound' && key.scope === 'svc' ? 'web' : undefined)).groups.get('web');
  return { success: group?.success ?? 0, failure: group?.failure ?? 0 };
}

function gauge(controller: RunningController, name: string): number {
  const value = controller.metrics().find((family) => family.name === name)?.series[0]?.[1];
  return typeof value === 'number' ? value : NaN;
}

/** The gauge once `done` holds for it (streams close on the server a moment after the client ends them). */
async function settledGauge(controller: RunningController, name: string, done: (value: number) => boolean): Promise<number> {
  const deadline = Date.now() + 5_000;
  while (!done(gauge(controller, name)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return gauge(controller, name);
}

describe('Telemetry.ReportStream on the controller', { timeout: 20_000 }, () => {
  let controller: RunningController;
  let client: grpc.Client;

  before(async () => {
    controller = await startController(podsOnlyDiscovery(() => []), [telemetryComponent]);
    client = new grpc.Client(controller.proxyApi, grpc.credentials.createInsecure());
  });

  after(async () => {
    client.close();
    await controller.close();
  });

  it('applies each report on one stream once and answers each, in order, with its sequence', async () => {
    const stream = new ReportStreamClient(client);
    for (let sequence = 1; sequence <= 5; sequence++) stream.call.write(encode(report(sequence, sequence, 1)));
    await stream.answered(5);
    // (protobufjs leaves out fields at their default: no error, not already applied.)
    assert.deepEqual(stream.answers, [1, 2, 3, 4, 5].map((sequence) => ({ sequence })));
    assert.deepEqual(webTotals(controller), { success: 1 + 2 + 3 + 4 + 5, failure: 5 });
    assert.ok(gauge(controller, 'sluice_controller_telemetry_streams') >= 1);
    stream.call.end();
    assert.equal((await stream.status).code, grpc.status.OK);
  });

  it('recognises a report resent on a new stream (its answer lost with the old one) and does not count it again', async () => {
    const before = webTotals(controller);
    const first = new ReportStreamClient(client);
    first.call.write(encode(report(6, 10)));
    await first.answered(1);
    first.call.cancel(); // the proxy never saw the answer: the stream broke
    const second = new ReportStreamClient(client);
    second.call.write(encode(report(6, 10)));
    second.call.write(encode(report(7, 1)));
    await second.answered(2);
    assert.deepEqual(
      second.answers.map((a) => [a.sequence, a.already_applied === true]),
      [
        [6, true],
        [7, false],
      ],
    );
    assert.deepEqual(webTotals(controller), { success: before.success + 11, failure: before.failure });
    second.call.end();
    await second.status;
  });

  it('answers a malformed report with INVALID_ARGUMENT in its answer, and the stream goes on', async () => {
    const before = webTotals(controller);
    const stream = new ReportStreamClient(client);
    // Field 5 (requests) says 200 bytes follow; 2 do.
    stream.call.write(Buffer.from([0x2a, 0xc8, 0x01, 0x0a, 0x00]));
    stream.call.write(encode(report(8, 4)));
    await stream.answered(2);
    const [bad, good] = stream.answers;
    assert.equal(bad?.error_code, grpc.status.INVALID_ARGUMENT);
    assert.match(bad?.error_message ?? '', /cannot apply report: .*past the end/);
    assert.deepEqual(good, { sequence: 8 });
    assert.deepEqual(webTotals(controller), { success: before.success + 4, failure: before.failure });
    stream.call.end();
    assert.equal((await stream.status).code, grpc.status.OK);
  });

  it('forgets a stream the proxy resets, and serves the next one', async () => {
    const openBefore = await settledGauge(controller, 'sluice_controller_telemetry_streams', (n) => n === 0);
    const opened = gauge(controller, 'sluice_controller_telemetry_streams_opened_total');
    const streams = [new ReportStreamClient(client), new ReportStreamClient(client)];
    for (const [i, stream] of streams.entries()) stream.call.write(encode(report(9 + i, 0)));
    await Promise.all(streams.map((s) => s.answered(1)));
    assert.equal(gauge(controller, 'sluice_controller_telemetry_streams'), openBefore + 2);
    assert.equal(gauge(controller, 'sluice_controller_telemetry_streams_opened_total'), opened + 2);
    for (const stream of streams) stream.call.cancel();
    assert.equal(await settledGauge(controller, 'sluice_controller_telemetry_streams', (n) => n === openBefore), openBefore);
    const next = new ReportStreamClient(client);
    next.call.write(encode(report(11, 1)));
    await next.answered(1);
    assert.equal(next.answers[0]?.sequence, 11);
    next.call.end();
    await next.status;
  });
});

describe('encodeReportResponse', () => {
  it('writes the fields protobufjs reads from proto/telemetry.proto, and nothing for an applied report without a sequence', () => {
    const decode = (bytes: Buffer): ReportAnswer => streamMethod.responseDeserialize(bytes);
    assert.equal(encodeReportResponse({ sequence: 0, alreadyApplied: false }).length, 0);
    assert.deepEqual(decode(encodeReportResponse({ sequence: 2 ** 40 + 3, alreadyApplied: true })), { sequence: 2 ** 40 + 3, already_applied: true });
    assert.deepEqual(decode(encodeReportResponse({ sequence: 0, alreadyApplied: false, error: { code: 3, message: 'ünïcode ✓' } })), {
      error_code: 3,
      error_message: 'ünïcode ✓',
    });
  });
});
