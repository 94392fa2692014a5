// MeshCredentials on real sockets: both sides of the mesh handshake, what each verifies, session
// resumption, and clients that misbehave during the handshake (garbage, silence) — every terminate()
// settles, none is left pending.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { identityName, leafIdentity, testPki, type TestPki } from '../proxy/mesh-tls.testkit.ts';
import { MESH_TRANSPORT_ALPN } from '../transport/local-identity.ts';
import { MeshCredentials, type TerminatedTls } from './mesh-credentials.ts';

const WEB = identityName('web');
const CLIENT = identityName('client');

describe('MeshCredentials', () => {
  let pki: TestPki;
  let server: MeshCredentials;
  let listener: net.Server;
  let port: number;
  const outcomes: Array<Promise<TerminatedTls>> = [];

  before(async () => {
    pki = await testPki();
    server = new MeshCredentials(await leafIdentity(pki, WEB), 500);
    listener = net.createServer({ pauseOnConnect: true }, (socket) => {
      const outcome = server.terminate(socket);
      outcome.then(
        ({ socket: secure }) => secure.end(`hello ${secure.alpnProtocol}`),
        () => {},
      );
      outcomes.push(outcome);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => listener.close(() => resolve())));

  /** Connects as `client` to the test server expecting `expected`; resolves with what was read, or the error. */
  function dial(client: MeshCredentials, expected: string): Promise<{ text: string; resumed: boolean } | Error> {
    return new Promise((resolve) => {
      const socket = client.connect({ host: '127.0.0.1', port }, { identity: expected, serverName: WEB }, false);
      socket.setTimeout(5000, () => socket.destroy(new Error('timed out')));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (text += d));
      socket.on('end', () => resolve({ text, resumed: socket.isSessionReused() }));
      socket.on('error', resolve);
    });
  }

  it('connects with ALPN transport.l5d.io/v1; the server learns the client identity; the next connection resumes', async () => {
    const client = new MeshCredentials(await leafIdentity(pki, CLIENT));
    const first = await dial(client, WEB);
    assert.deepEqual(first, { text: `hello ${MESH_TRANSPORT_ALPN}`, resumed: false });
    assert.equal((await outcomes.at(-1))?.clientId, CLIENT);
    assert.equal(client.sessionCount, 1);
    const second = await dial(client, WEB);
    assert.deepEqual(second, { text: `hello ${MESH_TRANSPORT_ALPN}`, resumed: true });
    assert.equal((await outcomes.at(-1))?.clientId, CLIENT, 'a resumed session still knows its client');
  });

  it('refuses a server that proves another identity, and forgets nothing it should not resume', async () => {
    const client = new MeshCredentials(await leafIdentity(pki, CLIENT));
    const result = await dial(client, identityName('billing'));
    assert.ok(result instanceof Error);
    assert.equal((result as Error & { code?: string }).code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(client.sessionCount, 0);
  });

  it('settles every handshake: garbage is refused, silence times out, nothing stays pending', async () => {
    const before = outcomes.length;
    const garbage = net.connect(port, '127.0.0.1', () => garbage.write(Buffer.from([22, 3, 1, 0, 5, 104, 101, 108, 108, 111])));
    garbage.on('error', () => {});
    const silent = net.connect(port, '127.0.0.1');
    silent.on('error', () => {});
    const deadline = Date.now() + 5000;
    while (outcomes.length < before + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const settled = await Promise.allSettled(outcomes.slice(before));
    const codes = settled.map((s) => (s.status === 'rejected' ? (s.reason as { code?: string }).code : 'resolved')).sort();
    assert.deepEqual(codes, ['ERR_SSL_UNEXPECTED_MESSAGE', 'ERR_TLS_HANDSHAKE_TIMEOUT'].sort());
    const pending = (server as unknown as { pending: Map<string, unknown> }).pending;
    while (pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(pending.size, 0);
    garbage.destroy();
    silent.destroy();
  });

  it('does not load a key or chain that does not parse', () => {
    assert.throws(() => new MeshCredentials({ name: WEB, certChainPem: 'nope', keyPem: 'nope', trustAnchorsPem: 'nope', notAfterMs: 0 }));
  });
});
