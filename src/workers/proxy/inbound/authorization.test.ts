// Inbound authorization through real proxies (the stacks of one serving thread each, in this process,
// with identities from the project's PKI; mesh-tls.testkit.ts): a server proxy whose default policy is
// `all-authenticated` refuses a plaintext client for each protocol — HTTP/1 403 with sluice-proxy-error,
// HTTP/2 403, gRPC PERMISSION_DENIED, TCP closed — and lets a meshed client through over mTLS; a
// require-identity port does the same under the permissive default; `deny` refuses even the meshed
// client; a policy update applies to new connections; every verdict is counted.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ERROR_RESPONSES, PROXY_ERROR_HEADER } from '../../../core/errors.ts';
import type { PortPolicy } from '../../../api/inbound-policy.ts';
import { identityName, leafIdentity, meshEndpoint, resolved, seriesValue, serveByFirstBytes, startInProcessProxy, testPki, type InProcessProxy, type TestPki } from '../mesh-tls.testkit.ts';

const WEB = 'web.default.svc.cluster.local';
const CLIENT = identityName('web-client');
const SERVER = identityName('web');
const FORBIDDEN = ERROR_RESPONSES.unauthorized.message;

/** The app: HTTP/1.1 and h2c answer `ok <path>`, gRPC echoes, a connection starting `ECHO ` is echoed raw. */
async function startApp(): Promise<{ port: number; close: () => Promise<void> }> {
  const h1 = http.createServer((req, res) => {
    req.resume();
    res.end(`ok ${req.url}`);
  });
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    if (String(headers['content-type']).startsWith('application/grpc')) {
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 2, 0x6f, 0x6b]));
      });
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end(`ok ${String(headers[':path'])}`);
  });
  const served = await serveByFirstBytes(h1, h2);
  return { ...served };
}

function get(port: number, path: string): Promise<{ status: number; error: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host: WEB }, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers[PROXY_ERROR_HEADER] as string | undefined, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function h2Get(port: number, path: string): Promise<{ status: number; error: string | undefined }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    const stream = session.request({ ':authority': WEB, ':path': path });
    stream.setTimeout(10_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    stream.resume();
    await once(stream, 'end');
    return { status: Number(headers[':status']), error: headers[PROXY_ERROR_HEADER] as string | undefined };
  } finally {
    session.close();
  }
}

function grpcCall(port: number): Promise<{ code: number; details: string }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': `${WEB}:80` });
  return new Promise((resolve) => {
    const identity = (b: Buffer): Buffer => b;
    client.makeUnaryRequest('/test.Echo/Say', identity, identity, Buffer.from('hi'), { deadline: Date.now() + 10_000 }, (error) => {
      client.close();
      resolve({ code: error?.code ?? 0, details: error?.details ?? '' });
    });
  });
}

/** Sends `ECHO <marker>` over raw TCP and returns what came back before the connection closed. */
async function echo(port: number, marker: string): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.setTimeout(10_000, () => socket.destroy(new Error('echo timed out')));
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.end(`ECHO ${marker}\n`);
  let echoed = '';
  socket.setEncoding('utf8');
  try {
    for await (const chunk of socket) echoed += chunk;
  } catch {
    // A reset is a refusal too.
  }
  return echoed;
}

describe('inbound authorization', () => {
  let pki: TestPki;
  let app: Awaited<ReturnType<typeof startApp>>;
  const proxies: InProcessProxy[] = [];

  /** A server proxy in front of the app, with `env`, and a meshed client proxy whose outbound reaches it over mTLS. */
  async function meshPair(env: Record<string, string>): Promise<{ server: InProcessProxy; client: InProcessProxy }> {
    const server = await startInProcessProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${app.port}`, ...env }, await leafIdentity(pki, SERVER));
    const client = await startInProcessProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${server.inboundPort}` }, await leafIdentity(pki, CLIENT));
    client.destinations.set(`${WEB}:80`, resolved(meshEndpoint(server.inboundPort, SERVER)));
    client.destinations.set(`127.0.0.1:${server.inboundPort}`, resolved(meshEndpoint(server.inboundPort, SERVER)));
    proxies.push(server, client);
    return { server, client };
  }

  before(async () => {
    pki = await testPki();
    app = await startApp();
  });
  after(async () => {
    for (const proxy of proxies) await proxy.close();
    await app.close();
  });

  describe('all-authenticated', () => {
    let server: InProcessProxy;
    let client: InProcessProxy;
    before(async () => ({ server, client } = await meshPair({ SLUICE_PROXY_INBOUND_DEFAULT_POLICY: 'all-authenticated' })));

    it('answers a plaintext HTTP/1 client 403 with sluice-proxy-error, and the app never sees it', async () => {
      const reply = await get(server.inboundPort, '/plain');
      assert.equal(reply.status, 403);
      assert.equal(reply.error, FORBIDDEN);
      assert.doesNotMatch(reply.body, /^ok/);
    });

    it('answers a plaintext HTTP/2 client 403', async () => {
      assert.deepEqual(await h2Get(server.inboundPort, '/plain-h2'), { status: 403, error: FORBIDDEN });
    });

    it('answers a plaintext gRPC client PERMISSION_DENIED', async () => {
      const reply = await grpcCall(server.inboundPort);
      assert.equal(reply.code, grpc.status.PERMISSION_DENIED);
      assert.equal(reply.details, FORBIDDEN);
    });

    it('closes a plaintext TCP connection without forwarding a byte', async () => {
      assert.equal(await echo(server.inboundPort, 'plain-tcp'), '');
    });

    it('lets the meshed client through over mTLS, for each protocol', async () => {
      assert.equal((await get(client.outboundPort, '/meshed')).body, 'ok /meshed');
      assert.equal((await h2Get(client.outboundPort, '/meshed-h2')).status, 200);
      assert.equal((await grpcCall(client.outboundPort)).code, 0);
      assert.equal(await echo(client.outboundPort, 'meshed-tcp'), 'ECHO meshed-tcp\n');
    });

    it('counts each verdict with the server, the authorization and the client', () => {
      const text = server.metrics();
      const srv = { srv_kind: 'default', srv_name: 'all-authenticated', srv_port: String(app.port), target_addr: `127.0.0.1:${app.port}` };
      assert.equal(seriesValue(text, 'inbound_http_authz_deny_total', { ...srv, tls: 'no_identity' }), 3, text);
      assert.equal(seriesValue(text, 'inbound_tcp_authz_deny_total', { ...srv, tls: 'no_identity' }), 1, text);
      const allowed = { ...srv, authz_kind: 'default', authz_name: 'all-authenticated', tls: 'true', client_id: CLIENT };
      assert.equal(seriesValue(text, 'inbound_http_authz_allow_total', allowed), 3, text);
      assert.equal(seriesValue(text, 'inbound_tcp_authz_allow_total', allowed), 1, text);
    });

    it('applies a policy update: open connections it no longer allows are closed, new ones refused', async () => {
      const policy: PortPolicy = {
        server: { group: 'policy.sluice.dev', kind: 'server', name: 'web-http' },
        protocol: 'detect',
        authorizations: [
          {
            ref: { group: 'policy.sluice.dev', kind: 'serverauthorization', name: 'only-admin' },
            networks: [{ net: { family: 4, base: 0n, prefix: 0 }, except: [] }],
            authn: { kind: 'mesh-tls', identities: [identityName('admin')], suffixes: [] },
          },
        ],
      };
      server.stacks.updateInboundPolicy(app.port, policy);
      const refused = await get(client.outboundPort, '/after-update');
      assert.equal(refused.status, 403);
      const text = server.metrics();
      assert.equal(seriesValue(text, 'inbound_http_authz_deny_total', { srv_kind: 'server', srv_name: 'web-http', client_id: CLIENT }), 1, text);
      // The client proxy's kept-alive mTLS connections were open under the old policy: closed, and counted.
      assert.ok(seriesValue(text, 'inbound_tcp_authz_terminate_total', { srv_kind: 'server', srv_name: 'web-http', client_id: CLIENT }) >= 1, text);
      server.stacks.updateInboundPolicy(app.port, undefined);
      assert.equal((await get(client.outboundPort, '/back-to-default')).status, 200);
    });
  });

  it('a require-identity port refuses plaintext under the permissive default, and admits the meshed client', async () => {
    const { server, client } = await meshPair({ SLUICE_PROXY_INBOUND_PORTS_REQUIRE_IDENTITY: String(app.port) });
    assert.equal((await get(server.inboundPort, '/plain')).status, 403);
    assert.equal((await get(client.outboundPort, '/meshed')).status, 200);
    const text = server.metrics();
    assert.equal(seriesValue(text, 'inbound_http_authz_deny_total', { srv_name: 'all-authenticated' }), 1, text);
  });

  it('deny refuses everyone, meshed clients included', async () => {
    const { server, client } = await meshPair({ SLUICE_PROXY_INBOUND_DEFAULT_POLICY: 'deny' });
    assert.equal((await get(client.outboundPort, '/meshed')).status, 403);
    assert.equal((await grpcCall(client.outboundPort)).code, grpc.status.PERMISSION_DENIED);
    assert.equal(await echo(client.outboundPort, 'meshed-tcp'), '');
    assert.equal((await get(server.inboundPort, '/plain')).status, 403);
  });

  it('all-unauthenticated with no policy service checks and counts nothing', async () => {
    const { server } = await meshPair({});
    assert.equal((await get(server.inboundPort, '/plain')).status, 200);
    assert.doesNotMatch(server.metrics(), /authz/);
  });
});
