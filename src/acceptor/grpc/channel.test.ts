// The lean gRPC client against real servers: @grpc/grpc-js serving the project's own Destination and
// Telemetry services (unary, streaming, large and oversized messages, deadlines, error statuses with
// messages, cancellation, a server shutting down, a refused connection), and a server on our HTTP/2
// engine that sends GOAWAY before answering (the refused call is sent again on a new connection).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../api/proto.ts';
import type { ReportRequest } from '../../api/telemetry-messages.ts';
import { H2Connection } from '../../workers/http2/connection.ts';
import { encodeGoaway } from '../../workers/http2/frames.ts';
import type { H2Handler } from '../../workers/http2/handler.ts';
import type { H2Stream } from '../../workers/http2/stream.ts';
import type { UpdateMsg } from '../destination-decode.ts';
import { GrpcChannel, type CallObserver } from './channel.ts';
import { DestinationGet, TelemetryReport } from './control-methods.ts';
import { frameMessage } from './framing.ts';
import { Status, type GrpcStatus } from './status.ts';

type Handlers = Record<string, grpc.UntypedHandleCall>;

async function startServer(destination: Handlers, telemetry: Handlers): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(lookup<grpc.ServiceClientConstructor>(loadProto('destination.proto'), 'io.linkerd.proxy.destination.Destination').service, destination);
  server.addService(lookup<grpc.ServiceClientConstructor>(loadProto('telemetry.proto'), 'sluice.proxy.telemetry.Telemetry').service, telemetry);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  return { server, port };
}

function channelTo(port: number, maxReceiveMessageBytes?: number): GrpcChannel {
  return new GrpcChannel({
    authority: `127.0.0.1:${port}`,
    connect: () => net.connect({ host: '127.0.0.1', port }),
    ...(maxReceiveMessageBytes !== undefined ? { maxReceiveMessageBytes } : {}),
  });
}

/** Collects one streaming call: its messages and its status. */
function collect<M>(): { observer: CallObserver<M>; messages: M[]; ended: Promise<GrpcStatus>; firstMessage: Promise<void> } {
  const messages: M[] = [];
  let done: (status: GrpcStatus) => void = () => {};
  let first: () => void = () => {};
  const ended = new Promise<GrpcStatus>((resolve) => (done = resolve));
  const firstMessage = new Promise<void>((resolve) => (first = resolve));
  return {
    messages,
    ended,
    firstMessage,
    observer: {
      message: (m) => {
        messages.push(m);
        first();
      },
      status: (s) => done(s),
    },
  };
}

const GET = { scheme: 'k8s', path: 'web.ns.svc.cluster.local:80', context_token: '' };

function ipv4(n: number): UpdateMsg['add'] {
  return { addrs: [{ addr: { ip: { ipv4: n, ip: 'ipv4' }, port: 8080 }, weight: 1 }] };
}

describe('gRPC channel against grpc-js', { timeout: 30_000 }, () => {
  let server: grpc.Server;
  let port: number;
  const reports: unknown[] = [];
  const cancelled: string[] = [];
  let gotDeadline: Date | number | undefined;

  before(async () => {
    ({ server, port } = await startServer(
      {
        Get: (call: grpc.ServerWritableStream<{ path: string }, unknown>) => {
          call.on('cancelled', () => cancelled.push(call.request.path));
          const path = call.request.path;
          if (path === 'three:80') {
            call.write({ add: ipv4(0x0a000001) });
            call.write({ add: { addrs: [{ addr: { ip: { ipv6: { first: '18446744073709551615', last: '1' } }, port: 80 }, metric_labels: { pod: 'web-1' } }] } });
            call.write({ no_endpoints: { exists: true } });
            call.end();
          } else if (path === 'unknown:80') {
            call.emit('error', { code: grpc.status.NOT_FOUND, details: 'no such service: ünïcode, 100% sure' });
          } else if (path === 'one-then-fail:80') {
            call.write({ add: ipv4(1) });
            call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'going down' });
          } else if (path === 'large:80') {
            const addrs = Array.from({ length: 20_000 }, (_, i) => ({ addr: { ip: { ipv4: i, ip: 'ipv4' }, port: 1 + (i % 65535) }, weight: i }));
            call.write({ add: { addrs } });
            call.end();
          } else if (path === 'hang:80') {
            call.write({ add: ipv4(2) });
          }
        },
        GetProfile: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
      },
      {
        Report: (call: grpc.ServerUnaryCall<ReportRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          if (call.request.instance_id === 'slow') {
            gotDeadline = call.getDeadline();
            return; // never answers
          }
          reports.push(call.request);
          callback(null, {});
        },
      },
    ));
  });

  after(() => server.forceShutdown());

  it('makes a unary call; the server reads the request as proto-loader would', async () => {
    const channel = channelTo(port);
    const request: ReportRequest = {
      process: { scheduled_instance: 'web-1', scheduled_namespace: 'ns', workload: 'deploy/web' },
      proxy: 'OUTBOUND',
      requests: [{ ctx: { authority: 'web', target_addr: { ip: { ipv4: 0x7f000001, ip: 'ipv4' }, port: 80 } }, count: 3, responses: [{ ctx: { http_status_code: 200 }, response_latency_counts: [1, 0, 2] }] }],
      histogram_bucket_bounds_tenth_ms: [10, 20, 30],
      instance_id: 'abc',
      sequence: 7,
      interval_ms: 10_000,
    };
    assert.deepEqual(await channel.unary(TelemetryReport, request, { timeoutMs: 5000 }), {});
    assert.deepStrictEqual(reports.at(-1), request);
    channel.close();
  });

  it('streams messages, then the OK status', async () => {
    const channel = channelTo(port);
    const call = collect<UpdateMsg>();
    channel.serverStream(DestinationGet, { ...GET, path: 'three:80' }, call.observer);
    assert.deepEqual(await call.ended, { code: Status.OK, details: 'OK' });
    assert.deepStrictEqual(call.messages, [
      { add: ipv4(0x0a000001), update: 'add' },
      { add: { addrs: [{ addr: { ip: { ipv6: { first: '18446744073709551615', last: '1' }, ip: 'ipv6' }, port: 80 }, metric_labels: { pod: 'web-1' } }] }, update: 'add' },
      { no_endpoints: { exists: true }, update: 'no_endpoints' },
    ]);
    channel.close();
  });

  it('reassembles a message spread over many DATA frames and windows', async () => {
    const channel = channelTo(port);
    const call = collect<UpdateMsg>();
    channel.serverStream(DestinationGet, { ...GET, path: 'large:80' }, call.observer);
    assert.equal((await call.ended).code, Status.OK);
    const addrs = call.messages[0]?.add?.addrs ?? [];
    assert.equal(addrs.length, 20_000);
    assert.deepStrictEqual(addrs[19_999], { addr: { ip: { ipv4: 19_999, ip: 'ipv4' }, port: 1 + 19_999 }, weight: 19_999 });
    channel.close();
  });

  it('refuses a message over the size limit (RESOURCE_EXHAUSTED) and cancels the stream', async () => {
    const channel = channelTo(port, 64 << 10);
    const call = collect<UpdateMsg>();
    channel.serverStream(DestinationGet, { ...GET, path: 'large:80' }, call.observer);
    const status = await call.ended;
    assert.equal(status.code, Status.RESOURCE_EXHAUSTED);
    assert.match(status.details, /exceeds the limit of 65536/);
    channel.close();
  });

  it('reports the server error status and its percent-encoded message (trailers-only)', async () => {
    const channel = channelTo(port);
    const call = collect<UpdateMsg>();
    channel.serverStream(DestinationGet, { ...GET, path: 'unknown:80' }, call.observer);
    assert.deepEqual(await call.ended, { code: Status.NOT_FOUND, details: 'no such service: ünïcode, 100% sure' });
    assert.deepEqual(call.messages, []);
    channel.close();
  });

  it('delivers the messages sent before an error status', async () => {
    const channel = channelTo(port);
    const call = collect<UpdateMsg>();
    channel.serverStream(DestinationGet, { ...GET, path: 'one-then-fail:80' }, call.observer);
    assert.deepEqual(await call.ended, { code: Status.UNAVAILABLE, details: 'going down' });
    assert.equal(call.messages.length, 1);
    channel.close();
  });

  it('sends grpc-timeout and ends a call past its deadline with DEADLINE_EXCEEDED', async () => {
    const channel = channelTo(port);
    const started = Date.now();
    await assert.rejects(channel.unary(TelemetryReport, { instance_id: 'slow' }, { timeoutMs: 300 }), (error: Error & { code?: number }) => {
      assert.equal(error.code, Status.DEADLINE_EXCEEDED);
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
    const deadline = gotDeadline instanceof Date ? gotDeadline.getTime() : Number(gotDeadline);
    assert.ok(deadline - started <= 1000, `the server saw the deadline (${String(gotDeadline)})`);
    channel.close();
  });

  it('cancels a call with RST_STREAM: the server sees it cancelled', async () => {
    const channel = channelTo(port);
    const call = collect<UpdateMsg>();
    const handle = channel.serverStream(DestinationGet, { ...GET, path: 'hang:80' }, call.observer);
    await call.firstMessage;
    handle.cancel();
    assert.equal((await call.ended).code, Status.CANCELLED);
    await eventually(() => cancelled.includes('hang:80'));
    channel.close();
  });

  it('shares one connection among calls, and fails every open call with UNAVAILABLE when the connection is lost mid-stream', async () => {
    const sockets: net.Socket[] = [];
    const relay = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port });
      sockets.push(client, upstream);
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    try {
      const channel = channelTo((relay.address() as net.AddressInfo).port);
      const calls = [collect<UpdateMsg>(), collect<UpdateMsg>()];
      for (const call of calls) channel.serverStream(DestinationGet, { ...GET, path: 'hang:80' }, call.observer);
      await Promise.all(calls.map((c) => c.firstMessage));
      assert.equal(sockets.length, 2, 'one connection');
      for (const socket of sockets) socket.destroy();
      for (const call of calls) assert.equal((await call.ended).code, Status.UNAVAILABLE);
      channel.close();
    } finally {
      relay.close();
    }
  });

  it('ends the open calls when the server shuts down', async () => {
    const { server: doomed, port: doomedPort } = await startServer(
      { Get: (call: grpc.ServerWritableStream<unknown, unknown>) => call.write({ add: ipv4(3) }), GetProfile: () => {} },
      {},
    );
    const channel = channelTo(doomedPort);
    const call = collect<UpdateMsg>();
    channel.serverStream(DestinationGet, GET, call.observer);
    await call.firstMessage;
    doomed.forceShutdown();
    // grpc-js resets its streams (CANCEL) as it goes: CANCELLED, as grpc-js's own client reports it.
    assert.ok([Status.CANCELLED, Status.UNAVAILABLE].includes((await call.ended).code as 1 | 14));
    channel.close();
  });

  it('reports a refused connection as UNAVAILABLE, with the cause', async () => {
    const closed = net.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const deadPort = (closed.address() as net.AddressInfo).port;
    closed.close();
    const channel = channelTo(deadPort);
    await assert.rejects(channel.unary(TelemetryReport, {}, { timeoutMs: 5000 }), (error: Error & { code?: number }) => {
      assert.equal(error.code, Status.UNAVAILABLE);
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
    channel.close();
  });
});

describe('gRPC channel and GOAWAY', { timeout: 30_000 }, () => {
  it('sends a call refused by GOAWAY again on a new connection', async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      const first = ++connections === 1;
      const handler: H2Handler = {
        onRequestHeaders(stream: H2Stream) {
          if (first) {
            // Going away before processing anything: the stream is above the last id (0).
            socket.write(encodeGoaway(0, 0, 'restarting'));
            socket.end();
            return;
          }
          conn.sendHeaders(stream, [':status', '200', 'content-type', 'application/grpc'], false);
          conn.sendData(stream, frameMessage(Buffer.alloc(0)), false);
          conn.sendTrailers(stream, ['grpc-status', '0']);
        },
        onData: (stream, data) => conn.consumed(stream, data.length),
        onResponseHeaders() {},
        onHeadersTooLarge() {},
        onTrailers() {},
        onReset() {},
        onGoaway() {},
        onStreamWindow() {},
        onStreamCapacity() {},
        onPingAck() {},
        onClose() {},
      };
      const conn = new H2Connection(socket, 'server', handler);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const channel = channelTo((server.address() as net.AddressInfo).port);
    assert.deepEqual(await channel.unary(TelemetryReport, {}, { timeoutMs: 5000 }), {});
    assert.equal(connections, 2);
    channel.close();
    server.close();
  });
});

describe('gRPC channel and the server stream limit', { timeout: 30_000 }, () => {
  it('queues calls beyond SETTINGS_MAX_CONCURRENT_STREAMS and opens them as streams end', async () => {
    let open = 0;
    let most = 0;
    const server = net.createServer((socket) => {
      const handler: H2Handler = {
        onRequestHeaders(stream: H2Stream) {
          most = Math.max(most, ++open);
          setTimeout(() => {
            open--;
            conn.sendHeaders(stream, [':status', '200', 'content-type', 'application/grpc'], false);
            conn.sendData(stream, frameMessage(Buffer.alloc(0)), false);
            conn.sendTrailers(stream, ['grpc-status', '0']);
          }, 30);
        },
        onData: (stream, data) => conn.consumed(stream, data.length),
        onResponseHeaders() {},
        onHeadersTooLarge() {},
        onTrailers() {},
        onReset() {},
        onGoaway() {},
        onStreamWindow() {},
        onStreamCapacity() {},
        onPingAck() {},
        onClose() {},
      };
      const conn = new H2Connection(socket, 'server', handler, { maxConcurrentStreams: 1 });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const channel = channelTo((server.address() as net.AddressInfo).port);
    // The first call also brings the server's SETTINGS (its limit of one stream).
    await channel.unary(TelemetryReport, {}, { timeoutMs: 5000 });
    const replies = await Promise.all(Array.from({ length: 4 }, () => channel.unary(TelemetryReport, {}, { timeoutMs: 5000 })));
    assert.deepEqual(replies, [{}, {}, {}, {}]);
    assert.equal(most, 1);
    channel.close();
    server.close();
  });
});

async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
