// gRPC (HTTP/2) to a destination the fake Destination service resolves: calls are balanced per call over
// the endpoints' connections, streaming calls pass through, a retryable route turns a trailers-only
// UNAVAILABLE into a retry, and a route timeout ends a call with DEADLINE_EXCEEDED.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { FakeDestination } from '../../../../test/support/fake-destination.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';

const PROTO = fileURLToPath(new URL('../../../../test/fixtures/grpc/echo.proto', import.meta.url));
const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
const Echo = lookupEcho(grpc.loadPackageDefinition(definition));

function lookupEcho(root: grpc.GrpcObject): grpc.ServiceClientConstructor {
  return ((root['sluice'] as grpc.GrpcObject)['test'] as grpc.GrpcObject)['Echo'] as grpc.ServiceClientConstructor;
}

interface EchoRequest {
  text?: string;
  count?: number;
  hang?: boolean;
}
interface EchoReply {
  text: string;
  index: number;
}
interface EchoClient extends grpc.Client {
  Unary(request: EchoRequest, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply?: EchoReply) => void): void;
  ServerStream(request: EchoRequest): grpc.ClientReadableStream<EchoReply>;
  Bidi(): grpc.ClientDuplexStream<EchoRequest, EchoReply>;
}

const ECHO = 'echo.default.svc.cluster.local:80';
const PATIENT = 'patient.default.svc.cluster.local:80';

interface EchoServer {
  readonly name: string;
  readonly port: number;
  calls: number;
  /** Unary calls with text `hold` wait here until release() (later ones are answered at once). */
  readonly held: Array<() => void>;
  holding: boolean;
  release(): void;
  close(): void;
}

/** Unary answers with the server's name; `flaky` calls fail with a trailers-only UNAVAILABLE every other time. */
async function echoServer(name: string): Promise<EchoServer> {
  const server = new grpc.Server();
  const state: EchoServer = {
    name,
    port: 0,
    calls: 0,
    held: [],
    holding: true,
    release: () => {
      state.holding = false;
      for (const answer of state.held.splice(0)) answer();
    },
    close: () => server.forceShutdown(),
  };
  let flaky = 0;
  server.addService(Echo.service, {
    Unary(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
      state.calls++;
      if (call.request.hang) return;
      if (call.request.text === 'hold' && state.holding) {
        state.held.push(() => callback(null, { text: name, index: 0 }));
        return;
      }
      if (call.request.text === 'flaky' && flaky++ % 2 === 0) {
        // No metadata before the error: grpc-js sends it as a trailers-only response.
        callback({ code: grpc.status.UNAVAILABLE, details: 'try again' });
        return;
      }
      callback(null, { text: name, index: 0 });
    },
    ServerStream(call: grpc.ServerWritableStream<EchoRequest, EchoReply>) {
      state.calls++;
      for (let i = 0; i < (call.request.count ?? 0); i++) call.write({ text: name, index: i });
      call.end();
    },
    Bidi(call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) {
      state.calls++;
      let i = 0;
      call.on('data', (request: EchoRequest) => call.write({ text: `${name}:${(request.text ?? '').toUpperCase()}`, index: i++ }));
      call.on('end', () => call.end());
    },
  });
  (state as { port: number }).port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );
  return state;
}

function client(proxyPort: number, authority: string): EchoClient {
  return new Echo(`127.0.0.1:${proxyPort}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority }) as unknown as EchoClient;
}

function unary(c: EchoClient, request: EchoRequest, deadlineMs = 10_000): Promise<{ reply?: EchoReply; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    c.Unary(request, { deadline: Date.now() + deadlineMs }, (error, reply) => resolve(error === null ? { reply } : { error }));
  });
}

describe('gRPC through control-plane routing', () => {
  let fake: FakeDestination;
  let one: EchoServer;
  let two: EchoServer;
  let proxy: RunningProxy;
  let echo: EchoClient;

  before(async () => {
    fake = await FakeDestination.start();
    [one, two] = await Promise.all([echoServer('one'), echoServer('two')]);
    fake.setEndpoints(ECHO, [
      { host: '127.0.0.1', port: one.port, labels: { pod: 'echo-1' } },
      { host: '127.0.0.1', port: two.port, labels: { pod: 'echo-2' } },
    ]);
    fake.setProfile(ECHO, {
      routes: [{ name: 'Unary', condition: { method: 'POST', pathRegex: '/sluice\\.test\\.Echo/Unary' }, isRetryable: true }],
    });
    fake.setEndpoints(PATIENT, [{ host: '127.0.0.1', port: one.port }]);
    fake.setProfile(PATIENT, { routes: [{ name: 'all', condition: { pathRegex: '/.*' }, timeoutMs: 300 }] });
    proxy = await startProxy({
      SLUICE_PROXY_DESTINATION_SVC_ADDR: fake.address,
      SLUICE_PROXY_OUTBOUND_FAILURE_ACCRUAL_CONSECUTIVE_MAX_FAILURES: '0',
    });
    echo = client(proxy.outbound.port, ECHO);
  });
  after(async () => {
    echo.close();
    await proxy.stop();
    await fake.stop();
    one.close();
    two.close();
  });

  it('balances calls on one client connection over both endpoints', async () => {
    // Held calls are load on their endpoint: P2C turns to the other one, whatever the latencies.
    const calls: Array<Promise<{ reply?: EchoReply; error?: grpc.ServiceError }>> = [];
    const deadline = Date.now() + 15_000;
    while (one.held.length === 0 || two.held.length === 0) {
      assert.ok(Date.now() < deadline, 'calls held by both endpoints');
      calls.push(unary(echo, { text: 'hold' }, 30_000));
      await new Promise((r) => setTimeout(r, 15));
    }
    one.release();
    two.release();
    const names = (await Promise.all(calls)).map((c) => c.reply?.text ?? c.error?.message);
    for (let i = 0; i < 10; i++) names.push((await unary(echo, { text: 'hi' })).reply?.text);
    assert.ok(names.includes('one') && names.includes('two'), JSON.stringify(names));
    assert.ok(names.every((n) => n === 'one' || n === 'two'), JSON.stringify(names));
    const text = await proxy.metrics();
    assert.ok(metricValue(text, 'response_total', { direction: 'outbound', dst_pod: 'echo-1', grpc_status: '0' }) > 0);
  });

  it('passes server-streaming and bidirectional calls through', async () => {
    const replies: EchoReply[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = echo.ServerStream({ count: 5 });
      call.on('data', (r: EchoReply) => replies.push(r));
      call.on('error', reject);
      call.on('end', resolve);
    });
    assert.deepEqual(replies.map((r) => r.index), [0, 1, 2, 3, 4]);
    assert.equal(new Set(replies.map((r) => r.text)).size, 1, 'one stream, one endpoint');

    const out: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = echo.Bidi();
      call.on('data', (r: EchoReply) => {
        out.push(r.text.split(':')[1] ?? '');
        if (out.length < 3) call.write({ text: `m${out.length}` });
        else call.end();
      });
      call.on('error', reject);
      call.on('end', resolve);
      call.write({ text: 'm0' });
    });
    assert.deepEqual(out, ['M0', 'M1', 'M2']);
  });

  it('retries a trailers-only UNAVAILABLE on a retryable route', async () => {
    const before = one.calls + two.calls;
    for (let i = 0; i < 10; i++) {
      const { reply, error } = await unary(echo, { text: 'flaky' });
      assert.equal(error, undefined, error?.message);
      assert.ok(reply?.text === 'one' || reply?.text === 'two');
    }
    assert.ok(one.calls + two.calls - before > 10, 'some calls took two attempts');
    const text = await proxy.metrics();
    assert.ok(metricValue(text, 'route_retryable_total', { dst: ECHO, rt_route: 'Unary', retry: 'retried' }) > 0);
    assert.ok(metricValue(text, 'route_actual_response_total', { dst: ECHO, rt_route: 'Unary', grpc_status: '14', classification: 'failure' }) > 0);
  });

  it('ends a call with DEADLINE_EXCEEDED when its route timeout passes', async () => {
    const patient = client(proxy.outbound.port, PATIENT);
    const { error } = await unary(patient, { hang: true });
    patient.close();
    assert.equal(error?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.match(error?.details ?? '', /response timed out/);
    const text = await proxy.metrics();
    assert.equal(metricValue(text, 'route_response_total', { dst: PATIENT, rt_route: 'all', grpc_status: '4', error: 'response_timeout' }), 1);
  });
});
