// gRPC through the real proxy process with a real @grpc/grpc-js client and server: every call type,
// status codes, messages and metadata (initial and trailing) intact, through one proxy and through two
// (as in a mesh), the metrics of gRPC responses, and the failures the proxy answers as gRPC statuses.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { closeServer, listen } from '../../../../test/support/net.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';

const PROTO = fileURLToPath(new URL('../../../../test/fixtures/grpc/echo.proto', import.meta.url));

interface EchoRequest {
  text?: string;
  count?: number;
  fail_code?: number;
  fail_message?: string;
  hang?: boolean;
  payload?: Buffer;
}

interface EchoReply {
  text: string;
  index: number;
  payload: Buffer;
}

type Callback = (error: grpc.ServiceError | null, reply?: EchoReply) => void;

interface EchoClient extends grpc.Client {
  Unary(request: EchoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): grpc.ClientUnaryCall;
  ServerStream(request: EchoRequest, metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<EchoReply>;
  ClientStream(metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): grpc.ClientWritableStream<EchoRequest>;
  Bidi(metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<EchoRequest, EchoReply>;
}

const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
const Echo = ((grpc.loadPackageDefinition(definition)['sluice'] as grpc.GrpcObject)['test'] as grpc.GrpcObject)[
  'Echo'
] as grpc.ServiceClientConstructor;

/** What the backend saw, for assertions on the server side of a call. */
interface Seen {
  /** The value of `x-request-id` of every call, in arrival order. */
  readonly requestIds: string[];
  /** Paths of calls the client cancelled. */
  readonly cancelled: string[];
}

function trailerFor(call: { metadata: grpc.Metadata }): grpc.Metadata {
  const trailer = new grpc.Metadata();
  trailer.set('x-trailer', 'bye');
  trailer.set('x-trailer-bin', Buffer.from([0, 1, 2, 254, 255]));
  const id = call.metadata.get('x-request-id')[0];
  if (id !== undefined) trailer.set('x-request-id', String(id));
  return trailer;
}

function initialFor(): grpc.Metadata {
  const initial = new grpc.Metadata();
  initial.set('x-initial', 'hello');
  initial.set('x-initial-bin', Buffer.from('binary ✓'));
  return initial;
}

function echoImplementation(seen: Seen): grpc.UntypedServiceImplementation {
  const note = (call: { metadata: grpc.Metadata; on(event: 'cancelled', listener: () => void): unknown }, path: string): void => {
    seen.requestIds.push(String(call.metadata.get('x-request-id')[0] ?? ''));
    call.on('cancelled', () => seen.cancelled.push(path));
  };
  return {
    Unary(call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
      note(call, 'Unary');
      const request = call.request;
      if (request.hang) return; // never answers: the caller's deadline has to end the call
      call.sendMetadata(initialFor());
      if (request.fail_code) {
        callback({ code: request.fail_code, details: request.fail_message ?? '', metadata: trailerFor(call) });
        return;
      }
      callback(null, { text: request.text ?? '', index: 0, payload: request.payload ?? Buffer.alloc(0) }, trailerFor(call));
    },
    ServerStream(call: grpc.ServerWritableStream<EchoRequest, EchoReply>) {
      note(call, 'ServerStream');
      const request = call.request;
      call.sendMetadata(initialFor());
      const count = request.count ?? 0;
      let index = 0;
      // Writes with backpressure, so that a slow client slows this writer down.
      const writeMore = (): void => {
        while (index < count && !call.cancelled) {
          const ok = call.write({ text: `${request.text} #${index}`, index, payload: request.payload ?? Buffer.alloc(0) });
          index++;
          if (!ok) {
            call.once('drain', writeMore);
            return;
          }
        }
        if (call.cancelled) return;
        if (request.fail_code) {
          call.emit('error', { code: request.fail_code, details: request.fail_message ?? '', metadata: trailerFor(call) });
          return;
        }
        call.end(trailerFor(call));
      };
      if (count === 0 && !request.fail_code && request.text === 'forever') return; // stays open until cancelled
      writeMore();
    },
    ClientStream(call: grpc.ServerReadableStream<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) {
      note(call, 'ClientStream');
      const texts: string[] = [];
      let bytes = 0;
      call.on('data', (request: EchoRequest) => {
        texts.push(request.text ?? '');
        bytes += request.payload?.length ?? 0;
      });
      call.on('end', () => {
        call.sendMetadata(initialFor());
        callback(null, { text: texts.join(','), index: texts.length, payload: Buffer.from(String(bytes)) }, trailerFor(call));
      });
    },
    Bidi(call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) {
      note(call, 'Bidi');
      call.sendMetadata(initialFor());
      let index = 0;
      call.on('data', (request: EchoRequest) => {
        if (request.fail_code) {
          call.emit('error', { code: request.fail_code, details: request.fail_message ?? '', metadata: trailerFor(call) });
          return;
        }
        call.write({ text: (request.text ?? '').toUpperCase(), index: index++, payload: Buffer.alloc(0) });
      });
      call.on('end', () => call.end(trailerFor(call)));
    },
  };
}

interface Backend {
  readonly addr: string;
  readonly seen: Seen;
  close(): void;
}

async function grpcBackend(): Promise<Backend> {
  const seen: Seen = { requestIds: [], cancelled: [] };
  const server = new grpc.Server();
  server.addService(Echo.service, echoImplementation(seen));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return { addr: `127.0.0.1:${port}`, seen, close: () => server.forceShutdown() };
}

/** A client of `proxyPort` whose calls name `authority` (where the proxy routes outbound gRPC). */
function echoClient(proxyPort: number, authority?: string): EchoClient {
  const options: grpc.ChannelOptions = authority === undefined ? {} : { 'grpc.default_authority': authority };
  return new Echo(`127.0.0.1:${proxyPort}`, grpc.credentials.createInsecure(), options) as unknown as EchoClient;
}

/** A client for one test, closed when the test ends. */
function testClient(t: TestContext, proxyPort: number, authority?: string): EchoClient {
  const client = echoClient(proxyPort, authority);
  t.after(() => client.close());
  return client;
}

interface Outcome<T> {
  readonly value: T | undefined;
  readonly error: grpc.ServiceError | undefined;
  readonly headers: grpc.Metadata | undefined;
  readonly status: grpc.StatusObject;
}

function withId(id: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('x-request-id', id);
  return metadata;
}

/** Runs a unary call to completion: its reply or error, initial metadata and final status. */
function unary(client: EchoClient, request: EchoRequest, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<Outcome<EchoReply>> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    let result: { value?: EchoReply; error?: grpc.ServiceError } | undefined;
    let status: grpc.StatusObject | undefined;
    const settle = (): void => {
      if (result !== undefined && status !== undefined) resolve({ value: result.value, error: result.error, headers, status });
    };
    const call = client.Unary(request, metadata, options, (error, value) => {
      result = error === null ? { value } : { error };
      settle();
    });
    call.on('metadata', (m: grpc.Metadata) => {
      headers = m;
    });
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      settle();
    });
  });
}

/** Collects a response stream: every message, initial metadata and the final status (never throws). */
function collect(call: grpc.ClientReadableStream<EchoReply> | grpc.ClientDuplexStream<EchoRequest, EchoReply>): Promise<Outcome<EchoReply[]>> {
  return new Promise((resolve) => {
    const replies: EchoReply[] = [];
    let headers: grpc.Metadata | undefined;
    let error: grpc.ServiceError | undefined;
    call.on('metadata', (m: grpc.Metadata) => {
      headers = m;
    });
    call.on('data', (reply: EchoReply) => replies.push(reply));
    call.on('error', (e: grpc.ServiceError) => {
      error = e;
    });
    call.on('status', (status: grpc.StatusObject) => {
      // 'status' may come before the last 'data'/'error': let them drain first.
      setImmediate(() => resolve({ value: replies, error, headers, status }));
    });
  });
}

function assertTrailers(trailers: grpc.Metadata, id: string): void {
  assert.equal(trailers.get('x-trailer')[0], 'bye');
  assert.deepEqual(trailers.get('x-trailer-bin')[0], Buffer.from([0, 1, 2, 254, 255]));
  assert.equal(trailers.get('x-request-id')[0], id);
}

function assertInitial(headers: grpc.Metadata | undefined): void {
  assert.equal(headers?.get('x-initial')[0], 'hello');
  assert.deepEqual(headers?.get('x-initial-bin')[0], Buffer.from('binary ✓'));
}

function assertAlive(proxy: RunningProxy): void {
  assert.equal(proxy.child.exitCode, null, `proxy exited:\n${proxy.logs()}`);
  assert.equal(proxy.child.signalCode, null, `proxy was killed:\n${proxy.logs()}`);
}

/** Every call type, exercised against `client`; used through one proxy, through two, and with workers=0. */
function callTypeTests(context: () => { client: EchoClient; backend: Backend }): void {
  it('unary: reply, request metadata, initial and trailing metadata intact', async () => {
    const { client, backend } = context();
    const payload = Buffer.alloc(1024 * 1024, 7);
    const outcome = await unary(client, { text: 'hello', payload }, withId('unary-1'));
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.value?.text, 'hello');
    assert.equal(outcome.value?.payload.length, payload.length);
    assert.ok(outcome.value?.payload.equals(payload));
    assert.equal(outcome.status.code, grpc.status.OK);
    assertInitial(outcome.headers);
    assertTrailers(outcome.status.metadata, 'unary-1');
    assert.ok(backend.seen.requestIds.includes('unary-1'));
  });

  it('server streaming: every message in order, then the status and trailing metadata', async () => {
    const { client } = context();
    const outcome = await collect(client.ServerStream({ text: 'item', count: 200, payload: Buffer.alloc(4096, 1) }, withId('ss-1')));
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.status.code, grpc.status.OK);
    assert.deepEqual(
      outcome.value?.map((r) => r.index),
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.equal(outcome.value?.[199]?.text, 'item #199');
    assertInitial(outcome.headers);
    assertTrailers(outcome.status.metadata, 'ss-1');
  });

  it('client streaming: every message reaches the server, one reply comes back', async () => {
    const { client } = context();
    const outcome = await new Promise<Outcome<EchoReply>>((resolve) => {
      let headers: grpc.Metadata | undefined;
      let result: { value?: EchoReply; error?: grpc.ServiceError } | undefined;
      let status: grpc.StatusObject | undefined;
      const settle = (): void => {
        if (result !== undefined && status !== undefined) resolve({ value: result.value, error: result.error, headers, status });
      };
      const call = client.ClientStream(withId('cs-1'), {}, (error, value) => {
        result = error === null ? { value } : { error };
        settle();
      });
      call.on('metadata', (m: grpc.Metadata) => {
        headers = m;
      });
      call.on('status', (s: grpc.StatusObject) => {
        status = s;
        settle();
      });
      for (let i = 0; i < 50; i++) call.write({ text: `m${i}`, payload: Buffer.alloc(10_000) });
      call.end();
    });
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.value?.index, 50);
    assert.equal(outcome.value?.text, Array.from({ length: 50 }, (_, i) => `m${i}`).join(','));
    assert.equal(outcome.value?.payload.toString(), '500000');
    assertInitial(outcome.headers);
    assertTrailers(outcome.status.metadata, 'cs-1');
  });

  it('bidirectional streaming: each reply arrives before the next request is sent', async () => {
    const { client } = context();
    const call = client.Bidi(withId('bidi-1'));
    const done = collect(call);
    const replies: EchoReply[] = [];
    call.on('data', (reply: EchoReply) => replies.push(reply));
    // Ping-pong: a proxy that held messages back until the end of a stream would deadlock here.
    for (let i = 0; i < 20; i++) {
      call.write({ text: `ping ${i}` });
      await new Promise<void>((resolve) => call.once('data', () => resolve()));
      assert.equal(replies[i]?.text, `PING ${i}`);
    }
    call.end();
    const outcome = await done;
    assert.equal(outcome.status.code, grpc.status.OK);
    assert.equal(outcome.value?.length, 20);
    assertInitial(outcome.headers);
    assertTrailers(outcome.status.metadata, 'bidi-1');
  });

  it('non-OK statuses: code, message (non-ASCII, percent-encoded on the wire) and trailing metadata intact', async () => {
    const { client } = context();
    const message = 'café: 100% not here ✓\nsecond line';
    const failed = await unary(client, { text: 'x', fail_code: grpc.status.NOT_FOUND, fail_message: message }, withId('err-1'));
    assert.equal(failed.error?.code, grpc.status.NOT_FOUND);
    assert.equal(failed.error?.details, message);
    assertTrailers(failed.status.metadata, 'err-1');
    assert.equal(failed.status.metadata.get('sluice-proxy-error').length, 0, 'the upstream answered, not the proxy');

    const midStream = await collect(
      client.ServerStream({ text: 'part', count: 3, fail_code: grpc.status.RESOURCE_EXHAUSTED, fail_message: 'quota' }, withId('err-2')),
    );
    assert.equal(midStream.value?.length, 3);
    assert.equal(midStream.status.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(midStream.status.details, 'quota');
    assertTrailers(midStream.status.metadata, 'err-2');

    const bidi = client.Bidi(withId('err-3'));
    const bidiDone = collect(bidi);
    bidi.write({ text: 'fine' });
    bidi.write({ fail_code: grpc.status.PERMISSION_DENIED, fail_message: 'no' });
    const bidiOutcome = await bidiDone;
    assert.equal(bidiOutcome.status.code, grpc.status.PERMISSION_DENIED);
    assert.equal(bidiOutcome.status.details, 'no');
  });

  it('a call the client cancels is cancelled on the server too', async () => {
    const { client, backend } = context();
    const before = backend.seen.cancelled.length;
    const call = client.ServerStream({ text: 'forever' }, withId('cancel-1'));
    const done = collect(call);
    await new Promise<void>((resolve) => call.once('metadata', () => resolve()));
    call.cancel();
    const outcome = await done;
    assert.equal(outcome.status.code, grpc.status.CANCELLED);
    const deadline = Date.now() + 5000;
    while (backend.seen.cancelled.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(backend.seen.cancelled.length > before, 'the server saw the cancellation');
  });
}

describe('gRPC through one proxy', () => {
  let backend: Backend;
  let proxy: RunningProxy;
  let client: EchoClient;

  before(async () => {
    backend = await grpcBackend();
    proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: backend.addr });
    client = echoClient(proxy.outbound.port, backend.addr);
  });
  after(async () => {
    client.close();
    await proxy.stop();
    backend.close();
  });

  callTypeTests(() => ({ client, backend }));

  it('counts gRPC responses with their grpc_status; a non-OK status is a failure', async () => {
    await unary(client, { text: 'ok' });
    await unary(client, { fail_code: grpc.status.NOT_FOUND, fail_message: 'gone' });
    const metrics = await proxy.metrics();
    const labels = { direction: 'outbound', authority: backend.addr };
    assert.ok(metricValue(metrics, 'response_total', { ...labels, grpc_status: '0', classification: 'success' }) >= 1, metrics);
    assert.ok(metricValue(metrics, 'response_total', { ...labels, grpc_status: '5', classification: 'failure' }) >= 1, metrics);
    assert.equal(metricValue(metrics, 'response_total', { ...labels, grpc_status: '5', classification: 'success' }), 0);
    assertAlive(proxy);
  });
});

describe('gRPC through two proxies (outbound of one, inbound of the other)', () => {
  let backend: Backend;
  let server: RunningProxy;
  let clientSide: RunningProxy;
  let client: EchoClient;

  before(async () => {
    backend = await grpcBackend();
    server = await startProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: backend.addr });
    clientSide = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${server.inbound.port}` });
    // The default authority names the client-side proxy itself, so it uses its forward address.
    client = echoClient(clientSide.outbound.port);
  });
  after(async () => {
    client.close();
    await clientSide.stop();
    await server.stop();
    backend.close();
  });

  callTypeTests(() => ({ client, backend }));

  it('both proxies saw the calls, each in its direction', async () => {
    await unary(client, { fail_code: grpc.status.ALREADY_EXISTS, fail_message: 'twice' });
    const outbound = await clientSide.metrics();
    const inbound = await server.metrics();
    assert.ok(metricValue(outbound, 'response_total', { direction: 'outbound', grpc_status: '0' }) >= 1, outbound);
    assert.ok(metricValue(inbound, 'response_total', { direction: 'inbound', grpc_status: '0' }) >= 1, inbound);
    assert.ok(metricValue(outbound, 'response_total', { direction: 'outbound', grpc_status: '6', classification: 'failure' }) >= 1);
    assert.ok(metricValue(inbound, 'response_total', { direction: 'inbound', grpc_status: '6', classification: 'failure' }) >= 1);
    assertAlive(clientSide);
    assertAlive(server);
  });
});

/** An address nothing listens on (a port just released). */
async function deadAddress(): Promise<string> {
  const server = net.createServer();
  const port = await listen(server);
  await closeServer(server);
  return `127.0.0.1:${port}`;
}

/** What a gRPC backend that never answers and never enforces deadlines saw of each call. */
interface SilentCall {
  readonly grpcTimeout: string | undefined;
  /** When the proxy ended the upstream stream (it is never ended from this side). */
  closedAt: number | undefined;
}

/**
 * A raw HTTP/2 gRPC backend that accepts every call and never answers: unlike a grpc-js server, it
 * ignores `grpc-timeout`, so a DEADLINE_EXCEEDED can only come from the proxy.
 */
async function silentGrpcBackend(): Promise<{ addr: string; calls: SilentCall[]; close(): Promise<void> }> {
  const calls: SilentCall[] = [];
  const server = http2.createServer();
  // http2 servers keep their connections open on close(): end them here.
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('stream', (stream, headers) => {
    const timeout = headers['grpc-timeout'];
    const call: SilentCall = { grpcTimeout: typeof timeout === 'string' ? timeout : undefined, closedAt: undefined };
    calls.push(call);
    stream.on('error', () => {});
    stream.on('close', () => (call.closedAt = Date.now()));
    stream.resume();
  });
  const port = await listen(server);
  return {
    addr: `127.0.0.1:${port}`,
    calls,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * One unary call from a raw HTTP/2 client that sends `grpc-timeout` but enforces nothing itself: it
 * waits (up to `giveUpMs`) for whatever the proxy answers. Returns the grpc-status and when it came.
 */
async function callWithoutClientDeadline(proxyPort: number, authority: string, grpcTimeout: string, giveUpMs: number): Promise<{ grpcStatus: string | undefined; elapsedMs: number }> {
  const session = http2.connect(`http://127.0.0.1:${proxyPort}`);
  session.on('error', () => {});
  try {
    const message = Echo.service['Unary']?.requestSerialize({ text: 'no client deadline' }) as Buffer;
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    const started = Date.now();
    const stream = session.request({
      ':method': 'POST',
      ':path': '/sluice.test.Echo/Unary',
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': grpcTimeout,
    });
    stream.end(frame);
    stream.resume();
    let grpcStatus: string | undefined;
    // A trailers-only answer carries grpc-status in the response headers; otherwise in the trailers.
    const note = (headers: http2.IncomingHttpHeaders): void => {
      const value = headers['grpc-status'];
      if (typeof value === 'string') grpcStatus = value;
    };
    stream.on('response', note);
    stream.on('trailers', note);
    const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), giveUpMs);
    await once(stream, 'close');
    clearTimeout(timer);
    return { grpcStatus, elapsedMs: Date.now() - started };
  } finally {
    session.destroy();
  }
}

function failureTests(context: () => { proxy: RunningProxy; backend: Backend }): void {
  /** After a failure the proxy still serves calls, and still runs. */
  async function stillServes(t: TestContext): Promise<void> {
    const { proxy, backend } = context();
    const client = testClient(t, proxy.outbound.port, backend.addr);
    const outcome = await unary(client, { text: 'still here' });
    assert.equal(outcome.value?.text, 'still here');
    assertAlive(proxy);
  }

  it('upstream not listening: UNAVAILABLE with sluice-proxy-error metadata', async (t) => {
    const { proxy } = context();
    const client = testClient(t, proxy.outbound.port, await deadAddress());
    const outcome = await unary(client, { text: 'x' });
    assert.equal(outcome.error?.code, grpc.status.UNAVAILABLE);
    assert.equal(outcome.error?.details, 'connection refused by upstream');
    assert.equal(outcome.status.metadata.get('sluice-proxy-error')[0], 'connection refused by upstream');
    await stillServes(t);
  });

  it('no destination: UNAVAILABLE with sluice-proxy-error metadata', async (t) => {
    const { proxy } = context();
    // No forward address is configured and the authority names the proxy itself.
    const client = testClient(t, proxy.outbound.port);
    const outcome = await unary(client, { text: 'x' });
    assert.equal(outcome.error?.code, grpc.status.UNAVAILABLE);
    assert.equal(outcome.status.metadata.get('sluice-proxy-error')[0], 'no destination for this request');
    await stillServes(t);
  });

  it("deadline passing while the upstream hangs: DEADLINE_EXCEEDED, and the HTTP timeout doesn't apply", async (t) => {
    const { proxy, backend } = context();
    const client = testClient(t, proxy.outbound.port, backend.addr);
    // Longer than SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT (200ms): only the call's own deadline counts.
    const outcome = await unary(client, { hang: true }, new grpc.Metadata(), { deadline: Date.now() + 600 });
    assert.equal(outcome.error?.code, grpc.status.DEADLINE_EXCEEDED);
    await stillServes(t);
  });

  it('the proxy itself enforces grpc-timeout: a caller that does not gets DEADLINE_EXCEEDED, and the upstream call is ended', async (t) => {
    const { proxy } = context();
    const silent = await silentGrpcBackend();
    t.after(() => silent.close());
    // 500 ms: longer than SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT (200ms), which must not apply to gRPC.
    const outcome = await callWithoutClientDeadline(proxy.outbound.port, silent.addr, '500m', 10_000);
    assert.equal(outcome.grpcStatus, String(grpc.status.DEADLINE_EXCEEDED), `answered after ${outcome.elapsedMs} ms`);
    assert.ok(outcome.elapsedMs >= 450 && outcome.elapsedMs < 3000, `DEADLINE_EXCEEDED after ${outcome.elapsedMs} ms, expected about 500 ms`);
    // The deadline travelled upstream (never longer than the caller's), and the proxy ended the call there.
    assert.equal(silent.calls.length, 1);
    const seen = silent.calls[0] as SilentCall;
    const [, amount, unit] = /^(\d{1,8})([HMSmun])$/.exec(seen.grpcTimeout ?? '') ?? [];
    const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
    const upstreamMs = Number(amount) * (unitMs[unit ?? ''] ?? Number.NaN);
    assert.ok(upstreamMs > 0 && upstreamMs <= 500, `grpc-timeout upstream: ${seen.grpcTimeout}`);
    const deadline = Date.now() + 5000;
    while (seen.closedAt === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(seen.closedAt !== undefined, 'the upstream stream is still open after the deadline');
    await stillServes(t);
  });
}

describe('gRPC failures the proxy answers', () => {
  let backend: Backend;
  let proxy: RunningProxy;
  before(async () => {
    backend = await grpcBackend();
    proxy = await startProxy({ SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '200ms' });
  });
  after(async () => {
    await proxy.stop();
    backend.close();
  });
  failureTests(() => ({ proxy, backend }));
});

describe('gRPC with SLUICE_PROXY_WORKERS=0', () => {
  let backend: Backend;
  let proxy: RunningProxy;
  let client: EchoClient;
  before(async () => {
    backend = await grpcBackend();
    proxy = await startProxy({ SLUICE_PROXY_WORKERS: '0', SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '200ms' });
    client = echoClient(proxy.outbound.port, backend.addr);
  });
  after(async () => {
    client.close();
    await proxy.stop();
    backend.close();
  });

  callTypeTests(() => ({ client, backend }));
  failureTests(() => ({ proxy, backend }));
});
