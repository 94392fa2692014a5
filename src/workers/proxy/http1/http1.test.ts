// HTTP/1.1 through the real proxy process: keep-alive, streaming bodies, hop-by-hop headers, the
// message forms without bodies, 1xx, upgrades, CONNECT and HTTP/1.0.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startProxy, metricValue, type RunningProxy } from '../../../../test/support/proxy.ts';
import { closeServer, collect, connect, exchange, listen } from '../../../../test/support/net.ts';

/** A backend that reports what it received: method, url, headers, body digest and its connection id. */
function echoBackend(): { server: http.Server; connections: () => number } {
  let connections = 0;
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        bytes,
        sha256: hash.digest('hex'),
        connection: (req.socket as net.Socket & { id?: number }).id,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': 'echo' });
      res.end(body);
    });
  });
  server.on('connection', (socket: net.Socket & { id?: number }) => {
    socket.id = ++connections;
  });
  return { server, connections: () => connections };
}

function request(
  port: number,
  options: http.RequestOptions & { body?: Buffer | string },
  agent: http.Agent | false = false,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; trailers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('HTTP/1.1 through the proxy', () => {
  const echo = echoBackend();
  let backendPort = 0;
  let proxy: RunningProxy;

  before(async () => {
    backendPort = await listen(echo.server);
    proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${backendPort}` });
  });
  after(async () => {
    await proxy.stop();
    await closeServer(echo.server);
  });

  it('forwards requests and reuses one upstream connection across keep-alive requests', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = echo.connections();
    for (let i = 0; i < 10; i++) {
      const res = await request(proxy.outbound.port, { path: `/item/${i}?q=${i}` }, agent);
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body.toString()).url, `/item/${i}?q=${i}`);
    }
    agent.destroy();
    assert.equal(echo.connections() - before, 1, 'ten sequential requests share one pooled upstream connection');
    const metrics = await proxy.metrics();
    assert.ok(metricValue(metrics, 'request_total', { direction: 'outbound', target_addr: `127.0.0.1:${backendPort}` }) >= 10);
  });

  it('streams content-length and chunked bodies unchanged', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 'sluice');
    const digest = createHash('sha256').update(body).digest('hex');
    const withLength = await request(proxy.outbound.port, { method: 'POST', path: '/upload', body });
    assert.equal(JSON.parse(withLength.body.toString()).sha256, digest);

    const chunked = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.outbound.port, method: 'PUT', path: '/chunked' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      for (let i = 0; i < 3; i++) req.write(body.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
      req.end();
    });
    const seen = JSON.parse(chunked);
    assert.equal(seen.sha256, digest);
    assert.equal(seen.headers['transfer-encoding'], 'chunked');
  });

  it('removes hop-by-hop headers, including those named in Connection, and keeps the rest', async () => {
    const res = await request(proxy.outbound.port, {
      path: '/headers',
      headers: {
        Connection: 'keep-alive, X-Hop',
        'X-Hop': 'drop me',
        'Keep-Alive': 'timeout=5',
        'Proxy-Connection': 'keep-alive',
        TE: 'trailers',
        'X-End-To-End': 'keep me',
      },
    });
    const seen = JSON.parse(res.body.toString()).headers as Record<string, string>;
    assert.equal(seen['x-end-to-end'], 'keep me');
    for (const name of ['x-hop', 'keep-alive', 'proxy-connection', 'te']) assert.equal(seen[name], undefined, name);
    assert.equal(res.headers['x-backend'], 'echo');
  });

  it('routes absolute-form requests by their authority and sends origin form upstream', async () => {
    const text = await exchange(
      proxy.outbound.port,
      `GET http://127.0.0.1:${backendPort}/absolute?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${backendPort}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.match(text, /"url":"\/absolute\?x=1"/);
  });

  it('serves HTTP/1.0 clients', async () => {
    const text = await exchange(proxy.outbound.port, 'GET /old HTTP/1.0\r\n\r\n');
    assert.match(text, /^HTTP\/1\.[01] 200/);
    assert.match(text, /"url":"\/old"/);
  });
});

describe('HTTP/1.1 message forms', () => {
  let proxy: RunningProxy;
  let backend: http.Server;
  let upgraded: net.Socket | undefined;

  before(async () => {
    backend = http.createServer((req, res) => {
      switch (req.url) {
        case '/head':
          res.writeHead(200, { 'content-length': '1234', 'content-type': 'text/plain' });
          res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1234));
          return;
        case '/no-content':
          res.writeHead(204);
          res.end();
          return;
        case '/not-modified':
          res.writeHead(304, { etag: '"v1"' });
          res.end();
          return;
        case '/trailers':
          res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
          res.write('part one,');
          res.addTrailers({ 'x-checksum': 'abc123' });
          res.end('part two');
          return;
        case '/early-hints':
          res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
          setTimeout(() => res.end('final'), 20);
          return;
        default: {
          let bytes = 0;
          req.on('data', (c: Buffer) => (bytes += c.length));
          req.on('end', () => res.end(`got ${bytes}`));
        }
      }
    });
    backend.on('checkContinue', (req, res) => {
      if (req.headers['x-reject'] !== undefined) {
        res.writeHead(417, { 'content-length': '8' });
        res.end('rejected');
        return;
      }
      res.writeContinue();
      backend.emit('request', req, res);
    });
    backend.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
      upgraded = socket;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      if (head.length > 0) socket.write(head);
      socket.pipe(socket);
    });
    const port = await listen(backend);
    proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}` });
  });
  after(async () => {
    upgraded?.destroy();
    await proxy.stop();
    await closeServer(backend);
  });

  it('answers HEAD, 204 and 304 without a body and keeps the connection usable', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const head = await request(proxy.outbound.port, { method: 'HEAD', path: '/head' }, agent);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '1234');
    assert.equal(head.body.length, 0);
    assert.equal((await request(proxy.outbound.port, { path: '/no-content' }, agent)).status, 204);
    const notModified = await request(proxy.outbound.port, { path: '/not-modified' }, agent);
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.etag, '"v1"');
    const get = await request(proxy.outbound.port, { path: '/head' }, agent);
    assert.equal(get.body.length, 1234, 'the same connection still frames the next response correctly');
    agent.destroy();
  });

  it('forwards response trailers', async () => {
    const res = await request(proxy.outbound.port, { path: '/trailers', headers: { te: 'trailers' } });
    assert.equal(res.body.toString(), 'part one,part two');
    assert.equal(res.trailers['x-checksum'], 'abc123');
  });

  it('relays 103 Early Hints before the final response', async () => {
    const text = await exchange(proxy.outbound.port, 'GET /early-hints HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 103 Early Hints\r\n[^]*link: <\/style\.css>/i);
    assert.match(text, /HTTP\/1\.1 200 OK[^]*final$/);
  });

  it('lets the upstream decide Expect: 100-continue', async () => {
    // Accepted: the 100 comes from the upstream, then the body flows and the final answer follows.
    const socket = await connect(proxy.outbound.port);
    socket.write('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    let seen = '';
    let sent = false;
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      seen += c;
      if (!sent && seen.includes('\r\n\r\n')) {
        sent = true;
        assert.match(seen, /^HTTP\/1\.1 100 Continue/);
        socket.write('hello');
      }
    });
    await once(socket, 'close');
    assert.match(seen, /HTTP\/1\.1 200 OK[^]*got 5$/);

    // Refused: no 100 is relayed, the client gets the final status and never sends the body.
    const rejected = await exchange(
      proxy.outbound.port,
      'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\nX-Reject: 1\r\nConnection: close\r\n\r\n',
      (r) => r.includes('rejected'),
    );
    assert.match(rejected, /^HTTP\/1\.1 417/);
  });

  it('turns an accepted Upgrade into a byte tunnel', async () => {
    const socket = await connect(proxy.outbound.port);
    socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    const response = await new Promise<string>((resolve) => {
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (c: string) => {
        text += c;
        if (text.includes('\r\n\r\n') && !text.includes('ping')) socket.write('ping-over-tunnel');
        if (text.includes('ping-over-tunnel')) resolve(text);
      });
    });
    assert.match(response, /^HTTP\/1\.1 101 Switching Protocols/);
    assert.match(response, /ping-over-tunnel$/);
    socket.destroy();
  });
});

describe('HTTP CONNECT', () => {
  it('opens a tunnel to the CONNECT authority when the connection has no destination of its own', async (t) => {
    const echoServer = net.createServer((s) => s.pipe(s));
    const echoPort = await listen(echoServer);
    const proxy = await startProxy();
    t.after(async () => {
      await proxy.stop();
      await closeServer(echoServer);
    });
    const socket = await connect(proxy.outbound.port);
    socket.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\n\r\n`);
    const text = await new Promise<string>((resolve) => {
      let seen = '';
      socket.setEncoding('latin1');
      socket.on('data', (c: string) => {
        seen += c;
        if (seen.endsWith('\r\n\r\n') && !seen.includes('tunnel')) socket.write('tunnel bytes');
        if (seen.includes('tunnel bytes')) resolve(seen);
      });
    });
    assert.match(text, /^HTTP\/1\.1 200 Connection Established\r\n\r\ntunnel bytes$/);
    socket.destroy();
  });
});
