// The engine as an HTTP/2 server (echo handler) to real clients: node:http2 (h2c and TLS), curl, nghttp,
// h2load and grpc-js.
// Large bodies cross small windows both ways, so flow control is exercised end to end; each body is
// checked by hash. curl, nghttp and h2load come from scripts/system-deps.sh; without them the tests skip visibly
// (and fail under CI=true).
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it, type TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { patternBytes, startEchoServer, type EngineServer } from '../../../test/support/h2-engine.ts';

const run = promisify(execFile);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Skips (or fails under CI) when a Debian tool is missing. */
function need(t: TestContext, cmd: string): boolean {
  if (spawnSync(cmd, ['--version']).error === undefined) return true;
  const reason = `${cmd} is not installed (run scripts/system-deps.sh test)`;
  if (process.env.CI === 'true') assert.fail(reason);
  t.skip(reason);
  return false;
}

let server: EngineServer;
let tmp: string;

before(async () => {
  // Small windows: every body larger than 16 KiB needs WINDOW_UPDATEs to get through.
  server = await startEchoServer({ streamWindow: 16_384, connectionWindow: 65_535 });
  tmp = mkdtempSync(join(tmpdir(), 'h2-interop-'));
});
after(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface NodeResponse {
  status: number;
  informational: number[];
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | null;
}

function nodeRequest(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer, options: http2.ClientSessionRequestOptions = {}): Promise<NodeResponse> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined, ...options });
    const result: NodeResponse = { status: 0, informational: [], body: Buffer.alloc(0), trailers: null };
    const chunks: Buffer[] = [];
    req.on('headers', (h) => result.informational.push(Number(h[':status'])));
    req.on('response', (h) => (result.status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('trailers', (t) => (result.trailers = t));
    req.on('error', reject);
    req.on('end', () => {
      result.body = Buffer.concat(chunks);
      resolve(result);
    });
    if (body !== undefined) req.end(body);
  });
}

describe('engine server ↔ node:http2 client', { timeout: 30_000 }, () => {
  let session: http2.ClientHttp2Session;
  before(async () => {
    session = http2.connect(`http://127.0.0.1:${server.port}`, { settings: { initialWindowSize: 16_384 } });
    await once(session, 'connect');
  });
  after(() => session.close());

  it('answers a GET with headers and an empty body', async () => {
    const r = await nodeRequest(session, { ':path': '/echo' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
  });

  it('echoes 5 MB up and down through 16 KiB windows', async () => {
    const body = patternBytes(5 << 20);
    const r = await nodeRequest(session, { ':method': 'POST', ':path': '/echo' }, body);
    assert.equal(r.body.length, body.length);
    assert.equal(sha(r.body), sha(body));
  });

  it('serves 100 multiplexed streams at once', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => nodeRequest(session, { ':method': 'POST', ':path': '/echo' }, patternBytes(1000 + i, i))));
    results.forEach((r, i) => assert.equal(sha(r.body), sha(patternBytes(1000 + i, i))));
  });

  it('sends an informational 103 before the final response, and trailers', async () => {
    const early = await nodeRequest(session, { ':path': '/early' });
    assert.deepEqual([early.informational, early.status], [[103], 200]);
    const withTrailers = await nodeRequest(session, { ':path': '/trailers' });
    assert.equal(withTrailers.trailers?.['x-trailer'], 'done');
  });

  it('echoes request trailers as response trailers', async () => {
    const r = await new Promise<NodeResponse>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/echo' }, { waitForTrailers: true });
      req.on('wantTrailers', () => req.sendTrailers({ 'x-checksum': 'abc' }));
      let trailers: http2.IncomingHttpHeaders | null = null;
      req.on('trailers', (t) => (trailers = t));
      req.on('error', reject);
      req.resume();
      req.on('end', () => resolve({ status: 200, informational: [], body: Buffer.alloc(0), trailers }));
      req.end(Buffer.from('payload'));
    });
    assert.equal(r.trailers?.['x-checksum'], 'abc');
  });

  it('resets both ways: the server resets /reset with CANCEL; a client cancel reaches the handler', async () => {
    const resetReq = session.request({ ':path': '/reset' });
    resetReq.on('error', () => {});
    resetReq.resume();
    await once(resetReq, 'close');
    assert.equal(resetReq.rstCode, http2.constants.NGHTTP2_CANCEL);
    const handler = server.connections.at(-1)!;
    // A response far larger than the windows: the server is still sending when the client cancels.
    const req = session.request({ ':path': '/size/50000000' });
    req.on('error', () => {});
    await once(req, 'response');
    const before = handler.resets.length;
    req.close(http2.constants.NGHTTP2_CANCEL);
    const deadline = Date.now() + 3000;
    while (handler.resets.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(handler.resets.at(-1), [req.id, http2.constants.NGHTTP2_CANCEL]);
  });
});

describe('engine server ↔ curl and nghttp', { timeout: 30_000 }, () => {
  it('curl --http2-prior-knowledge downloads 3 MB and uploads 2 MB', async (t) => {
    if (!need(t, 'curl')) return;
    const base = `http://127.0.0.1:${server.port}`;
    const down = await run('curl', ['-sS', '--http2-prior-knowledge', '--max-time', '20', '-o', join(tmp, 'down'), '-w', '%{http_version} %{http_code}', `${base}/size/${3 << 20}`]);
    assert.equal(down.stdout, '2 200');
    const upload = join(tmp, 'up');
    writeFileSync(upload, patternBytes(2 << 20, 7));
    const up = await run('curl', ['-sS', '--http2-prior-knowledge', '--max-time', '20', '--data-binary', `@${upload}`, '-o', join(tmp, 'echoed'), '-w', '%{http_code}', `${base}/echo`]);
    assert.equal(up.stdout, '200');
    assert.equal(sha(readFileSync(join(tmp, 'down'))), sha(patternBytes(3 << 20)));
    assert.equal(sha(readFileSync(join(tmp, 'echoed'))), sha(patternBytes(2 << 20, 7)));
  });

  it('nghttp fetches several streams at once with its own small windows, and uploads', async (t) => {
    if (!need(t, 'nghttp')) return;
    const base = `http://127.0.0.1:${server.port}`;
    // -w/-W: 2^14-byte stream and connection windows on nghttp's side; -n: discard the bodies.
    const many = await run('nghttp', ['-n', '-s', '-w', '14', '-W', '14', '-t', '20', `${base}/size/1000000`, `${base}/size/2000000`, `${base}/early`, `${base}/trailers`]);
    // The statistics table: one line per completed stream, with its status code.
    const lines = many.stdout.split('\n').filter((l) => /^\s*\d+\s+\+\S+\s+\+\S+\s+\S+\s+200\s/.test(l));
    assert.equal(lines.length, 4, many.stdout);
    const upload = join(tmp, 'nghttp-up');
    writeFileSync(upload, patternBytes(1 << 20, 3));
    const up = await run('nghttp', ['-d', upload, '-t', '20', `${base}/echo`], { encoding: 'buffer', maxBuffer: 8 << 20 });
    assert.equal(sha(up.stdout as Buffer), sha(patternBytes(1 << 20, 3)));
  });
});

describe('engine server ↔ @grpc/grpc-js client', { timeout: 30_000 }, () => {
  let client: grpc.Client;
  before(() => {
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  after(() => client.close());
  const raw = (b: Buffer): Buffer => b;

  it('unary: the message comes back with status OK in trailers', async () => {
    const reply = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest('/echo.Echo/Unary', raw, raw, Buffer.from('hello grpc'), (err, value) => (err ? reject(err) : resolve(value!))),
    );
    assert.equal(reply.toString(), 'hello grpc');
  });

  it('bidirectional streaming: 200 messages of up to 64 KiB echo in order', async () => {
    const call = client.makeBidiStreamRequest('/echo.Echo/Stream', raw, raw);
    const received: Buffer[] = [];
    call.on('data', (m: Buffer) => received.push(m));
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const m = patternBytes((i * 331) % 65_536, i);
      sent.push(m);
      call.write(m);
    }
    call.end();
    assert.equal((await status).code, grpc.status.OK);
    assert.equal(received.length, sent.length);
    received.forEach((m, i) => assert.ok(m.equals(sent[i]!), `message ${i}`));
  });

  it('trailers-only: a status with no messages', async () => {
    const err = await new Promise<grpc.ServiceError>((resolve, reject) =>
      client.makeUnaryRequest('/trailers-only', raw, raw, Buffer.from('x'), (e) => (e ? resolve(e) : reject(new Error('expected an error')))),
    );
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.details, 'no such thing');
  });
});

describe('engine server ↔ h2load and over TLS', { timeout: 30_000 }, () => {
  it('h2load: 2,000 requests on 2 connections, 16 streams each at a time, all succeed', async (t) => {
    if (!need(t, 'h2load')) return;
    const out = await run('h2load', ['-n', '2000', '-c', '2', '-m', '16', `http://127.0.0.1:${server.port}/size/100`]);
    assert.match(out.stdout, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/);
  });

  it('serves node:http2 over TLS with ALPN h2 (the engine takes any net.Socket)', async (t) => {
    if (!need(t, 'openssl')) return;
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem'),
    ], { stdio: 'ignore' });
    const cert = readFileSync(join(tmp, 'cert.pem'));
    const secure = await startEchoServer({}, { key: readFileSync(join(tmp, 'key.pem')), cert });
    const session = http2.connect(`https://127.0.0.1:${secure.port}`, { ca: cert, servername: 'localhost' });
    try {
      await once(session, 'connect');
      const body = patternBytes(1 << 20, 9);
      const r = await nodeRequest(session, { ':method': 'POST', ':path': '/echo' }, body);
      assert.equal(sha(r.body), sha(body));
    } finally {
      session.close();
      await secure.close();
    }
  });
});
