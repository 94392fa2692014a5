// Opaque TCP through the proxy: detection outcomes that lead here, half-close, TLS pass-through.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { closeServer, collect, connect, listen } from '../../../../test/support/net.ts';
import { metricValue, startProxy } from '../../../../test/support/proxy.ts';
import { missingRoot, missingTools, requirementsMet } from '../../../../test/support/requirements.ts';
import { DEFAULT_OPAQUE_PORTS } from '../../../config/proxy-config.ts';

function bannerServer(): net.Server {
  return net.createServer((socket) => {
    socket.write('220 smtp.example ESMTP ready\r\n');
    socket.on('data', (d) => socket.write(`echo:${d}`));
    socket.on('error', () => {});
  });
}

/**
 * A server-speaks-first echo server on `port` of some address in 127.0.0.0/8 other than 127.0.0.1 (the
 * default opaque ports are fixed numbers; another address keeps clear of anything on the machine that
 * already listens on, say, 127.0.0.1:6379).
 */
async function fixedPortServer(port: number): Promise<{ server: net.Server; host: string }> {
  for (let attempt = 0; ; attempt++) {
    const host = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    // bannerServer's echo goes through a string; this one sends the bytes back as they came.
    const server = net.createServer((socket) => {
      socket.write('220 smtp.example ESMTP ready\r\n');
      socket.once('data', () => socket.write('echo:'));
      socket.on('data', (d) => socket.write(d));
      socket.on('error', () => {});
    });
    try {
      server.listen(port, host);
      await once(server, 'listening');
      return { server, host };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 5) throw error;
    }
  }
}

/**
 * Through an inbound proxy whose forward address is `port` (the proxy's default configuration): the
 * server's banner arrives without the client speaking (no detection wait), and bytes that look like HTTP
 * come back exactly as sent (nothing parsed or rewritten them).
 */
async function assertOpaqueByDefault(port: number): Promise<void> {
  const { server, host } = await fixedPortServer(port);
  const proxy = await startProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: `${host}:${port}`, SLUICE_PROXY_DETECT_TIMEOUT: '30s' });
  try {
    const socket = await connect(proxy.inbound.port);
    const banner = await collect(socket, (r) => r.includes('ready\r\n'), 10_000);
    assert.match(banner, /^220 smtp\.example ESMTP ready\r\n$/, `port ${port}: the banner came before the client spoke`);
    const again = await connect(proxy.inbound.port);
    const payload = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);
    const expected = `220 smtp.example ESMTP ready\r\necho:${payload.toString('latin1')}`;
    again.write(payload);
    const echoed = await collect(again, (r) => r.length >= expected.length, 10_000);
    assert.equal(echoed, expected, `port ${port}: bytes through untouched`);
    const metrics = await proxy.metrics();
    assert.equal(metricValue(metrics, 'protocol_detect_total', { direction: 'inbound', protocol: 'opaque', reason: 'opaque_port' }), 2, `port ${port}`);
  } finally {
    await proxy.stop();
    await closeServer(server);
  }
}

const DEFAULT_PORTS = DEFAULT_OPAQUE_PORTS.split(',').map(Number);

describe('the default opaque ports (Linkerd\'s list), with nothing configured', () => {
  it(`passes bytes through untouched and at once on ${DEFAULT_PORTS.filter((p) => p >= 1024).join(', ')}`, { timeout: 120_000 }, async () => {
    for (const port of DEFAULT_PORTS.filter((p) => p >= 1024)) await assertOpaqueByDefault(port);
  });

  it(`does the same on ${DEFAULT_PORTS.filter((p) => p < 1024).join(', ')}`, async (t) => {
    if (!requirementsMet(t, missingRoot('binding ports below 1024'))) return;
    for (const port of DEFAULT_PORTS.filter((p) => p < 1024)) await assertOpaqueByDefault(port);
  });
});

describe('opaque TCP', () => {
  it('skips detection on opaque inbound ports, so server-speaks-first protocols see no delay', async (t) => {
    const server = bannerServer();
    const port = await listen(server);
    const proxy = await startProxy({
      SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${port}`,
      SLUICE_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: String(port),
      SLUICE_PROXY_DETECT_TIMEOUT: '10s',
    });
    t.after(async () => {
      await proxy.stop();
      await closeServer(server);
    });
    const started = Date.now();
    const socket = await connect(proxy.inbound.port);
    const banner = await collect(socket, (r) => r.includes('ready'), 3000);
    assert.match(banner, /^220 smtp\.example/);
    assert.ok(Date.now() - started < 2000, 'no detect timeout was waited for');
    const metrics = await proxy.metrics();
    assert.equal(metricValue(metrics, 'protocol_detect_total', { direction: 'inbound', reason: 'opaque_port' }), 1);
  });

  it('treats a silent client as opaque once the detect timeout passes', async (t) => {
    const server = bannerServer();
    const port = await listen(server);
    const proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}`, SLUICE_PROXY_DETECT_TIMEOUT: '300ms' });
    t.after(async () => {
      await proxy.stop();
      await closeServer(server);
    });
    const started = Date.now();
    const socket = await connect(proxy.outbound.port);
    const banner = await collect(socket, (r) => r.includes('ready'), 5000);
    assert.match(banner, /^220 /);
    assert.ok(Date.now() - started >= 250, 'the proxy waited for the client to speak first');
    const metrics = await proxy.metrics();
    assert.equal(metricValue(metrics, 'protocol_detect_total', { protocol: 'opaque', reason: 'read_timeout' }), 1);
  });

  it('pipes non-HTTP bytes both ways and honours half-close', async (t) => {
    // The server answers only after the client has finished sending (FIN), then closes.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      const hash = createHash('sha256');
      socket.on('data', (d) => hash.update(d));
      socket.on('end', () => socket.end(`sha256:${hash.digest('hex')}`));
    });
    const port = await listen(server);
    const proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}` });
    t.after(async () => {
      await proxy.stop();
      await closeServer(server);
    });
    const payload = Buffer.alloc(4 * 1024 * 1024, '\x00\x01binary\xff');
    const socket = net.connect({ port: proxy.outbound.port, host: '127.0.0.1', allowHalfOpen: true });
    await once(socket, 'connect');
    socket.end(payload);
    const answer = await collect(socket, undefined, 10_000);
    assert.equal(answer, `sha256:${createHash('sha256').update(payload).digest('hex')}`);
    const metrics = await proxy.metrics();
    assert.ok(metricValue(metrics, 'tcp_read_bytes_total', { direction: 'outbound', peer: 'src' }) >= payload.length);
    assert.equal(metricValue(metrics, 'protocol_detect_total', { protocol: 'opaque', reason: 'not_http' }), 1);
  });

  it('closes the client connection when the upstream cannot be reached', async (t) => {
    const spare = net.createServer();
    const deadPort = await listen(spare);
    await closeServer(spare);
    const proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${deadPort}` });
    t.after(() => proxy.stop());
    const socket = await connect(proxy.outbound.port);
    socket.write('\x00\x01 not http');
    await collect(socket, undefined, 3000); // resolves on close; rejects if the proxy left it hanging
    const metrics = await proxy.metrics();
    assert.equal(metricValue(metrics, 'tcp_close_total', { peer: 'dst', errno: 'ECONNREFUSED' }), 1);
  });
});

describe('TLS pass-through', () => {
  it('forwards TLS not meant for the mesh untouched and records its SNI', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
        '-subj', '/CN=backend.example', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ], { stdio: 'ignore' });
    } catch {
      if (!requirementsMet(t, missingTools([['openssl', ['version']]], 'openssl makes the certificate'))) return;
      throw new Error('openssl runs but could not make a certificate');
    }
    const cert = readFileSync(join(dir, 'cert.pem'));
    const server = tls.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (socket) => {
      socket.end(`hello ${socket.servername ?? 'nobody'} over ${socket.getProtocol()}`);
    });
    const port = await listen(server);
    const proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}` });
    t.after(async () => {
      await proxy.stop();
      await closeServer(server);
    });
    const socket = tls.connect({ host: '127.0.0.1', port: proxy.outbound.port, servername: 'backend.example', ca: cert });
    await once(socket, 'secureConnect');
    assert.equal(socket.authorized, true, 'the end-to-end handshake verified the backend certificate');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    await once(socket, 'end');
    assert.match(text, /^hello backend\.example over TLSv1\.3$/);
    const metrics = await proxy.metrics();
    assert.equal(metricValue(metrics, 'tls_passthrough_total', { sni: 'backend.example' }), 1);
  });
});

describe('serving on the main thread (SLUICE_PROXY_WORKERS=0)', () => {
  it('proxies HTTP and TCP without worker threads', async (t) => {
    const server = net.createServer((socket) => {
      socket.once('data', (d) => {
        if (d.toString().startsWith('GET')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
        else socket.end(`echo:${d}`);
      });
    });
    const port = await listen(server);
    const proxy = await startProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${port}`, SLUICE_PROXY_WORKERS: '0' });
    t.after(async () => {
      await proxy.stop();
      await closeServer(server);
    });
    const res = await fetch(`http://127.0.0.1:${proxy.outbound.port}/`);
    assert.equal(await res.text(), 'ok');
    const socket = await connect(proxy.outbound.port);
    socket.write('\x16\x00 opaque');
    assert.equal(await collect(socket), 'echo:\x16\x00 opaque');
  });
});
