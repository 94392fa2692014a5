// The fast HTTP/1 engine (SLUICE_PROXY_HTTP1_ENGINE=fast) on cases particular to it: hand-off to the
// node:http path at a request boundary, framing it follows without decoding, pipelining, backpressure.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { closeServer, collect, connect, listen } from '../../../../test/support/net.ts';
import { startProxy, type RunningProxy } from '../../../../test/support/proxy.ts';

/** Reads a connection step by step (test/support's collect destroys the socket once satisfied). */
function reader(socket: net.Socket): (until: (received: string) => boolean, timeoutMs?: number) => Promise<string> {
  let received = '';
  let waiter: (() => void) | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    received += chunk;
    waiter?.();
  });
  socket.on('error', () => {});
  return (until, timeoutMs = 5000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; received so far: ${JSON.stringify(received)}`)), timeoutMs);
      const check = (): void => {
        if (!until(received)) return;
        clearTimeout(timer);
        waiter = undefined;
        const out = received;
        received = '';
        resolve(out);
      };
      waiter = check;
      check();
    });
}

/** A backend speaking raw bytes, so the test decides every framing detail of the responses. */
function rawBackend(seen: string[]): net.Server {
  return net.createServer((socket) => {
    let pending = '';
    let uploadLeft = 0;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      if (uploadLeft > 0) {
        uploadLeft -= chunk.length;
        if (uploadLeft === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone');
        return;
      }
      pending += chunk;
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        seen.push(head);
        const [method, path] = head.split(' ') as [string, string];
        if (path === '/slow-upload') {
          // Reads nothing for a while: the proxy must stop reading its client meanwhile.
          uploadLeft = Number(/content-length: (\d+)/i.exec(head)?.[1]) - pending.length;
          pending = '';
          socket.pause();
          setTimeout(() => socket.resume(), 1000);
          return;
        }
        if (path === '/chunked') {
          socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-t\r\nKeep-Alive: timeout=5\r\n\r\n5\r\nhel');
          setTimeout(() => socket.write('lo\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\n'), 20);
        } else if (path === '/close') {
          socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
          return;
        } else if (path === '/204') {
          socket.write('HTTP/1.1 204 No Content\r\n\r\n');
        } else if (path === '/304') {
          socket.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n');
        } else if (method === 'HEAD') {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
        } else {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\nConnection: keep-alive\r\n\r\n${path}`);
        }
      }
    });
    socket.on('error', () => {});
  });
}

describe('fast HTTP/1 engine', () => {
  let proxy: RunningProxy;
  let raw: net.Server;
  let rawPort = 0;
  let upgrader: http.Server;
  let upgraderPort = 0;
  const seen: string[] = [];
  const upgraded: Array<{ destroy(): void }> = [];

  before(async () => {
    raw = rawBackend(seen);
    rawPort = await listen(raw);
    upgrader = http.createServer((req, res) => res.end(`plain ${req.url}`));
    upgrader.on('upgrade', (req, socket) => {
      upgraded.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (d) => socket.write(d));
    });
    upgraderPort = await listen(upgrader);
    proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${rawPort}`, SLUICE_PROXY_HTTP1_ENGINE: 'fast' });
  });
  after(async () => {
    // An upgraded tunnel runs on through a drain: close it first.
    for (const socket of upgraded) socket.destroy();
    const started = Date.now();
    await proxy.stop();
    assert.ok(Date.now() - started < 5000, 'the proxy drains promptly');
    await closeServer(raw);
    upgrader.closeAllConnections();
    await closeServer(upgrader);
  });

  it('hands the connection to node:http at a request boundary for an Upgrade after two plain requests', async () => {
    const socket = await connect(proxy.outbound.port);
    const next = reader(socket);
    const host = `127.0.0.1:${upgraderPort}`;
    socket.write(`GET /one HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    const first = await next((r) => r.endsWith('plain /one'));
    assert.match(first, /^HTTP\/1\.1 200 /);
    socket.write(`GET /two HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assert.match(await next((r) => r.endsWith('plain /two')), /^HTTP\/1\.1 200 /);
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
    const switched = await next((r) => r.includes('\r\n\r\n'));
    assert.match(switched, /^HTTP\/1\.1 101 /);
    socket.write('ping');
    assert.equal(await next((r) => r === 'ping'), 'ping');
    socket.destroy();
  });

  it('forwards chunked responses with extensions and trailers as they are', async () => {
    const socket = await connect(proxy.outbound.port);
    const next = reader(socket);
    socket.write(`GET /chunked HTTP/1.1\r\nHost: 127.0.0.1:${rawPort}\r\n\r\n`);
    const text = await next((r) => r.endsWith('0\r\nx-t: 1\r\n\r\n'));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.doesNotMatch(text, /Keep-Alive|Trailer:/i);
    assert.ok(text.endsWith('\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-t: 1\r\n\r\n'));
    // The connection stays usable.
    socket.write(`GET /after HTTP/1.1\r\nHost: 127.0.0.1:${rawPort}\r\n\r\n`);
    assert.ok((await next((r) => r.endsWith('/after'))).includes('/after'));
    socket.destroy();
  });

  it('forwards a close-delimited response until the upstream closes, then closes the client', async () => {
    const socket = await connect(proxy.outbound.port);
    socket.write(`GET /close HTTP/1.1\r\nHost: 127.0.0.1:${rawPort}\r\n\r\n`);
    const text = await collect(socket);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nConnection: close\r\n/);
    assert.ok(text.endsWith('\r\n\r\nuntil the end'));
  });

  it('answers pipelined requests in order', async () => {
    const socket = await connect(proxy.outbound.port);
    const h = `Host: 127.0.0.1:${rawPort}`;
    socket.write(`GET /a HTTP/1.1\r\n${h}\r\n\r\nGET /bb HTTP/1.1\r\n${h}\r\n\r\nGET /ccc HTTP/1.1\r\n${h}\r\nConnection: close\r\n\r\n`);
    const text = await collect(socket);
    const bodies = text.split('HTTP/1.1 200 OK').slice(1).map((r) => r.slice(r.indexOf('\r\n\r\n') + 4));
    assert.deepEqual(bodies, ['/a', '/bb', '/ccc']);
  });

  it('expects no body after HEAD, 204 and 304', async () => {
    const socket = await connect(proxy.outbound.port);
    const next = reader(socket);
    const h = `Host: 127.0.0.1:${rawPort}`;
    socket.write(`HEAD /x HTTP/1.1\r\n${h}\r\n\r\n`);
    assert.match(await next((r) => r.endsWith('\r\n\r\n')), /^HTTP\/1\.1 200 OK\r\nContent-Length: 5\r\n\r\n$/);
    socket.write(`GET /204 HTTP/1.1\r\n${h}\r\n\r\n`);
    assert.match(await next((r) => r.endsWith('\r\n\r\n')), /^HTTP\/1\.1 204 /);
    socket.write(`GET /304 HTTP/1.1\r\n${h}\r\n\r\n`);
    assert.match(await next((r) => r.endsWith('\r\n\r\n')), /^HTTP\/1\.1 304 /);
    socket.write(`GET /last HTTP/1.1\r\n${h}\r\n\r\n`);
    assert.ok((await next((r) => r.endsWith('/last'))).startsWith('HTTP/1.1 200 OK'));
    socket.destroy();
  });

  it('stops reading the client while the upstream does not read (backpressure)', async () => {
    const size = 32 * 1024 * 1024;
    const socket = await connect(proxy.outbound.port);
    const next = reader(socket);
    const body = Buffer.alloc(size, 120);
    socket.write(`POST /slow-upload HTTP/1.1\r\nHost: 127.0.0.1:${rawPort}\r\nContent-Length: ${size}\r\n\r\n`);
    socket.write(body);
    // Wait until the bytes stop moving (no change over 250 ms), not for a fixed time: on a slow
    // machine a proxy that buffers everything might not be done reading after any fixed delay.
    const deadline = Date.now() + 10_000;
    for (let last = -1; socket.writableLength !== last && Date.now() < deadline; ) {
      last = socket.writableLength;
      await new Promise((r) => setTimeout(r, 250));
    }
    // Socket buffers hold a few MB at most; the rest must still be waiting on our side.
    assert.ok(socket.writableLength > size / 2, `client still holds ${socket.writableLength} bytes`);
    const text = await next((r) => r.endsWith('done'), 20_000);
    assert.match(text, /^HTTP\/1\.1 200 /);
    socket.destroy();
  });
});
