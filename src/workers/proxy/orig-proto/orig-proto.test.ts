// The mesh hop's orig-proto scheme through two real proxies (outbound stacks of one, inbound stacks of
// the other, in this process) with a recording relay between them, real HTTP/1 clients (node:http, curl)
// and a real HTTP/1 application: every HTTP/1.1 request the fast engine takes crosses the hop as a
// stream of ONE HTTP/2 connection when Destination hints `h2`, and reaches the app as HTTP/1.1 again.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { PROXY_ERROR_HEADER } from '../../../core/errors.ts';
import type { EndpointData } from '../../discovery/state.ts';
import { identityName, leafIdentity, resolved, seriesValue, startInProcessProxy, startRelay, testPki, type InProcessProxy, type Relay } from '../mesh-tls.testkit.ts';

const WEB = 'web.default.svc.cluster.local';
const WEB_AUTH = `${WEB}:80`;
const PLAIN = 'plain.default.svc.cluster.local';
const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

interface Seen {
  method: string;
  url: string;
  version: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The application: HTTP/1 only (node:http), answering by path; it records what it saw and its connections. */
async function startApp(): Promise<{ port: number; seen: Seen[]; hanging: Set<net.Socket>; connections: () => number; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  /** Connections of requests to /hang, which are never answered, until they close. */
  const hanging = new Set<net.Socket>();
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('latin1');
      seen.push({ method: req.method ?? '', url: req.url ?? '', version: req.httpVersion, headers: req.headers, body });
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/big': {
          const n = Number(url.searchParams.get('n'));
          res.writeHead(200, { 'content-length': n, 'content-type': 'application/octet-stream' });
          res.end(Buffer.alloc(n, 'b'));
          return;
        }
        case '/stream':
          // No length: chunked, in pieces, with trailers.
          res.writeHead(200, { trailer: 'x-digest', 'content-type': 'text/plain' });
          res.write('one,');
          setTimeout(() => {
            res.write('two,');
            res.addTrailers({ 'x-digest': 'abc' });
            res.end('three');
          }, 20);
          return;
        case '/204':
          res.writeHead(204, { 'x-empty': 'yes' });
          res.end();
          return;
        case '/304':
          res.writeHead(304, { etag: '"v1"' });
          res.end();
          return;
        case '/reset':
          req.socket.destroy();
          return;
        case '/hang':
          hanging.add(req.socket);
          req.socket.on('close', () => hanging.delete(req.socket));
          return;
        default:
          res.writeHead(200, { 'content-type': 'application/json', 'x-app': 'yes' });
          res.end(JSON.stringify({ method: req.method, url: req.url, version: req.httpVersion, length: body.length, te: req.headers['transfer-encoding'] ?? null }));
      }
    });
  });
  server.on('connection', () => connections++);
  const tunnels = new Set<net.Socket>();
  server.on('upgrade', (_req, socket: net.Socket) => {
    tunnels.add(socket);
    socket.on('close', () => tunnels.delete(socket));
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    hanging,
    connections: () => connections,
    close: () => {
      server.closeAllConnections();
      for (const s of tunnels) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

interface Reply {
  status: number;
  version: string;
  headers: http.IncomingHttpHeaders;
  trailers: NodeJS.Dict<string>;
  body: Buffer;
}

interface RequestOptions {
  method?: string;
  headers?: Record<string, string | number>;
  body?: Buffer | string | Array<Buffer | string>;
  agent?: http.Agent | false;
  host?: string;
}

function request(port: number, path: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: options.host ?? WEB, ...options.headers }, agent: options.agent ?? false, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.httpVersion, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within 10 s`)));
    req.on('error', reject);
    const body = options.body;
    if (Array.isArray(body)) {
      // Written piece by piece without a length: node:http sends it chunked.
      for (const piece of body) req.write(piece);
      req.end();
    } else {
      req.end(body);
    }
  });
}

const RST_STREAM = 3;

/** How many frames of each type the outbound proxy sent on an h2c connection (after the client preface). */
function frameTypes(wire: Buffer): Map<number, number> {
  const counts = new Map<number, number>();
  let at = wire.subarray(0, H2_PREFACE.length).toString('latin1') === H2_PREFACE ? H2_PREFACE.length : 0;
  while (at + 9 <= wire.length) {
    const length = wire.readUIntBE(at, 3);
    const type = wire[at + 3] as number;
    counts.set(type, (counts.get(type) ?? 0) + 1);
    at += 9 + length;
  }
  return counts;
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], { encoding: 'latin1' }, (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`))));
  });
}

function hinted(port: number, identity: string | undefined): EndpointData {
  const base = { host: '127.0.0.1', port, labels: { pod: 'web-0' }, protocolHint: 'h2' as const };
  return identity === undefined ? base : { ...base, tlsIdentity: { identity, serverName: identity } };
}

interface Mesh {
  app: Awaited<ReturnType<typeof startApp>>;
  client: InProcessProxy;
  server: InProcessProxy;
  relay: Relay;
  close(): Promise<void>;
}

/** app ← B inbound ← relay ← A outbound; Destination gives A the relay as WEB's endpoint, hinted h2. */
async function startMesh(tls: boolean, serverEnv: Record<string, string> = {}): Promise<Mesh> {
  const pki = tls ? await testPki() : undefined;
  const serverId = identityName('web');
  const app = await startApp();
  const server = await startInProcessProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${app.port}`, ...serverEnv }, pki && (await leafIdentity(pki, serverId)));
  const relay = await startRelay(server.inboundPort);
  // The forward address is where what Destination does not route goes (Upgrade tunnels, say).
  const client = await startInProcessProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${relay.port}` }, pki && (await leafIdentity(pki, identityName('web-client'))));
  client.destinations.set(WEB_AUTH, resolved(hinted(relay.port, tls ? serverId : undefined)));
  // The same endpoint without the hint (a pod without a Sluice proxy, say): plain HTTP/1.
  client.destinations.set(`${PLAIN}:80`, resolved({ host: '127.0.0.1', port: relay.port, labels: {} }));
  await client.stacks.outboundReady;
  return {
    app,
    client,
    server,
    relay,
    close: async () => {
      await client.close();
      await server.close();
      await relay.close();
      await app.close();
    },
  };
}

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const wire = (relay: Relay, i: number): string => Buffer.concat(relay.connections[i]?.toServer ?? []).toString('latin1');

describe('orig-proto: HTTP/1.1 across the mesh hop as HTTP/2 (plaintext hop)', { timeout: 60_000 }, () => {
  let mesh: Mesh;
  before(async () => {
    mesh = await startMesh(false);
  });
  after(() => mesh.close());

  it('a GET crosses as an HTTP/2 stream and reaches the app as HTTP/1.1 without l5d-orig-proto', async () => {
    const reply = await request(mesh.client.outboundPort, '/hello?q=1', { headers: { 'x-custom': 'kept', connection: 'keep-alive, x-hop', 'x-hop': 'dropped' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.version, '1.1');
    assert.equal(reply.headers['x-app'], 'yes');
    assert.equal(reply.headers['l5d-orig-proto'], undefined, 'the marker never reaches the client');
    assert.deepEqual(JSON.parse(reply.body.toString()), { method: 'GET', url: '/hello?q=1', version: '1.1', length: 0, te: null });
    const seen = mesh.app.seen.at(-1) as Seen;
    assert.equal(seen.headers.host, WEB);
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers['x-hop'], undefined, 'fields named by Connection are hop-by-hop');
    assert.equal(seen.headers['l5d-orig-proto'], undefined, 'the inbound proxy removes the marker');
    assert.equal(mesh.relay.connections.length, 1);
    assert.ok(wire(mesh.relay, 0).startsWith(H2_PREFACE), 'the hop speaks HTTP/2');
  });

  it('POST bodies keep their framing: Content-Length, chunked (with trailers), and large ones under flow control', async () => {
    const sized = await request(mesh.client.outboundPort, '/post', { method: 'POST', body: 'x'.repeat(1000) });
    assert.deepEqual(JSON.parse(sized.body.toString()), { method: 'POST', url: '/post', version: '1.1', length: 1000, te: null });
    assert.equal(mesh.app.seen.at(-1)?.headers['content-length'], '1000');

    const chunked = await request(mesh.client.outboundPort, '/post', { method: 'POST', body: ['abc', 'defg', 'h'] });
    assert.deepEqual(JSON.parse(chunked.body.toString()), { method: 'POST', url: '/post', version: '1.1', length: 8, te: 'chunked' });
    assert.equal(mesh.app.seen.at(-1)?.body, 'abcdefgh');

    // 3 MiB up and 3 MiB down: far beyond every HTTP/2 window, so both directions wait for WINDOW_UPDATEs.
    const big = Buffer.alloc(3 << 20, 'u');
    const up = await request(mesh.client.outboundPort, '/post', { method: 'POST', body: big });
    assert.equal(JSON.parse(up.body.toString()).length, big.length);
    const upChunked = await request(mesh.client.outboundPort, '/post', { method: 'POST', body: [big.subarray(0, 1 << 20), big.subarray(1 << 20)] });
    assert.equal(JSON.parse(upChunked.body.toString()).length, big.length);
    const down = await request(mesh.client.outboundPort, `/big?n=${3 << 20}`);
    assert.equal(down.status, 200);
    assert.equal(down.headers['content-length'], String(3 << 20));
    assert.equal(down.body.length, 3 << 20);
    assert.ok(down.body.every((b) => b === 0x62));
    assert.equal(mesh.relay.connections.length, 1, 'all on the one HTTP/2 connection');
  });

  it('a response without a length reaches the client chunked, with its trailers', async () => {
    const reply = await request(mesh.client.outboundPort, '/stream');
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['transfer-encoding'], 'chunked');
    assert.equal(reply.body.toString(), 'one,two,three');
    assert.equal(reply.trailers['x-digest'], 'abc');
  });

  it('HEAD, 204 and 304 carry no body, and the connection goes on', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const head = await request(mesh.client.outboundPort, `/big?n=5000`, { method: 'HEAD', agent });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '5000');
      assert.equal(head.body.length, 0);
      const noContent = await request(mesh.client.outboundPort, '/204', { agent });
      assert.equal(noContent.status, 204);
      assert.equal(noContent.headers['x-empty'], 'yes');
      const notModified = await request(mesh.client.outboundPort, '/304', { agent });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.etag, '"v1"');
      const after = await request(mesh.client.outboundPort, '/after', { agent });
      assert.equal(JSON.parse(after.body.toString()).url, '/after');
    } finally {
      agent.destroy();
    }
  });

  it('many requests, on many client connections and concurrently, share ONE connection between the proxies', async () => {
    const before = mesh.app.seen.length;
    for (let i = 0; i < 30; i++) assert.equal((await request(mesh.client.outboundPort, `/seq/${i}`)).status, 200);
    const parallel = await Promise.all(Array.from({ length: 40 }, (_, i) => request(mesh.client.outboundPort, `/par/${i}`, { method: 'POST', body: `body-${i}` })));
    for (const [i, reply] of parallel.entries()) assert.deepEqual(JSON.parse(reply.body.toString()), { method: 'POST', url: `/par/${i}`, version: '1.1', length: `body-${i}`.length, te: null });
    assert.equal(mesh.app.seen.length - before, 70);
    assert.equal(mesh.relay.connections.length, 1, 'one TCP connection across the hop for every request so far');
    // Streams that completed are not reset afterwards: each RST_STREAM would cost the peer a read.
    assert.deepEqual(frameTypes(Buffer.concat((mesh.relay.connections[0] as { toServer: Buffer[] }).toServer)).get(RST_STREAM), undefined, 'no RST_STREAM for completed requests');
    const text = mesh.client.metrics();
    assert.ok(seriesValue(text, 'request_total', { direction: 'outbound', authority: WEB, dst_pod: 'web-0' }) >= 70, 'counted as HTTP requests at the outbound proxy');
    assert.ok(seriesValue(mesh.server.metrics(), 'request_total', { direction: 'inbound' }) >= 70, 'and at the inbound one');
  });

  it('curl as the client; an Upgrade still goes as HTTP/1.1 on a connection of its own', async () => {
    const out = await curl(['-i', '-H', `Host: ${WEB}`, `http://127.0.0.1:${mesh.client.outboundPort}/curl`]);
    assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(out, /"url":"\/curl"/);
    const relayed = mesh.relay.connections.length;
    // Upgrade: the node:http stack tunnels it over a plain HTTP/1 connection of its own.
    const socket = net.connect(mesh.client.outboundPort, '127.0.0.1');
    try {
      socket.write(`GET /ws HTTP/1.1\r\nHost: ${WEB}\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n`);
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      const deadline = Date.now() + 5000;
      while (!got.includes('\r\n\r\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.match(got, /^HTTP\/1\.1 101 /);
      socket.write('ping-through-tunnel');
      while (!got.includes('ping-through-tunnel') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(got.includes('ping-through-tunnel'), 'the tunnel echoes');
    } finally {
      socket.destroy();
    }
    assert.equal(mesh.relay.connections.length, relayed + 1, 'the upgrade took a connection of its own');
    assert.match(wire(mesh.relay, relayed), /^GET \/ws HTTP\/1\.1\r\n/, 'as HTTP/1.1');
  });

  it('an HTTP/1.0 client is answered (by the node:http stack, as HTTP/1)', async () => {
    const out = await curl(['-i', '--http1.0', '-H', `Host: ${WEB}`, `http://127.0.0.1:${mesh.client.outboundPort}/old`]);
    assert.match(out, /^HTTP\/1\.[01] 200 /);
    assert.match(out, /"url":"\/old"/);
  });

  it('an app that resets the connection gives the HTTP/1 client a 502 with sluice-proxy-error (HTTP/2 then HTTP/1)', async () => {
    const reply = await request(mesh.client.outboundPort, '/reset');
    assert.equal(reply.status, 502);
    assert.equal(reply.headers[PROXY_ERROR_HEADER], 'upstream closed the connection');
    // And the hop is still good.
    assert.equal((await request(mesh.client.outboundPort, '/after-reset')).status, 200);
  });

  it('a client that leaves (connection reset) cancels the stream, and the inbound proxy drops its request to the app', async () => {
    const socket = net.connect(mesh.client.outboundPort, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(`GET /hang HTTP/1.1\r\nHost: ${WEB}\r\n\r\n`);
    await until(() => mesh.app.hanging.size === 1, 'the request to reach the app');
    // A reset, not a FIN: a client that only half-closes still waits for its answer (HTTP/1 allows it).
    socket.resetAndDestroy();
    // Well before any response timeout (10 s by default): the cancellation crossed both proxies.
    await until(() => mesh.app.hanging.size === 0, "the app's connection to be closed");
    assert.equal((await request(mesh.client.outboundPort, '/after-cancel')).status, 200);
  });

  it('an endpoint without the hint is reached as HTTP/1.1', async () => {
    const relayed = mesh.relay.connections.length;
    const reply = await request(mesh.client.outboundPort, '/unhinted', { host: PLAIN });
    assert.equal(reply.status, 200);
    assert.equal(mesh.relay.connections.length, relayed + 1);
    assert.match(wire(mesh.relay, relayed), /^GET \/unhinted HTTP\/1\.1\r\n/);
  });
});

describe("orig-proto: the inbound proxy's response timeout", { timeout: 30_000 }, () => {
  let mesh: Mesh;
  before(async () => {
    mesh = await startMesh(false, { SLUICE_PROXY_HTTP_RESPONSE_TIMEOUT: '300ms' });
  });
  after(() => mesh.close());

  it('reaches the HTTP/1 client as a 504 with sluice-proxy-error, and the app request is dropped', async () => {
    const reply = await request(mesh.client.outboundPort, '/hang');
    assert.equal(reply.status, 504);
    assert.equal(reply.headers[PROXY_ERROR_HEADER], 'response timed out');
    await until(() => mesh.app.hanging.size === 0, "the app's connection to be closed");
    assert.ok(seriesValue(mesh.server.metrics(), 'response_total', { direction: 'inbound', status_code: '504' }) >= 1);
  });
});

describe('orig-proto: the inbound proxy serves what a Linkerd outbound proxy sends', { timeout: 30_000 }, () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  let server: InProcessProxy;
  before(async () => {
    app = await startApp();
    server = await startInProcessProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${app.port}` }, undefined);
  });
  after(async () => {
    await server.close();
    await app.close();
  });

  async function h2(headers: http2.OutgoingHttpHeaders, body?: string): Promise<{ headers: http2.IncomingHttpHeaders; body: string }> {
    const session = http2.connect(`http://127.0.0.1:${server.inboundPort}`);
    try {
      const stream = session.request({ ':authority': WEB, ...headers }, { endStream: body === undefined });
      stream.setTimeout(10_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      if (body !== undefined) stream.end(body);
      const [responseHeaders] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
      let text = '';
      stream.setEncoding('utf8');
      for await (const chunk of stream) text += chunk;
      return { headers: responseHeaders, body: text };
    } finally {
      session.close();
    }
  }

  it('HTTP/1.0 and absolute-form as l5d-orig-proto says; the response is marked with the version the app answered in', async () => {
    const old = await h2({ ':path': '/ten', 'l5d-orig-proto': 'HTTP/1.0' });
    assert.equal(old.headers[':status'], 200);
    assert.equal(JSON.parse(old.body).version, '1.0');
    assert.equal(old.headers['l5d-orig-proto'], 'HTTP/1.1', 'node:http answers HTTP/1.1 even to 1.0');
    const absolute = await h2({ ':path': '/abs?x=1', 'l5d-orig-proto': 'HTTP/1.1; absolute-form' });
    assert.equal(JSON.parse(absolute.body).url, `http://${WEB}/abs?x=1`);
    const posted = await h2({ ':method': 'POST', ':path': '/p', 'l5d-orig-proto': 'HTTP/1.1', cookie: 'a=1' }, 'hello');
    assert.deepEqual(JSON.parse(posted.body), { method: 'POST', url: '/p', version: '1.1', length: 5, te: 'chunked' });
    assert.equal(app.seen.at(-1)?.headers.cookie, 'a=1');
  });

  it('an h2 request without the marker stays HTTP/2; an app that is gone is a 502 in HTTP/2', async () => {
    const reset = await h2({ ':path': '/reset', 'l5d-orig-proto': 'HTTP/1.1' });
    assert.equal(reset.headers[':status'], 502);
    assert.equal(reset.headers[PROXY_ERROR_HEADER], 'upstream closed the connection');
  });
});

describe('orig-proto inside mesh TLS', { timeout: 60_000 }, () => {
  let mesh: Mesh;
  before(async () => {
    mesh = await startMesh(true);
  });
  after(() => mesh.close());

  it('requests cross one encrypted HTTP/2 connection, and the app sees the verified caller', async () => {
    for (let i = 0; i < 10; i++) {
      const reply = await request(mesh.client.outboundPort, `/tls/${i}`, { method: 'POST', body: `secret-${i}` });
      assert.equal(reply.status, 200, reply.body.toString());
    }
    assert.equal(mesh.app.seen.at(-1)?.headers['sluice-client-id'], identityName('web-client'));
    assert.equal(mesh.relay.connections.length, 1);
    const bytes = Buffer.concat(mesh.relay.connections[0]?.toServer ?? []);
    assert.equal(bytes[0], 22, 'a TLS handshake first');
    assert.ok(!bytes.includes('secret-'), 'no plaintext on the wire');
    assert.ok(seriesValue(mesh.client.metrics(), 'request_total', { direction: 'outbound', tls: 'true' }) >= 10);
  });
});
