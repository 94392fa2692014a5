// Mutual TLS on the mesh hop, through two real proxies (the outbound stacks of one, the inbound stacks
// of the other, each in this process with an identity from the project's PKI) and a relay between them
// that records every byte: HTTP/1.1, h2c, gRPC and opaque TCP all cross it encrypted, the inbound side
// hands the caller's verified identity to the app, and the outbound side refuses a peer with the wrong
// identity or an expired or untrusted certificate with the right error.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { PROXY_ERROR_HEADER } from '../../core/errors.ts';
import {
  identityName,
  leafIdentity,
  meshEndpoint,
  resolved,
  seriesValue,
  startInProcessProxy,
  startRelay,
  testPki,
  type InProcessProxy,
  type Relay,
  type TestPki,
  serveByFirstBytes,
} from './mesh-tls.testkit.ts';

const WEB = 'web.default.svc.cluster.local';
const WEB_AUTH = `${WEB}:80`;
const CLIENT = identityName('web-client');
const SERVER = identityName('web');
const TLS_HANDSHAKE_RECORD = 22;

/**
 * The application behind the inbound proxy: HTTP/1.1 and h2c (gRPC included) answer with what they
 * saw — the path and the sluice-client-id header — and a line starting `ECHO ` is echoed as raw TCP.
 */
async function startApp(): Promise<{ port: number; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const answer = (path: string, clientId: string | string[] | undefined): string => {
    seen.push(path);
    return JSON.stringify({ path, clientId: clientId ?? null });
  };
  const h1 = http.createServer((req, res) => {
    req.resume();
    res.end(answer(req.url ?? '', req.headers['sluice-client-id']));
  });
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    const clientId = headers['sluice-client-id'];
    if (String(headers['content-type']).startsWith('application/grpc')) {
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('end', () => {
        const request = Buffer.concat(chunks).subarray(5).toString();
        const reply = Buffer.from(answer(`${path} ${request}`, clientId));
        const frame = Buffer.alloc(5 + reply.length);
        frame.writeUInt32BE(reply.length, 1);
        reply.copy(frame, 5);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame);
      });
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end(answer(path, clientId));
  });
  const served = await serveByFirstBytes(h1, h2);
  return { ...served, seen };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host: WEB, ...headers }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function h2Get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const stream = session.request({ ':authority': WEB, ':path': path, ...headers });
    stream.setTimeout(10_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    const [responseHeaders] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    let body = '';
    stream.setEncoding('utf8');
    for await (const chunk of stream) body += chunk;
    return { status: Number(responseHeaders[':status']), body };
  } finally {
    session.close();
  }
}

/** A unary gRPC call through grpc-js (a real gRPC client), raw bytes both ways. */
function grpcCall(port: number, method: string, message: string): Promise<{ code: number; details: string; body: string }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': WEB_AUTH });
  return new Promise((resolve) => {
    const identity = (b: Buffer): Buffer => b;
    client.makeUnaryRequest(method, identity, identity, Buffer.from(message), { deadline: Date.now() + 10_000 }, (error, reply) => {
      client.close();
      resolve({ code: error?.code ?? 0, details: error?.details ?? '', body: reply?.toString() ?? '' });
    });
  });
}

/** Every byte the relay carried, each way: the marker must be in neither, and each stream opens with a TLS handshake. */
function assertEncrypted(relay: Relay, marker: string): void {
  assert.ok(relay.connections.length > 0, 'the request crossed the relay');
  for (const [i, conn] of relay.connections.entries()) {
    const up = Buffer.concat(conn.toServer);
    const down = Buffer.concat(conn.toClient);
    assert.equal(up[0], TLS_HANDSHAKE_RECORD, `connection ${i} starts with a TLS handshake record`);
    if (down.length > 0) assert.equal(down[0], TLS_HANDSHAKE_RECORD, `connection ${i}'s answer starts with a TLS handshake record`);
    assert.ok(!up.includes(marker), `connection ${i} carried "${marker}" in plaintext towards the server`);
    assert.ok(!down.includes(marker), `connection ${i} carried "${marker}" in plaintext towards the client`);
  }
}

describe('mesh TLS between two proxies', () => {
  let pki: TestPki;
  let app: Awaited<ReturnType<typeof startApp>>;
  let client: InProcessProxy;
  let server: InProcessProxy;
  let relay: Relay;

  before(async () => {
    pki = await testPki();
    app = await startApp();
    server = await startInProcessProxy({ SLUICE_PROXY_INBOUND_FORWARD_ADDR: `127.0.0.1:${app.port}` }, await leafIdentity(pki, SERVER));
    relay = await startRelay(server.inboundPort);
    client = await startInProcessProxy({ SLUICE_PROXY_OUTBOUND_FORWARD_ADDR: `127.0.0.1:${relay.port}` }, await leafIdentity(pki, CLIENT));
    client.destinations.set(WEB_AUTH, resolved(meshEndpoint(relay.port, SERVER, { pod: 'web-0' })));
    client.destinations.set(`127.0.0.1:${relay.port}`, resolved(meshEndpoint(relay.port, SERVER)));
  });
  after(async () => {
    await client.close();
    await server.close();
    await relay.close();
    await app.close();
  });

  it('carries HTTP/1.1 encrypted, and the app sees the verified caller in sluice-client-id (a forged one is replaced)', async () => {
    const reply = await get(client.outboundPort, '/MARKER-h1', { 'sluice-client-id': 'forged.by.client' });
    assert.equal(reply.status, 200, reply.body);
    assert.deepEqual(JSON.parse(reply.body), { path: '/MARKER-h1', clientId: CLIENT });
    assertEncrypted(relay, 'MARKER-h1');
  });

  it('carries HTTP/1.1 that the node:http stacks handle (Expect: 100-continue) encrypted, with the verified caller', async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: client.outboundPort, method: 'POST', path: '/MARKER-expect', headers: { host: WEB, expect: '100-continue', 'content-length': 4, 'sluice-client-id': 'forged' }, timeout: 10_000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on('continue', () => req.end('body'));
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', reject);
    });
    assert.equal(reply.status, 200, reply.body);
    assert.deepEqual(JSON.parse(reply.body), { path: '/MARKER-expect', clientId: CLIENT });
    assertEncrypted(relay, 'MARKER-expect');
  });

  it('carries h2c encrypted, with the verified caller', async () => {
    const reply = await h2Get(client.outboundPort, '/MARKER-h2', { 'sluice-client-id': 'forged.by.client' });
    assert.equal(reply.status, 200, reply.body);
    assert.deepEqual(JSON.parse(reply.body), { path: '/MARKER-h2', clientId: CLIENT });
    assertEncrypted(relay, 'MARKER-h2');
  });

  it('carries gRPC encrypted, with the verified caller', async () => {
    const reply = await grpcCall(client.outboundPort, '/test.Echo/Say', 'MARKER-grpc');
    assert.equal(reply.code, 0, reply.details);
    assert.deepEqual(JSON.parse(reply.body), { path: '/test.Echo/Say MARKER-grpc', clientId: CLIENT });
    assertEncrypted(relay, 'MARKER-grpc');
  });

  it('carries opaque TCP encrypted, half-close included', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: client.outboundPort, allowHalfOpen: true });
    socket.setTimeout(10_000, () => socket.destroy(new Error('opaque echo timed out')));
    await once(socket, 'connect');
    socket.end('ECHO MARKER-tcp\n');
    let echoed = '';
    socket.setEncoding('utf8');
    for await (const chunk of socket) echoed += chunk;
    assert.equal(echoed, 'ECHO MARKER-tcp\n');
    assertEncrypted(relay, 'MARKER-tcp');
  });

  it('labels metrics tls="true" with server_id outbound and client_id inbound', () => {
    const out = client.metrics();
    assert.ok(seriesValue(out, 'response_total', { direction: 'outbound', tls: 'true', server_id: SERVER, dst_pod: 'web-0' }) >= 3, out);
    assert.ok(seriesValue(out, 'tcp_open_total', { direction: 'outbound', peer: 'dst', tls: 'true', server_id: SERVER }) >= 1, out);
    const inbound = server.metrics();
    assert.ok(seriesValue(inbound, 'request_total', { direction: 'inbound', tls: 'true', client_id: CLIENT }) >= 3, inbound);
    assert.ok(seriesValue(inbound, 'protocol_detect_total', { direction: 'inbound', protocol: 'tls', reason: 'mesh' }) >= 1, inbound);
    // The accepted side's transport metrics too, once the handshake named the client.
    const meshConnections = seriesValue(inbound, 'tcp_open_total', { direction: 'inbound', peer: 'src', tls: 'true', client_id: CLIENT });
    assert.equal(meshConnections, relay.connections.length, inbound);
    assert.equal(seriesValue(inbound, 'tcp_open_total', { direction: 'inbound', peer: 'src', tls: 'no_identity' }), 0, inbound);
    assert.equal(seriesValue(inbound, 'tcp_open_connections', { direction: 'inbound', peer: 'src', tls: 'no_identity' }), 0, inbound);
  });

  it('strips a sluice-client-id sent over plaintext, and labels such requests no_identity', async () => {
    const reply = await get(server.inboundPort, '/plain', { 'sluice-client-id': CLIENT });
    assert.deepEqual(JSON.parse(reply.body), { path: '/plain', clientId: null });
    const h2 = await h2Get(server.inboundPort, '/plain-h2', { 'sluice-client-id': CLIENT });
    assert.deepEqual(JSON.parse(h2.body), { path: '/plain-h2', clientId: null });
    const inbound = server.metrics();
    assert.ok(seriesValue(inbound, 'request_total', { direction: 'inbound', tls: 'no_identity', no_tls_reason: 'no_tls_from_remote' }) >= 2, inbound);
  });

  it('resumes TLS sessions to an endpoint it has met (session tickets)', async () => {
    const before = relay.connections.length;
    // Each opaque connection is a new TLS connection to the same endpoint.
    for (let i = 0; i < 2; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: client.outboundPort, allowHalfOpen: true });
      socket.setTimeout(10_000, () => socket.destroy(new Error('opaque echo timed out')));
      socket.end(`ECHO resume-${i}\n`);
      socket.resume();
      await once(socket, 'end');
    }
    assert.equal(relay.connections.length, before + 2);
    // A resumed TLS 1.3 handshake offers a pre-shared key: extension 41 in the ClientHello.
    const hello = Buffer.concat(relay.connections[before + 1]?.toServer ?? []);
    assert.ok(clientHelloExtensions(hello).includes(41), 'the second ClientHello offers the session ticket');
  });
});

/** Extension types of the ClientHello at the start of `record` (enough of a parser for one assertion). */
function clientHelloExtensions(record: Buffer): number[] {
  let p = 5 + 4 + 2 + 32;
  p += 1 + (record[p] ?? 0);
  p += 2 + record.readUInt16BE(p);
  p += 1 + (record[p] ?? 0);
  const end = p + 2 + record.readUInt16BE(p);
  p += 2;
  const types: number[] = [];
  while (p + 4 <= end) {
    types.push(record.readUInt16BE(p));
    p += 4 + record.readUInt16BE(p + 2);
  }
  return types;
}
