// The engine in the shape the proxy will use it: a relay (test/support/h2-relay.ts) with an engine server
// towards clients and an engine client towards the upstream, forwarding streams as they are. Real clients
// and servers on both ends (node:http2, grpc-js): bodies of several MB both ways, trailers, resets in both
// directions, and a client that stops reading while the upstream sends fast — the relay holds at most
// one stream window, because it refunds the upstream only for bytes that left towards the client.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http2 from 'node:http2';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { patternBytes } from '../../../test/support/h2-engine.ts';
import { startRelay, type Relay } from '../../../test/support/h2-relay.ts';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('relay on the engine: node:http2 client → relay → node:http2 server', { timeout: 30_000 }, () => {
  let server: http2.Http2Server;
  let relay: Relay;
  let session: http2.ClientHttp2Session;
  const upstreamResets: number[] = [];
  let lastSensitive: string[] = [];

  before(async () => {
    server = http2.createServer();
    server.on('stream', (stream, headers) => {
      lastSensitive = (headers as Record<symbol, string[] | undefined>)[http2.sensitiveHeaders] ?? [];
      stream.on('error', () => {});
      stream.on('close', () => {
        if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) upstreamResets.push(stream.rstCode);
      });
      const path = headers[':path'] ?? '/';
      if (path.startsWith('/size/')) {
        stream.respond({ ':status': 200 });
        stream.end(patternBytes(Number(path.slice(6)), 3));
      } else if (path === '/reset') {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      } else if (path === '/hang') {
        stream.respond({ ':status': 200 });
        stream.write('first');
      } else {
        stream.respond({ ':status': 200, 'x-path': path }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-done': 'yes' }));
        stream.pipe(stream);
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    relay = await startRelay((server.address() as net.AddressInfo).port);
    session = http2.connect(`http://127.0.0.1:${relay.port}`);
    await once(session, 'connect');
  });
  after(async () => {
    session.close();
    await relay.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('echoes 6 MB up and down, with the upstream trailers', async () => {
    const body = patternBytes(6 << 20, 4);
    const req = session.request({ ':method': 'POST', ':path': '/echo' });
    const chunks: Buffer[] = [];
    let trailers: http2.IncomingHttpHeaders | undefined;
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('trailers', (t) => (trailers = t));
    req.end(body);
    const [head] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
    await once(req, 'end');
    assert.equal(head['x-path'], '/echo');
    assert.equal(sha(Buffer.concat(chunks)), sha(body));
    assert.equal(trailers?.['x-done'], 'yes');
  });

  it('keeps sensitive (never-indexed) fields never indexed across the relay', async () => {
    const req = session.request({ ':method': 'POST', ':path': '/echo', 'x-secret': 'hunter2', 'x-plain': 'p', [http2.sensitiveHeaders]: ['x-secret'] });
    req.end();
    req.resume();
    await once(req, 'response');
    await once(req, 'end');
    assert.deepEqual(lastSensitive, ['x-secret']);
  });

  it('passes resets both ways', async () => {
    const reset = session.request({ ':path': '/reset' });
    reset.on('error', () => {});
    reset.resume();
    await new Promise((resolve) => reset.on('close', resolve));
    assert.equal(reset.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR);

    const hang = session.request({ ':path': '/hang' });
    hang.on('error', () => {});
    await once(hang, 'data');
    hang.close(http2.constants.NGHTTP2_CANCEL);
    const deadline = Date.now() + 3000;
    while (!upstreamResets.includes(http2.constants.NGHTTP2_CANCEL) && Date.now() < deadline) await sleep(10);
    assert.ok(upstreamResets.includes(http2.constants.NGHTTP2_CANCEL), `upstream saw ${upstreamResets.join(',')}`);
  });

  it('a client that stops reading makes the relay hold at most one window, then everything arrives', async () => {
    const size = 20 << 20;
    const req = session.request({ ':path': `/size/${size}` });
    const chunks: Buffer[] = [];
    await once(req, 'response');
    req.pause();
    await sleep(500);
    const down = relay.downstreams.at(-1)!;
    assert.ok(down.maxQueued <= 65_535, `relay queued ${down.maxQueued} bytes for a paused client`);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.resume();
    await once(req, 'end');
    assert.equal(sha(Buffer.concat(chunks)), sha(patternBytes(size, 3)));
  });
});

describe('relay on the engine: grpc-js client → relay → grpc-js server', { timeout: 30_000 }, () => {
  const raw = (b: Buffer): Buffer => b;
  let server: grpc.Server;
  let relay: Relay;
  let client: grpc.Client;

  before(async () => {
    server = new grpc.Server();
    server.addService(
      {
        unary: { path: '/t.T/Unary', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
        chat: { path: '/t.T/Chat', requestStream: true, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
      },
      {
        unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
          call.request.length === 0 ? callback({ code: grpc.status.INVALID_ARGUMENT, details: 'empty' }) : callback(null, Buffer.concat([call.request, call.request])),
        chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          call.on('data', (m: Buffer) => call.write(m));
          call.on('end', () => call.end());
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    relay = await startRelay(port);
    client = new grpc.Client(`127.0.0.1:${relay.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await relay.close();
    server.forceShutdown();
  });

  it('unary: a reply, and an error status (trailers-only) passed through', async () => {
    const reply = await new Promise<Buffer>((resolve, reject) => client.makeUnaryRequest('/t.T/Unary', raw, raw, Buffer.from('ab'), (e, v) => (e ? reject(e) : resolve(v!))));
    assert.equal(reply.toString(), 'abab');
    const err = await new Promise<grpc.ServiceError>((resolve, reject) => client.makeUnaryRequest('/t.T/Unary', raw, raw, Buffer.alloc(0), (e) => (e ? resolve(e) : reject(new Error('expected an error')))));
    assert.deepEqual([err.code, err.details], [grpc.status.INVALID_ARGUMENT, 'empty']);
  });

  it('bidirectional streaming: 300 messages up to 100 KB come back in order', async () => {
    const call = client.makeBidiStreamRequest('/t.T/Chat', raw, raw);
    const got: Buffer[] = [];
    call.on('data', (m: Buffer) => got.push(m));
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    const sent = Array.from({ length: 300 }, (_, i) => patternBytes((i * 7919) % 100_000, i));
    for (const m of sent) call.write(m);
    call.end();
    assert.equal((await status).code, grpc.status.OK);
    assert.equal(got.length, sent.length);
    got.forEach((m, i) => assert.ok(m.equals(sent[i]!), `message ${i}`));
  });
});
