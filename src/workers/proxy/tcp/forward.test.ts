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
import { missingTools, requirementsMet } from '../../../../test/support/requirements.ts';

function bannerServer(): net.Server {
  return net.createServer((socket) => {
    socket.write('220 smtp.example ESMTP ready\r\n');
    socket.on('data', (d) => socket.write(`echo:${d}`));
    socket.on('error', () => {});
  });
}

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
