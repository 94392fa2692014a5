// What mesh TLS refuses, through two real proxies: a peer with the wrong identity, an expired or an
// untrusted certificate is refused by the outbound side with a 502 (gRPC UNAVAILABLE) naming the TLS
// problem; a client whose certificate does not verify is refused by the inbound side before anything
// reaches the app. And what it leaves alone: TLS for another name passes through to the app's own TLS
// server, also inside mesh TLS; opaque ports keep server-speaks-first working; `openssl s_client` asking
// for the proxy's identity sees the proxy's chain; and a proxy without
// an identity never loads node:tls.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ERROR_RESPONSES, PROXY_ERROR_HEADER } from '../../core/errors.ts';
import { missingTools, requirementsMet } from '../../../test/support/requirements.ts';
import { certificatesToPem, generateKeyPair, issueLeaf, privateKeyToPem } from '../../control/identity/pki.ts';
import type { LocalIdentity } from '../transport/local-identity.ts';
import { identityName, leafIdentity, meshEndpoint, resolved, seriesValue, startInProcessProxy, testPki, type InProcessProxy } from './mesh-tls.testkit.ts';

const WEB = 'web.default.svc.cluster.local';
const CLIENT = identityName('web-client');
const SERVER = identityName('web');

/** An HTTP/1.1 app that records what reached it. */
async function startApp(t: TestContext): Promise<{ port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    req.resume();
    res.end('app');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, seen };
}

/**
 * Client proxy → server proxy (`serverIdentity`), Destination saying the endpoint is `expected`, to be
 * asked for by SNI `serverName` (default: the server's own name, so that it terminates).
 */
async function hop(
  t: TestContext,
  clientIdentity: LocalIdentity,
  serverIdentity: LocalIdentity,
  expected: string,
  serverName = serverIdentity.name,
): Promise<{ client: InProcessProxy; server: InProcessProxy; app: { seen: string[] } }> {
  const app = await startApp(t);
  const server = await startInProcessProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${app.port}` }, serverIdentity);
  const client = await startInProcessProxy({}, clientIdentity);
  const endpoint = { ...meshEndpoint(server.inboundPort, expected), tlsIdentity: { identity: expected, serverName } };
  client.destinations.set(`${WEB}:80`, resolved(endpoint));
  t.after(async () => {
    await client.close();
    await server.close();
  });
  return { client, server, app };
}

function get(port: number): Promise<{ status: number; error: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/secret', headers: { host: WEB }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers[PROXY_ERROR_HEADER] as string | undefined }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

function grpcCall(port: number): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': `${WEB}:80` });
  const identity = (b: Buffer): Buffer => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest('/test.Echo/Say', identity, identity, Buffer.from('x'), { deadline: Date.now() + 10_000 }, (error) => {
      client.close();
      resolve(error);
    });
  });
}

describe('mesh TLS: refusals, pass-through, opaque ports', () => {
  it('refuses a peer that proves another identity: 502 naming it, gRPC UNAVAILABLE, nothing reaches the app', async (t) => {
    const pki = await testPki();
    const { client, app } = await hop(t, await leafIdentity(pki, CLIENT), await leafIdentity(pki, SERVER), identityName('billing'));
    const reply = await get(client.outboundPort);
    assert.equal(reply.status, 502);
    assert.match(reply.error ?? '', new RegExp(ERROR_RESPONSES.tls_wrong_identity.message));
    const call = await grpcCall(client.outboundPort);
    assert.equal(call?.code, grpc.status.UNAVAILABLE);
    assert.match(call?.details ?? '', /another identity/);
    assert.deepEqual(app.seen, []);
    assert.ok(seriesValue(client.metrics(), 'response_total', { direction: 'outbound', error: 'tls_wrong_identity' }) >= 1);
  });

  it('fails with tls_handshake when the peer does not answer in TLS (it took the SNI for another name and passed it on)', async (t) => {
    const pki = await testPki();
    const billing = identityName('billing');
    const { client } = await hop(t, await leafIdentity(pki, CLIENT), await leafIdentity(pki, SERVER), billing, billing);
    const reply = await get(client.outboundPort);
    assert.equal(reply.status, 502);
    assert.match(reply.error ?? '', new RegExp(ERROR_RESPONSES.tls_handshake.message));
  });

  it('refuses a peer whose certificate has expired', async (t) => {
    const pki = await testPki();
    const expired = await leafIdentity(pki, SERVER, { now: new Date(Date.now() - 3 * 3600_000), lifetimeMs: 3600_000 });
    const { client, app } = await hop(t, await leafIdentity(pki, CLIENT), expired, SERVER);
    const reply = await get(client.outboundPort);
    assert.equal(reply.status, 502);
    assert.match(reply.error ?? '', new RegExp(ERROR_RESPONSES.tls_expired.message));
    assert.deepEqual(app.seen, []);
  });

  it('refuses a peer whose chain ends in another trust anchor', async (t) => {
    const ours = await testPki();
    const theirs = await testPki();
    const { client, app } = await hop(t, await leafIdentity(ours, CLIENT), await leafIdentity(theirs, SERVER, { trust: [ours.anchor] }), SERVER);
    const reply = await get(client.outboundPort);
    assert.equal(reply.status, 502);
    assert.match(reply.error ?? '', new RegExp(ERROR_RESPONSES.tls_untrusted.message));
    assert.deepEqual(app.seen, []);
  });

  it('the inbound side refuses a client whose certificate does not verify; the app sees nothing', async (t) => {
    const ours = await testPki();
    const theirs = await testPki();
    // The client trusts the server, but its own certificate comes from an anchor the server does not know.
    const { client, server, app } = await hop(t, await leafIdentity(theirs, CLIENT, { trust: [ours.anchor] }), await leafIdentity(ours, SERVER), SERVER);
    const reply = await get(client.outboundPort);
    assert.equal(reply.status, 502);
    assert.deepEqual(app.seen, []);
    assert.ok(seriesValue(server.metrics(), 'protocol_detect_total', { direction: 'inbound', reason: 'mesh_handshake_failed' }) >= 1);
  });

  it('lets a client without a certificate in, unauthenticated: no sluice-client-id, tls="true" without client_id', async (t) => {
    const pki = await testPki();
    const seen: Array<string | undefined> = [];
    const appServer = http.createServer((req, res) => {
      seen.push(req.headers['sluice-client-id'] as string | undefined);
      res.end('ok');
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => appServer.close(() => resolve())));
    const server = await startInProcessProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${(appServer.address() as net.AddressInfo).port}` }, await leafIdentity(pki, SERVER));
    t.after(() => server.close());
    const socket = tls.connect({ host: '127.0.0.1', port: server.inboundPort, servername: SERVER, ca: certificatesToPem([pki.anchor.certificate]), ALPNProtocols: ['transport.l5d.io/v1'] });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.write(`GET /anon HTTP/1.1\r\nhost: ${WEB}\r\nsluice-client-id: ${CLIENT}\r\nconnection: close\r\n\r\n`);
    let answer = '';
    socket.setEncoding('utf8');
    for await (const chunk of socket) answer += chunk;
    assert.match(answer, /^HTTP\/1.1 200/);
    assert.deepEqual(seen, [undefined]);
    const text = server.metrics();
    assert.ok(seriesValue(text, 'request_total', { direction: 'inbound', tls: 'true' }) >= 1);
    assert.ok(!text.includes('client_id='), text);
  });

  it("passes TLS for another name through untouched: the app's own TLS server answers", async (t) => {
    const pki = await testPki();
    // The app's certificate, from its own CA (here the same PKI code; the proxy never sees its key).
    const appPki = await testPki();
    const keys = await generateKeyPair();
    const appCert = await issueLeaf(appPki.issuer, { identity: 'app.example.com', publicKey: keys.publicKey });
    const appServer = tls.createServer({ key: await privateKeyToPem(keys.privateKey), cert: certificatesToPem([appCert, appPki.issuer.certificate]) }, (s) => {
      s.end(`app TLS for ${s.servername}`);
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => appServer.close(() => resolve())));
    const server = await startInProcessProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${(appServer.address() as net.AddressInfo).port}` }, await leafIdentity(pki, SERVER));
    t.after(() => server.close());
    const socket = tls.connect({ host: '127.0.0.1', port: server.inboundPort, servername: 'app.example.com', ca: certificatesToPem([appPki.anchor.certificate]) });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    let answer = '';
    socket.setEncoding('utf8');
    for await (const chunk of socket) answer += chunk;
    assert.equal(answer, 'app TLS for app.example.com');
    assert.ok(seriesValue(server.metrics(), 'tls_passthrough_total', { direction: 'inbound', sni: 'app.example.com' }) >= 1);
  });

  it("carries the app's own TLS inside mesh TLS, and the inbound side passes it on to the app untouched", async (t) => {
    const pki = await testPki();
    const appPki = await testPki();
    const keys = await generateKeyPair();
    const appCert = await issueLeaf(appPki.issuer, { identity: 'app.example.com', publicKey: keys.publicKey });
    const appServer = tls.createServer({ key: await privateKeyToPem(keys.privateKey), cert: certificatesToPem([appCert, appPki.issuer.certificate]) }, (s) => {
      s.end(`app TLS for ${s.servername}`);
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => appServer.close(() => resolve())));
    const server = await startInProcessProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${(appServer.address() as net.AddressInfo).port}` }, await leafIdentity(pki, SERVER));
    // The client's app dials the server pod's address: the outbound proxy sees TLS, resolves the address, and wraps it.
    const client = await startInProcessProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${server.inboundPort}` }, await leafIdentity(pki, CLIENT));
    client.destinations.set(`127.0.0.1:${server.inboundPort}`, resolved(meshEndpoint(server.inboundPort, SERVER)));
    t.after(async () => {
      await client.close();
      await server.close();
    });
    const socket = tls.connect({ host: '127.0.0.1', port: client.outboundPort, servername: 'app.example.com', ca: certificatesToPem([appPki.anchor.certificate]) });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    let answer = '';
    socket.setEncoding('utf8');
    for await (const chunk of socket) answer += chunk;
    assert.equal(answer, 'app TLS for app.example.com');
    assert.ok(seriesValue(client.metrics(), 'tcp_open_total', { direction: 'outbound', peer: 'dst', tls: 'true', server_id: SERVER }) >= 1);
    const inbound = server.metrics();
    assert.ok(seriesValue(inbound, 'protocol_detect_total', { direction: 'inbound', reason: 'mesh' }) >= 1, inbound);
    assert.ok(seriesValue(inbound, 'tls_passthrough_total', { direction: 'inbound', sni: 'app.example.com' }) >= 1, inbound);
  });

  it('on an opaque port, terminates mesh TLS and lets the server speak first; a plaintext client is forwarded at once', async (t) => {
    const pki = await testPki();
    const banner = net.createServer((s) => {
      s.on('error', () => {});
      s.write('220 ready\r\n');
      s.on('data', (d) => s.end(`echo:${d}`));
    });
    await new Promise<void>((resolve) => banner.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => banner.close(() => resolve())));
    const bannerPort = (banner.address() as net.AddressInfo).port;
    const server = await startInProcessProxy(
      { SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${bannerPort}`, SLUICE_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION: String(bannerPort) },
      await leafIdentity(pki, SERVER),
    );
    const client = await startInProcessProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${server.inboundPort}`, SLUICE_PROXY_DETECT_TIMEOUT: '200ms' }, await leafIdentity(pki, CLIENT));
    client.destinations.set(`127.0.0.1:${server.inboundPort}`, resolved(meshEndpoint(server.inboundPort, SERVER)));
    t.after(async () => {
      await client.close();
      await server.close();
    });
    const talk = async (port: number, speak: boolean): Promise<string> => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
      let text = '';
      socket.setEncoding('utf8');
      if (speak) socket.write('hello');
      socket.on('data', (d: string) => {
        text += d;
        if (text === '220 ready\r\n') socket.write('hello');
      });
      await new Promise((resolve, reject) => socket.on('close', resolve).on('error', reject));
      return text;
    };
    // Through the mesh: the client's app waits for the banner (the outbound proxy gives up detection after 200 ms).
    assert.equal(await talk(client.outboundPort, false), '220 ready\r\necho:hello');
    assert.ok(seriesValue(server.metrics(), 'protocol_detect_total', { direction: 'inbound', protocol: 'tls', reason: 'mesh' }) >= 1);
    // Straight to the inbound port in plaintext, speaking first: forwarded without waiting.
    const started = Date.now();
    assert.equal(await talk(server.inboundPort, true), '220 ready\r\necho:hello');
    assert.ok(Date.now() - started < 2000);
  });

  it("shows openssl s_client, asking for the proxy's identity, the proxy's certificate chain", async (t) => {
    if (!requirementsMet(t, missingTools([['openssl', ['version']]], 'openssl is the client under test'))) return;
    const pki = await testPki();
    const server = await startInProcessProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: '127.0.0.1:9' }, await leafIdentity(pki, SERVER));
    t.after(() => server.close());
    const dir = mkdtempSync(join(tmpdir(), 'sluice-anchor-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, certificatesToPem([pki.anchor.certificate]));
    // Asynchronous: the proxy runs in this process and must keep serving while openssl talks to it.
    const output = await new Promise<string>((resolve, reject) => {
      const child = execFile(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${server.inboundPort}`, '-servername', SERVER, '-showcerts', '-CAfile', caFile, '-verify_hostname', SERVER],
        { timeout: 15_000 },
        (error, stdout, stderr) => (error !== null && stdout === '' ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(`${stdout}\n${stderr}`)),
      );
      child.stdin?.end();
    });
    assert.match(output, new RegExp(`0 s:\\s*CN\\s*=\\s*${SERVER.replace(/\./g, '\\.')}`));
    assert.match(output, /i:\s*CN\s*=\s*identity\.sluice\.cluster\.local/);
    assert.match(output, /1 s:\s*CN\s*=\s*identity\.sluice\.cluster\.local/);
    assert.match(output, /Verify return code: 0 \(ok\)/);
    assert.match(output, /TLSv1\.3/);
  });

  it('a proxy without an identity never loads node:tls; the first identity does', () => {
    const script = `
      const { parseProxyConfig } = await import(${JSON.stringify(new URL('../../config/proxy-config.ts', import.meta.url).href)});
      const { WorkerContext } = await import(${JSON.stringify(new URL('./context.ts', import.meta.url).href)});
      const { ProxyStacks } = await import(${JSON.stringify(new URL('./stacks.ts', import.meta.url).href)});
      const { Logger } = await import(${JSON.stringify(new URL('../../log/logger.ts', import.meta.url).href)});
      const ctx = new WorkerContext(parseProxyConfig({ SLUICE_PROXY_WORKERS: '0' }), new Logger('error', 'plain', 't', () => {}));
      new ProxyStacks(ctx);
      const loaded = () => process.moduleLoadList.some((m) => m === 'NativeModule tls' || m === 'NativeModule _tls_wrap');
      const before = loaded() || ctx.meshCredentials() !== undefined;
      ctx.identity = JSON.parse(process.argv[1]);
      const creds = ctx.meshCredentials();
      console.log(JSON.stringify({ before, after: loaded(), name: creds?.name }));
    `;
    return (async () => {
      const identity = await leafIdentity(await testPki(), SERVER);
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(identity)], { timeout: 20_000 }).toString();
      assert.deepEqual(JSON.parse(out), { before: false, after: true, name: SERVER });
    })();
  });
});
