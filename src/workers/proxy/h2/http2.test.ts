// HTTP/2 (h2c prior knowledge) through the real proxy process: multiplexing, flow control in both
// directions, trailers, resets both ways, GOAWAY from the upstream, the proxy's own graceful shutdown,
// and the failures the proxy answers for itself (502, 503, 504 and their gRPC forms).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http2 from 'node:http2';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBlackhole } from '../../../../test/support/blackhole.ts';
import { listen } from '../../../../test/support/net.ts';
import { metricValue, startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR } = http2.constants;

type Handler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, session: http2.ServerHttp2Session) => void;

interface Backend {
  readonly port: number;
  /** `127.0.0.1:port`: the authority a client names to reach this backend through the proxy. */
  readonly addr: string;
  /** How many HTTP/2 sessions (connections) the backend has accepted so far. */
  sessionsAccepted(): number;
  /** Sessions still open. */
  readonly live: Set<http2.ServerHttp2Session>;
  close(): Promise<void>;
}

/** An h2c server on 127.0.0.1 that hands each stream to `handler`. */
async function h2Backend(handler: Handler): Promise<Backend> {
  const server = http2.createServer();
  const live = new Set<http2.ServerHttp2Session>();
  let accepted = 0;
  server.on('session', (session) => {
    accepted++;
    live.add(session);
    session.on('error', () => {});
    session.once('close', () => live.delete(session));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    handler(stream, headers, stream.session as http2.ServerHttp2Session);
  });
  const port = await listen(server);
  return {
    port,
    addr: `127.0.0.1:${port}`,
    sessionsAccepted: () => accepted,
    live,
    close: () => {
      for (const session of live) session.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A backend that answers every request with what it saw: method, path, body digest and size. */
function echoHandler(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const hash = createHash('sha256');
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  stream.on('end', () => {
    if (stream.destroyed) return;
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ method: headers[':method'], path: headers[':path'], bytes, sha256: hash.digest('hex') }));
  });
}

function h2Client(t: TestContext, port: number): http2.ClientHttp2Session {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  t.after(() => client.destroy());
  return client;
}

interface Reply {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly trailers: http2.IncomingHttpHeaders | undefined;
}

/** Sends one request on `client` and collects the whole response. */
function send(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = client.request(headers, { endStream: body === undefined });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      responseHeaders = h;
    });
    req.on('trailers', (h) => {
      trailers = h;
    });
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () =>
      resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks), trailers }),
    );
    req.on('error', reject);
    req.on('close', () => {
      if (!req.readableEnded) reject(new Error(`stream closed with code ${req.rstCode} before the response ended`));
    });
    if (body !== undefined) req.end(body);
  });
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function deterministicBytes(size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
  return data;
}

/** Resolves once `condition` holds, polling; fails the test after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function assertAlive(proxy: RunningProxy): void {
  assert.equal(proxy.child.exitCode, null, `proxy exited:\n${proxy.logs()}`);
  assert.equal(proxy.child.signalCode, null, `proxy was killed:\n${proxy.logs()}`);
}

/** A writer paused by backpressure: how far it got, and whether it is stuck waiting for 'drain'. */
interface Pump {
  written(): number;
  blocked(): boolean;
  finished(): boolean;
  done: Promise<void>;
}

/**
 * Writes `data` to `stream` in 16 KiB chunks, honouring backpressure: whenever write() returns false it
 * waits for 'drain' before writing more. Ends the stream after the last chunk.
 */
function pump(stream: http2.Http2Stream, data: Buffer): Pump {
  let offset = 0;
  let waiting = false;
  let finished = false;
  const done = (async () => {
    while (offset < data.length) {
      const chunk = data.subarray(offset, offset + 16 * 1024);
      offset += chunk.length;
      if (!stream.write(chunk)) {
        waiting = true;
        await once(stream, 'drain');
        waiting = false;
      }
    }
    stream.end();
    finished = true;
  })();
  return { written: () => offset, blocked: () => waiting, finished: () => finished, done };
}

/** Waits until a pump has been blocked on backpressure, without progress, for a while. */
async function stalled(p: Pump): Promise<void> {
  let last = -1;
  let quietSince = Date.now();
  await until(() => {
    // Everything went out while nobody read: something between writer and reader buffered it all.
    if (p.finished()) assert.fail(`the writer sent all ${p.written()} bytes to a reader that read nothing`);
    if (p.written() !== last || !p.blocked()) {
      last = p.written();
      quietSince = Date.now();
      return false;
    }
    return Date.now() - quietSince >= 300;
  }, 'the writer to stall on backpressure');
}

const BIG = 8 * 1024 * 1024;
/** What may sit in windows and stream buffers between a stalled reader and its writer, with room to spare. */
const IN_FLIGHT_BOUND = 2 * 1024 * 1024;

describe('HTTP/2 through the proxy', () => {
  let proxy: RunningProxy;

  before(async () => {
    proxy = await startProxy({ SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '10s' });
  });
  after(async () => {
    await proxy.stop();
  });

  it('multiplexes many concurrent streams of one client connection over one upstream connection', async (t) => {
    const streams = 64;
    const held: Array<() => void> = [];
    // Answers nothing until every stream has arrived: only a proxy that forwards them concurrently passes.
    const backend = await h2Backend((stream, headers) => {
      held.push(() => {
        stream.respond({ ':status': 200 });
        stream.end(`reply to ${headers[':path']}`);
      });
      if (held.length === streams) for (const release of held) release();
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);
    const replies = await Promise.all(
      Array.from({ length: streams }, (_, i) => send(client, { ':authority': backend.addr, ':path': `/stream/${i}` })),
    );
    replies.forEach((reply, i) => {
      assert.equal(reply.status, 200);
      assert.equal(reply.body.toString(), `reply to /stream/${i}`);
    });
    assert.equal(backend.sessionsAccepted(), 1, 'the proxy multiplexed every stream over one upstream session');
  });

  it('forwards methods, paths, headers and bodies, and the response body intact', async (t) => {
    const backend = await h2Backend((stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        stream.respond({ ':status': 201, 'x-seen-header': String(headers['x-custom']), 'x-seen-method': String(headers[':method']) });
        stream.end(Buffer.concat(chunks));
      });
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);
    const reply = await send(client, { ':authority': backend.addr, ':method': 'PUT', ':path': '/a/b?c=d', 'x-custom': 'v1' }, 'payload');
    assert.equal(reply.status, 201);
    assert.equal(reply.headers['x-seen-header'], 'v1');
    assert.equal(reply.headers['x-seen-method'], 'PUT');
    assert.equal(reply.body.toString(), 'payload');
  });

  it('forwards informational (1xx) responses ahead of the final one', async (t) => {
    const backend = await h2Backend((stream) => {
      stream.additionalHeaders({ ':status': 103, link: '</style.css>; rel=preload' });
      stream.respond({ ':status': 200 });
      stream.end('final');
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);
    const req = client.request({ ':authority': backend.addr, ':path': '/hints' });
    const informational: http2.IncomingHttpHeaders[] = [];
    req.on('headers', (h) => informational.push(h));
    req.resume();
    const [final] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(final[':status'], 200);
    assert.equal(informational.length, 1);
    assert.equal(informational[0]?.[':status'], 103);
    assert.equal(informational[0]?.link, '</style.css>; rel=preload');
    await once(req, 'end');
  });

  it('respects flow control downstream: a slow reader holds the upstream writer back, then gets every byte', async (t) => {
    const data = deterministicBytes(BIG);
    let sender: Pump | undefined;
    const backend = await h2Backend((stream) => {
      stream.respond({ ':status': 200 });
      sender = pump(stream, data);
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);
    const req = client.request({ ':authority': backend.addr, ':path': '/download' });
    const [headers] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(headers[':status'], 200);
    // The client reads nothing yet: the backend must soon be unable to write more.
    await until(() => sender !== undefined, 'the backend to start sending');
    const s = sender as Pump;
    await stalled(s);
    assert.ok(s.blocked(), 'the backend saw write() return false');
    assert.ok(s.written() < IN_FLIGHT_BOUND, `only a bounded amount left the backend (${s.written()} of ${BIG} bytes)`);
    // Now read: everything arrives, in order.
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    await once(req, 'end');
    await s.done;
    assert.equal(sha256(Buffer.concat(chunks)), sha256(data));
  });

  it('respects flow control upstream: a slow upstream reader holds the client writer back, then gets every byte', async (t) => {
    const data = deterministicBytes(BIG);
    let upstream: http2.ServerHttp2Stream | undefined;
    const backend = await h2Backend((stream) => {
      upstream = stream; // read nothing until told
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);
    const req = client.request({ ':authority': backend.addr, ':method': 'POST', ':path': '/upload' }, { endStream: false });
    req.on('error', () => {});
    const sender = pump(req, data);
    await until(() => upstream !== undefined, 'the request to reach the backend');
    await stalled(sender);
    assert.ok(sender.blocked(), 'the client saw write() return false');
    assert.ok(sender.written() < IN_FLIGHT_BOUND, `only a bounded amount left the client (${sender.written()} of ${BIG} bytes)`);
    const stream = upstream as http2.ServerHttp2Stream;
    const hash = createHash('sha256');
    let bytes = 0;
    stream.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
    });
    await once(stream, 'end');
    stream.respond({ ':status': 200 });
    stream.end(`${bytes} ${hash.digest('hex')}`);
    await sender.done;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    await once(req, 'end');
    assert.equal(Buffer.concat(chunks).toString(), `${BIG} ${sha256(data)}`);
  });

  it('forwards response trailers after the body, and request trailers to the upstream', async (t) => {
    let requestTrailers: http2.IncomingHttpHeaders | undefined;
    const backend = await h2Backend((stream) => {
      stream.on('trailers', (h) => {
        requestTrailers = h;
      });
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc123', 'x-count': '3' }));
        stream.end('body before trailers');
      });
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);

    const reply = await send(client, { ':authority': backend.addr, ':path': '/trailers' });
    assert.equal(reply.body.toString(), 'body before trailers');
    assert.equal(reply.trailers?.['x-checksum'], 'abc123');
    assert.equal(reply.trailers?.['x-count'], '3');

    const req = client.request({ ':authority': backend.addr, ':method': 'POST', ':path': '/request-trailers' }, { waitForTrailers: true });
    req.on('wantTrailers', () => req.sendTrailers({ 'x-request-trailer': 'sent-last' }));
    req.end('request body');
    req.resume();
    await once(req, 'end');
    assert.equal(requestTrailers?.['x-request-trailer'], 'sent-last');
  });

  // node's Http2Stream.close(code) ends the writable side before it resets, so a stream whose body is
  // complete would go out as END_STREAM followed by a no-op RST_STREAM. Holding the end back with
  // waitForTrailers makes close() send a bare RST_STREAM, as any other HTTP/2 peer may.
  for (const [name, code] of [
    ['CANCEL', NGHTTP2_CANCEL],
    ['INTERNAL_ERROR', NGHTTP2_INTERNAL_ERROR],
  ] as const) {
    it(`propagates a client reset (${name}) to the upstream stream, before and after the response began`, async (t) => {
      const closed = new Map<string, number>();
      const cleanEnd = new Set<string>();
      const arrived = new Set<string>();
      const backend = await h2Backend((stream, headers) => {
        const path = String(headers[':path']);
        arrived.add(path);
        stream.on('data', () => {});
        stream.on('end', () => {
          if (!stream.destroyed) cleanEnd.add(path);
        });
        stream.on('close', () => closed.set(path, stream.rstCode ?? -1));
        if (path === '/after-response') {
          stream.respond({ ':status': 200 });
          stream.write('partial');
        } else if (path === '/ok') {
          stream.respond({ ':status': 200 });
          stream.end('ok');
        }
      });
      t.after(() => backend.close());
      const client = h2Client(t, proxy.outbound.port);

      for (const path of ['/before-response', '/after-response']) {
        const req = client.request({ ':authority': backend.addr, ':method': 'POST', ':path': path }, { waitForTrailers: true });
        req.on('error', () => {});
        req.write('part of a body');
        await until(() => arrived.has(path), 'the request to reach the backend');
        if (path === '/after-response') await once(req, 'data');
        req.close(code);
        await until(() => closed.has(path), `the upstream stream of ${path} to close`);
        assert.equal(closed.get(path), code, path);
        // The body was cut short: the upstream must not see it end cleanly. (node reports a CANCEL reset
        // to the application as an 'end', so only the other codes can tell.)
        if (code !== NGHTTP2_CANCEL) assert.ok(!cleanEnd.has(path), `${path}: the upstream saw a reset, not the end of the body`);
      }

      // The connection and the proxy carry on.
      const reply = await send(client, { ':authority': backend.addr, ':path': '/ok' });
      assert.equal(reply.body.toString(), 'ok');
      assertAlive(proxy);
    });

    it(`propagates an upstream reset (${name}) after the response began to the client as a reset`, async (t) => {
      const backend = await h2Backend((stream) => {
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        stream.write('first part', () => setTimeout(() => stream.close(code), 50));
      });
      t.after(() => backend.close());
      const client = h2Client(t, proxy.outbound.port);
      const req = client.request({ ':authority': backend.addr, ':path': `/reset-midway-${name}` });
      let error: Error | undefined;
      req.on('error', (e) => {
        error = e;
      });
      const [headers] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
      assert.equal(headers[':status'], 200);
      req.resume();
      await new Promise((resolve) => req.once('close', resolve)); // not once(): that rejects on 'error'
      // A response ended cleanly (the truncation hidden) would leave NO_ERROR here.
      assert.equal(req.rstCode, code, 'the client stream was reset with the upstream code');
      if (code !== NGHTTP2_CANCEL) assert.match(String(error?.message), new RegExp(name));
      const metrics = await proxy.metrics();
      assert.ok(
        metricValue(metrics, 'response_total', { authority: backend.addr, classification: 'failure', error: 'upstream_reset' }) >= 1,
        'a response cut short counts as a failure',
      );
      assertAlive(proxy);
    });
  }

  it('answers with an error when the upstream resets a stream before responding, whatever the code', async (t) => {
    const codes: Record<string, number> = { '/cancel': NGHTTP2_CANCEL, '/no-error': NGHTTP2_NO_ERROR, '/calm': NGHTTP2_ENHANCE_YOUR_CALM };
    const backend = await h2Backend((stream, headers) => {
      stream.close(codes[String(headers[':path'])] ?? NGHTTP2_INTERNAL_ERROR);
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);
    for (const path of Object.keys(codes)) {
      const reply = await send(client, { ':authority': backend.addr, ':path': path });
      assert.equal(reply.status, 502, path);
      assert.equal(reply.headers['sluice-proxy-error'], 'upstream closed the connection', path);
    }
    const grpc = await send(
      client,
      { ':authority': backend.addr, ':method': 'POST', ':path': '/cancel', 'content-type': 'application/grpc', te: 'trailers' },
      Buffer.alloc(5),
    );
    assert.equal(grpc.headers['grpc-status'], '14');
    assertAlive(proxy);
  });

  it('loses no in-flight stream when the upstream sends GOAWAY, and later requests use a new connection', async (t) => {
    const inFlight = 8;
    const held: Array<() => void> = [];
    const backend = await h2Backend((stream, headers) => {
      if (String(headers[':path']).startsWith('/held/')) {
        held.push(() => {
          stream.respond({ ':status': 200 });
          stream.end(`done ${headers[':path']}`);
        });
        return;
      }
      stream.respond({ ':status': 200 });
      stream.end('fresh');
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);
    const pending = Array.from({ length: inFlight }, (_, i) => send(client, { ':authority': backend.addr, ':path': `/held/${i}` }));
    await until(() => held.length === inFlight, 'every stream to reach the backend');
    assert.equal(backend.live.size, 1);
    const [session] = backend.live;
    const goawaySent = once(session as http2.ServerHttp2Session, 'close');
    (session as http2.ServerHttp2Session).close(); // GOAWAY; the held streams may still finish
    await sleep(50); // let the GOAWAY reach the proxy before the held responses do
    for (const release of held) release();
    const replies = await Promise.all(pending);
    replies.forEach((reply, i) => assert.equal(reply.body.toString(), `done /held/${i}`));
    await goawaySent;

    const reply = await send(client, { ':authority': backend.addr, ':path': '/after-goaway' });
    assert.equal(reply.body.toString(), 'fresh');
    assert.equal(backend.sessionsAccepted(), 2, 'the request after GOAWAY went over a new upstream connection');
    assertAlive(proxy);
  });

  it('sends again the streams an upstream GOAWAY refused unprocessed, so requests racing it succeed', async (t) => {
    const processed: string[] = [];
    let first: http2.ServerHttp2Session | undefined;
    const backend = await h2Backend((stream, headers, session) => {
      first ??= session;
      processed.push(String(headers[':path']));
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200 });
        stream.end(`ok ${headers[':path']}`);
      });
      // The first connection says GOAWAY after its third stream: the streams already on their way are
      // refused (RFC 9113 §6.8) and never processed.
      if (session === first && processed.length === 3) session.close();
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);
    const paths = Array.from({ length: 20 }, (_, i) => `/race/${i}`);
    // Bodyless requests and ones with a (small) body alike.
    const replies = await Promise.all(
      paths.map((path, i) =>
        i % 2 === 0
          ? send(client, { ':authority': backend.addr, ':path': path })
          : send(client, { ':authority': backend.addr, ':method': 'POST', ':path': path }, `body of ${path}`),
      ),
    );
    replies.forEach((reply, i) => {
      assert.equal(reply.status, 200, `${paths[i]}: ${reply.body.toString()}`);
      assert.equal(reply.body.toString(), `ok ${paths[i]}`);
    });
    assert.equal(backend.sessionsAccepted(), 2);
    assert.deepEqual([...processed].sort(), [...paths].sort(), 'every request was processed exactly once');
    assertAlive(proxy);
  });
});

describe('HTTP/2 failures the proxy answers itself', () => {
  let proxy: RunningProxy;
  let ok: Backend;
  let hanging: Backend;
  const hungStreams = new Set<http2.ServerHttp2Stream>();

  before(async () => {
    ok = await h2Backend(echoHandler);
    hanging = await h2Backend((stream) => {
      hungStreams.add(stream); // never answers
      stream.resume();
    });
    proxy = await startProxy({ SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '200ms', SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT: '500ms' });
  });
  after(async () => {
    await proxy.stop();
    await ok.close();
    await hanging.close();
  });

  /** After a failure, the same client connection still gets answers and the proxy still runs. */
  async function stillServes(client: http2.ClientHttp2Session): Promise<void> {
    const reply = await send(client, { ':authority': ok.addr, ':path': '/still-serving' });
    assert.equal(reply.status, 200);
    assert.equal(JSON.parse(reply.body.toString()).path, '/still-serving');
    assertAlive(proxy);
  }

  it('answers 502 with sluice-proxy-error when the upstream is not listening', async (t) => {
    const gone = await h2Backend(() => {});
    await gone.close();
    const client = h2Client(t, proxy.outbound.port);
    const reply = await send(client, { ':authority': gone.addr, ':path': '/' });
    assert.equal(reply.status, 502);
    assert.equal(reply.headers['sluice-proxy-error'], 'connection refused by upstream');
    const metrics = await proxy.metrics();
    assert.ok(metricValue(metrics, 'response_total', { target_addr: gone.addr, status_code: '502', error: 'connect_refused' }) >= 1, metrics);
    await stillServes(client);
  });

  it('answers a gRPC request with a trailers-only UNAVAILABLE when the upstream is not listening', async (t) => {
    const gone = await h2Backend(() => {});
    await gone.close();
    const client = h2Client(t, proxy.outbound.port);
    const reply = await send(client, { ':authority': gone.addr, ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.alloc(5));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['grpc-status'], '14');
    assert.equal(reply.headers['sluice-proxy-error'], 'connection refused by upstream');
    assert.equal(reply.body.length, 0);
    await stillServes(client);
  });

  it('answers 504 when connecting to the upstream times out, and gRPC UNAVAILABLE', async (t) => {
    const blackhole = await startBlackhole();
    t.after(() => blackhole.close());
    const authority = `127.0.0.1:${blackhole.port}`;
    // This suite's proxy gives up on the response (200 ms) before the connect (500 ms): here the connect decides.
    const own = await startProxy({ SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '10s', SLUICE_PROXY_OUTBOUND_CONNECT_TIMEOUT: '500ms' });
    t.after(() => own.stop());
    const client = h2Client(t, own.outbound.port);
    const started = Date.now();
    const plain = await send(client, { ':authority': authority, ':path': '/' });
    assert.equal(plain.status, 504);
    assert.equal(plain.headers['sluice-proxy-error'], 'connect to upstream timed out');
    assert.ok(Date.now() - started >= 450, 'after the 500 ms connect timeout, not before');
    const grpc = await send(
      client,
      { ':authority': authority, ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc', te: 'trailers' },
      Buffer.alloc(5),
    );
    assert.equal(grpc.status, 200);
    assert.equal(grpc.headers['grpc-status'], '14');
    assert.equal(grpc.headers['sluice-proxy-error'], 'connect to upstream timed out');
    const metrics = await own.metrics();
    assert.equal(metricValue(metrics, 'response_total', { target_addr: authority, error: 'connect_timeout' }), 2, metrics);
    const after = await send(client, { ':authority': ok.addr, ':path': '/after' });
    assert.equal(after.status, 200, 'the same client connection is still served');
    assertAlive(own);
  });

  it('answers 504 when a non-gRPC response does not start within the response timeout', async (t) => {
    const client = h2Client(t, proxy.outbound.port);
    const reply = await send(client, { ':authority': hanging.addr, ':path': '/slow' });
    assert.equal(reply.status, 504);
    assert.equal(reply.headers['sluice-proxy-error'], 'response timed out');
    // The proxy gave up on the upstream stream too.
    await until(() => [...hungStreams].every((s) => s.closed), 'the hung upstream stream to be reset');
    await stillServes(client);
  });

  it("answers DEADLINE_EXCEEDED when a gRPC call's own deadline passes while the upstream hangs", async (t) => {
    const client = h2Client(t, proxy.outbound.port);
    const reply = await send(
      client,
      { ':authority': hanging.addr, ':method': 'POST', ':path': '/pkg.Svc/Hang', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '300m' },
      Buffer.alloc(5),
    );
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['grpc-status'], '4');
    assert.ok(reply.headers['sluice-proxy-error']);
    await stillServes(client);
  });

  it('lets a gRPC call without a deadline outlive the HTTP response timeout', async (t) => {
    const backend = await h2Backend((stream) => {
      stream.resume();
      setTimeout(() => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.alloc(5));
      }, 500);
    });
    t.after(() => backend.close());
    const client = h2Client(t, proxy.outbound.port);
    const reply = await send(
      client,
      { ':authority': backend.addr, ':method': 'POST', ':path': '/pkg.Svc/Slow', 'content-type': 'application/grpc', te: 'trailers' },
      Buffer.alloc(5),
    );
    assert.equal(reply.status, 200);
    assert.equal(reply.trailers?.['grpc-status'], '0');
  });

  it('answers 503 and UNAVAILABLE when the request has no destination', async (t) => {
    const client = h2Client(t, proxy.outbound.port);
    const self = `127.0.0.1:${proxy.outbound.port}`;
    const plain = await send(client, { ':authority': self, ':path': '/' });
    assert.equal(plain.status, 503);
    assert.equal(plain.headers['sluice-proxy-error'], 'no destination for this request');
    const grpc = await send(client, { ':authority': self, ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc' }, Buffer.alloc(5));
    assert.equal(grpc.status, 200);
    assert.equal(grpc.headers['grpc-status'], '14');
    assert.equal(grpc.headers['sluice-proxy-error'], 'no destination for this request');
    await stillServes(client);
  });
});

describe('HTTP/2 graceful shutdown of the proxy', () => {
  it('sends GOAWAY on SIGTERM, lets in-flight streams finish, and exits 0', async (t) => {
    let release: (() => void) | undefined;
    const backend = await h2Backend((stream) => {
      stream.respond({ ':status': 200 });
      stream.write('started; ');
      release = () => stream.end('finished');
    });
    t.after(() => backend.close());
    const proxy = await startProxy({ SLUICE_PROXY_SHUTDOWN_GRACE_PERIOD: '30s' });
    t.after(() => proxy.stop('SIGKILL'));
    const client = h2Client(t, proxy.outbound.port);
    const goaway = once(client, 'goaway');
    const inFlight = send(client, { ':authority': backend.addr, ':path': '/long' });
    await until(() => release !== undefined, 'the request to reach the backend');

    const exited = proxy.stop('SIGTERM');
    const [code] = (await goaway) as [number];
    assert.equal(code, NGHTTP2_NO_ERROR);
    assert.equal(proxy.child.exitCode, null, 'the proxy waits for the in-flight stream');
    (release as () => void)();
    const reply = await inFlight;
    assert.equal(reply.body.toString(), 'started; finished');
    client.close();
    assert.equal(await exited, 0);
  });
});

describe('HTTP/2 with SLUICE_PROXY_WORKERS=0', () => {
  let proxy: RunningProxy;
  let ok: Backend;

  before(async () => {
    ok = await h2Backend(echoHandler);
    proxy = await startProxy({ SLUICE_PROXY_WORKERS: '0', SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '200ms' });
  });
  after(async () => {
    await proxy.stop();
    await ok.close();
  });

  it('multiplexes streams and forwards bodies', async (t) => {
    const client = h2Client(t, proxy.outbound.port);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(client, { ':authority': ok.addr, ':method': 'POST', ':path': `/w0/${i}` }, `body ${i}`)),
    );
    replies.forEach((reply, i) => {
      const seen = JSON.parse(reply.body.toString());
      assert.equal(seen.path, `/w0/${i}`);
      assert.equal(seen.sha256, sha256(Buffer.from(`body ${i}`)));
    });
  });

  it('answers 502 for a refused upstream, 503 without a destination, and keeps serving', async (t) => {
    const gone = await h2Backend(() => {});
    await gone.close();
    const client = h2Client(t, proxy.outbound.port);
    const refused = await send(client, { ':authority': gone.addr, ':path': '/' });
    assert.equal(refused.status, 502);
    assert.ok(refused.headers['sluice-proxy-error']);
    const none = await send(client, { ':authority': `127.0.0.1:${proxy.outbound.port}`, ':path': '/' });
    assert.equal(none.status, 503);
    const reply = await send(client, { ':authority': ok.addr, ':path': '/after' });
    assert.equal(reply.status, 200);
    assertAlive(proxy);
  });
});

describe('HTTP/2 upstream connections in steady use', () => {
  let proxy: RunningProxy;
  let ok: Backend;

  before(async () => {
    ok = await h2Backend(echoHandler);
    proxy = await startProxy({ SLUICE_PROXY_HTTP_POOL_IDLE_TIMEOUT: '300ms' });
  });
  after(async () => {
    await proxy.stop();
    await ok.close();
  });

  it('keeps one upstream connection for requests that never overlap a sweep, and closes it once idle', { timeout: 20_000 }, async (t) => {
    const client = h2Client(t, proxy.outbound.port);
    // Short requests 100 ms apart: each is over in about a millisecond, so almost no sweep (every 10 ms)
    // sees one in flight; the connection is in use all along and must never count as idle.
    for (let i = 0; i < 20; i++) {
      const reply = await send(client, { ':authority': ok.addr, ':path': `/steady/${i}` });
      assert.equal(reply.status, 200);
      await sleep(100);
    }
    assert.equal(ok.sessionsAccepted(), 1);
    // Unused for longer than the idle timeout: closed.
    const deadline = Date.now() + 5_000;
    while (ok.live.size > 0 && Date.now() < deadline) await sleep(50);
    assert.equal(ok.live.size, 0);
  });
});
