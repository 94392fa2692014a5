// The engine as an HTTP/2 client (as the proxy uses it towards upstreams) to real servers: node:http2,
// nghttpd and a @grpc/grpc-js server; to a raw server for GOAWAY and the client-side error rules; and to the engine's own server role
// with a reader that stops reading, to show that memory stays bounded by the windows.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, Flag, FrameType, encodeFrame, encodeGoaway, encodeSettings, encodeSettingsAck } from './frames.ts';
import { EngineClient, patternBytes, startEchoServer } from '../../../test/support/h2-engine.ts';
import { RawPeer } from '../../../test/support/h2-raw.ts';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const GET = (path: string, authority = 'test'): string[] => [':method', 'GET', ':scheme', 'http', ':path', path, ':authority', authority];
const POST = (path: string): string[] => [':method', 'POST', ':scheme', 'http', ':path', path, ':authority', 'test'];

describe('engine client → node:http2 server', { timeout: 30_000 }, () => {
  let server: http2.Http2Server;
  let port: number;
  let client: EngineClient;
  let inFlight = 0;
  let peakInFlight = 0;

  before(async () => {
    server = http2.createServer({ settings: { initialWindowSize: 16_384, maxConcurrentStreams: 2, maxHeaderListSize: 128 << 10 }, maxSessionMemory: 64 });
    server.on('stream', (stream, headers) => {
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      stream.once('close', () => inFlight--);
      stream.on('error', () => {});
      const path = headers[':path'] ?? '/';
      if (path === '/early') {
        stream.additionalHeaders({ ':status': 103, link: '</a.css>; rel=preload' });
        stream.respond({ ':status': 200 }, { endStream: true });
      } else if (path === '/refuse') {
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      } else if (path === '/trailers') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from('msg'));
      } else if (path === '/head') {
        stream.respond({ ':status': 200, 'content-length': '1234' }, { endStream: true });
      } else if (path === '/header-size') {
        stream.respond({ ':status': 200, 'x-size': String(String(headers['x-big'] ?? '').length) }, { endStream: true });
      } else if (path === '/slow') {
        setTimeout(() => stream.respond({ ':status': 200 }, { endStream: true }), 20);
      } else {
        // Echo: the request body back, as it arrives.
        stream.respond({ ':status': 200 });
        stream.pipe(stream);
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    client = await EngineClient.connect(port, { streamWindow: 16_384, connectionWindow: 65_535 });
  });
  after(async () => {
    client.conn.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('echoes 5 MB both ways through 16 KiB windows', async () => {
    const body = patternBytes(5 << 20, 11);
    const { response } = await client.request(POST('/echo'), body);
    const r = await response;
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), sha(body));
  });

  it('reports 1xx heads, then the final one; trailers; a HEAD response with content-length and no body', async () => {
    const early = await (await client.request(GET('/early'))).response;
    assert.deepEqual([early.informational, early.status], [[103], 200]);
    const grpc = await (await client.request(POST('/trailers'), Buffer.alloc(0))).response;
    assert.deepEqual(grpc.trailers, ['grpc-status', '0']);
    assert.equal(grpc.body.toString(), 'msg');
    const head = await (await client.request([':method', 'HEAD', ':scheme', 'http', ':path', '/head', ':authority', 'test'])).response;
    assert.deepEqual([head.status, head.resetCode, head.body.length], [200, null, 0]);
  });

  it('a 40 KB request head goes out as HEADERS + CONTINUATION frames', async () => {
    const r = await (await client.request([...GET('/header-size'), 'x-big', 'b'.repeat(40_000)])).response;
    assert.deepEqual([r.status, r.headers[r.headers.indexOf('x-size') + 1]], [200, '40000']);
  });

  it('a stream the server refuses is reported with REFUSED_STREAM (retryable)', async () => {
    const r = await (await client.request(GET('/refuse'))).response;
    assert.equal(r.resetCode, ErrorCode.REFUSED_STREAM);
  });

  it("respects the server's SETTINGS_MAX_CONCURRENT_STREAMS: 20 requests, never more than 2 at once", async () => {
    peakInFlight = 0;
    const responses = await Promise.all(Array.from({ length: 20 }, async () => (await client.request(GET('/slow'))).response));
    assert.ok(responses.every((r) => r.status === 200));
    assert.equal(client.conn.peerMaxConcurrentStreams, 2);
    assert.ok(peakInFlight <= 2, `peak ${peakInFlight}`);
  });
});

describe('engine client → nghttpd', { timeout: 30_000 }, () => {
  let nghttpd: ChildProcess | undefined;
  let dir: string;
  let port = 0;

  before(async () => {
    if (spawnSync('nghttpd', ['--version']).error !== undefined) return;
    dir = mkdtempSync(join(tmpdir(), 'nghttpd-'));
    writeFileSync(join(dir, 'big.bin'), patternBytes(3 << 20, 5));
    // nghttpd takes a port number: borrow a free one from the kernel.
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    nghttpd = spawn('nghttpd', ['--no-tls', '-a', '127.0.0.1', '-d', dir, String(port)], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(50);
    }
    throw new Error('nghttpd did not start');
  });
  after(() => {
    nghttpd?.kill();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('downloads a 3 MB file with 16 KiB windows, and gets 404 for a missing one', async (t: TestContext) => {
    if (nghttpd === undefined) {
      const reason = 'nghttpd is not installed (nghttp2-server; run scripts/system-deps.sh test)';
      if (process.env.CI === 'true') assert.fail(reason);
      return t.skip(reason);
    }
    const client = await EngineClient.connect(port, { streamWindow: 16_384, connectionWindow: 65_535 });
    try {
      const [big, missing] = await Promise.all([(await client.request(GET('/big.bin'))).response, (await client.request(GET('/nope'))).response]);
      assert.equal(big.status, 200);
      assert.equal(sha(big.body), sha(patternBytes(3 << 20, 5)));
      assert.equal(missing.status, 404);
    } finally {
      client.conn.close();
    }
  });
});

describe('engine client → raw server: GOAWAY and client-side rules', { timeout: 20_000 }, () => {
  async function rawServer(): Promise<{ port: number; accepted: Promise<RawPeer>; close(): void }> {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = new Promise<RawPeer>((resolve) =>
      server.once('connection', (socket) => {
        const peer = RawPeer.accept(socket);
        peer.send(encodeSettings([]), encodeSettingsAck());
        resolve(peer);
      }),
    );
    return { port: (server.address() as net.AddressInfo).port, accepted, close: () => server.close() };
  }

  it('streams above GOAWAY last-stream-id are REFUSED_STREAM; those below finish; no new streams', async () => {
    const srv = await rawServer();
    const client = await EngineClient.connect(srv.port);
    try {
      const one = await client.request(GET('/1'));
      const three = await client.request(GET('/3'));
      const peer = await srv.accepted;
      await peer.waitFor((f) => f.type === FrameType.HEADERS && f.streamId === 3, 'both requests');
      peer.send(encodeGoaway(1, ErrorCode.NO_ERROR));
      assert.equal((await three.response).resetCode, ErrorCode.REFUSED_STREAM);
      assert.equal(client.conn.canOpenStream(), false);
      assert.deepEqual(client.goaways, [[1, ErrorCode.NO_ERROR]]);
      peer.send(peer.headers(1, [':status', '200'], false), encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from('done')));
      const r = await one.response;
      assert.deepEqual([r.status, r.body.toString()], [200, 'done']);
      await peer.closed();
      assert.equal(client.closeError, null);
    } finally {
      srv.close();
    }
  });

  it('a malformed response is a stream PROTOCOL_ERROR; HEADERS on a stream we never opened a connection one', async () => {
    const srv = await rawServer();
    const client = await EngineClient.connect(srv.port);
    try {
      const bad = await client.request(GET('/bad'));
      const peer = await srv.accepted;
      await peer.waitFor((f) => f.type === FrameType.HEADERS, 'the request');
      peer.send(peer.headers(1, [':status', '200', 'Upper', 'x'], true));
      assert.equal((await bad.response).resetCode, ErrorCode.PROTOCOL_ERROR);
      assert.equal(await peer.rst(1), ErrorCode.PROTOCOL_ERROR);
      peer.send(peer.headers(2, [':status', '200'], true));
      assert.equal((await peer.goaway())[1], ErrorCode.PROTOCOL_ERROR);
    } finally {
      srv.close();
    }
  });
});

describe('engine client ↔ engine server: a reader that stops reading', { timeout: 30_000 }, () => {
  it('holds at most one window per stream in the echo, then completes when reading resumes', async () => {
    const server = await startEchoServer();
    const client = await EngineClient.connect(server.port);
    try {
      const body = patternBytes(8 << 20, 1);
      const { stream, response } = await client.request(POST('/echo'), body, { paused: true });
      await sleep(300);
      const echo = server.connections[0]!;
      // The echo refunds only what it sent on; the paused client refunds nothing: the echo holds ≤ one window.
      assert.ok(echo.maxQueued <= 65_535, `echo queued ${echo.maxQueued} bytes`);
      assert.ok(stream.queuedBytes > 7 << 20, `client still holds ${stream.queuedBytes} unsent bytes`);
      client.resume(stream);
      const r = await response;
      assert.equal(sha(r.body), sha(body));
    } finally {
      client.conn.close();
      await server.close();
    }
  });
});

describe('engine client → @grpc/grpc-js server', { timeout: 20_000 }, () => {
  const raw = (b: Buffer): Buffer => b;
  /** A gRPC message on the wire: uncompressed flag, 4-byte length, bytes. */
  const frameMessage = (m: Buffer): Buffer => Buffer.concat([Buffer.from([0]), Buffer.from([m.length >>> 24, (m.length >>> 16) & 255, (m.length >>> 8) & 255, m.length & 255]), m]);
  const grpcHead = (method: string): string[] => [':method', 'POST', ':scheme', 'http', ':path', method, ':authority', 'test', 'content-type', 'application/grpc', 'te', 'trailers'];

  it('unary: the reply message, then grpc-status in trailers; an error status as trailers-only', async () => {
    const server = new grpc.Server();
    server.addService(
      {
        echo: { path: '/echo.Echo/Unary', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
        fail: { path: '/echo.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
      },
      {
        echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.concat([Buffer.from('echo:'), call.request])),
        fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback({ code: grpc.status.PERMISSION_DENIED, details: 'not you' }),
      },
    );
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    const client = await EngineClient.connect(port);
    try {
      const ok = await (await client.request(grpcHead('/echo.Echo/Unary'), frameMessage(Buffer.from('hi')))).response;
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, frameMessage(Buffer.from('echo:hi')));
      const trailers = Object.fromEntries(Array.from({ length: ok.trailers!.length / 2 }, (_, i) => [ok.trailers![2 * i], ok.trailers![2 * i + 1]]));
      assert.equal(trailers['grpc-status'], '0');
      const denied = await (await client.request(grpcHead('/echo.Echo/Fail'), frameMessage(Buffer.from('x')))).response;
      // Trailers-only: the status rides on the one HEADERS frame, which ends the stream.
      assert.equal(denied.trailers, null);
      assert.equal(denied.headers[denied.headers.indexOf('grpc-status') + 1], String(grpc.status.PERMISSION_DENIED));
      assert.equal(denied.body.length, 0);
    } finally {
      client.conn.close();
      server.forceShutdown();
    }
  });
});
