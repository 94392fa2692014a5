// The capture analysis of the mTLS end-to-end test, shown on bytes whose nature is known: real TLS 1.3
// from node:tls (recorded by a relay), plaintext HTTP, cut records, tshark's follow format, and
// HPACK blocks from the project's own encoder. No root needed: this is what makes the end-to-end
// assertions able to fail.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { HpackEncoder } from '../../src/workers/http2/hpack/index.ts';
import { huffmanEncode, huffmanEncodedLength } from '../../src/workers/http2/hpack/huffman.ts';
import { identityName, leafIdentity, startRelay, testPki } from '../../src/workers/proxy/mesh-tls.testkit.ts';
import { checkTlsOnly, findMarkers, huffmanForms, parseFollowRaw, RECORD_TYPE, walkTlsRecords, type FollowedStream, type HopRules } from './capture-analysis.ts';

const MARKER = 'c0ffee5eed42-http1-header';

/** A real TLS 1.3 exchange through a recording relay: what each side put on the wire. */
async function recordedTls(): Promise<{ fromClient: Buffer; fromServer: Buffer }> {
  const pki = await testPki();
  const name = identityName('web');
  const id = await leafIdentity(pki, name);
  const server = tls.createServer({ key: id.keyPem, cert: id.certChainPem, ALPNProtocols: ['transport.l5d.io/v1'] }, (s) => {
    s.on('data', () => s.end(`echo ${MARKER}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relay = await startRelay((server.address() as { port: number }).port);
  try {
    const socket = tls.connect({ host: '127.0.0.1', port: relay.port, servername: name, ca: id.trustAnchorsPem, ALPNProtocols: ['transport.l5d.io/v1'] });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('secureConnect', () => socket.write(`GET /${MARKER} HTTP/1.1\r\n\r\n`));
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    assert.equal(answer, `echo ${MARKER}`);
  } finally {
    await relay.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const [conn] = relay.connections;
  assert.ok(conn !== undefined);
  return { fromClient: Buffer.concat(conn.toServer), fromServer: Buffer.concat(conn.toClient) };
}

describe('capture analysis', () => {
  it('reads TLS 1.3 from both sides as whole records: ClientHello, ServerHello, then application data', async () => {
    const { fromClient, fromServer } = await recordedTls();
    const client = walkTlsRecords(fromClient);
    const server = walkTlsRecords(fromServer);
    assert.equal(client.problem, undefined);
    assert.equal(server.problem, undefined);
    assert.equal(client.firstHandshakeType, 1);
    assert.equal(server.firstHandshakeType, 2);
    assert.ok((client.counts[RECORD_TYPE.application_data] ?? 0) >= 1);
    assert.ok(server.applicationBytes > 0);
    // …and the marker inside is nowhere in the ciphertext, in any form.
    assert.deepEqual(findMarkers([MARKER], [{ where: 'client', bytes: fromClient }, { where: 'server', bytes: fromServer }]), []);
  });

  it('says where bytes stop being TLS records: plaintext, a cut record, plaintext after records', async () => {
    assert.match(walkTlsRecords(Buffer.from('GET / HTTP/1.1\r\n\r\n')).problem ?? '', /octet 0 starts no TLS record \(content type 71/);
    const { fromClient } = await recordedTls();
    assert.match(walkTlsRecords(fromClient.subarray(0, fromClient.length - 3)).problem ?? '', /is cut short/);
    const withPlaintext = Buffer.concat([fromClient, Buffer.from('PRI * HTTP/2.0\r\n')]);
    assert.match(walkTlsRecords(withPlaintext).problem ?? '', new RegExp(`octet ${fromClient.length} starts no TLS record`));
    assert.match(walkTlsRecords(Buffer.from([23, 3, 3, 0])).problem ?? '', /not a whole record header/);
    assert.match(walkTlsRecords(Buffer.from([23, 3, 9, 0, 1, 0])).problem ?? '', /version 3\.9/);
  });

  it('parses tshark follow,tcp,raw output (as tshark 4.0 prints it): both directions, any block order, by stream index', () => {
    const text = [
      'Running as user "root" and group "root". This could be dangerous.',
      '',
      '===================================================================',
      'Follow: tcp,raw',
      'Filter: tcp.stream eq 3',
      'Node 0: 10.231.77.1:40000',
      'Node 1: 10.231.77.2:18080',
      Buffer.from('hello ').toString('hex'),
      `\t${Buffer.from('HI').toString('hex')}`,
      Buffer.from('world').toString('hex'),
      '===================================================================',
      '',
      '===================================================================',
      'Follow: tcp,raw',
      'Filter: tcp.stream eq 0',
      'Node 0: 10.231.77.2:8086',
      'Node 1: 10.231.77.1:39999',
      '===================================================================',
      '',
    ].join('\n');
    const streams = parseFollowRaw(text);
    assert.deepEqual(
      streams.map((s) => [s.index, s.node0, s.node1, s.fromNode0.toString(), s.fromNode1.toString()]),
      [
        [0, { ip: '10.231.77.2', port: 8086 }, { ip: '10.231.77.1', port: 39999 }, '', ''],
        [3, { ip: '10.231.77.1', port: 40000 }, { ip: '10.231.77.2', port: 18080 }, 'hello world', 'HI'],
      ],
    );
    assert.throws(() => parseFollowRaw(text.replace('68656c6c6f20', 'hello!')), /not a hex line/);
  });

  it('finds a marker Huffman-coded at any bit offset, as HPACK may carry a header value', () => {
    const whole = Buffer.alloc(huffmanEncodedLength(MARKER));
    huffmanEncode(MARKER, whole, 0);
    assert.ok(whole.includes(huffmanForms(MARKER)[0] as Buffer));
    for (const prefix of ['', 'a', 'x/', 'abc', '/path/of/some/length-']) {
      const text = `${prefix}${MARKER}/tail`;
      const coded = Buffer.alloc(huffmanEncodedLength(text));
      huffmanEncode(text, coded, 0);
      assert.equal(coded.indexOf(Buffer.from(MARKER)), -1, 'not readable as plain text');
      const hits = findMarkers([MARKER], [{ where: `"${prefix}"`, bytes: coded }]);
      assert.deepEqual(hits.map((h) => h.form), ['huffman'], `prefix "${prefix}"`);
    }
    // A whole HPACK block from the project's encoder, Huffman always.
    const block = new HpackEncoder({ huffman: 'always' }).encode([':method', 'GET', ':path', `/${MARKER}`, 'x-e2e-mark', MARKER]);
    assert.ok(findMarkers([MARKER], [{ where: 'block', bytes: block }]).length >= 2);
    assert.deepEqual(findMarkers(['another-marker-string'], [{ where: 'block', bytes: block }]), []);
  });

  it('finds a plain marker and says where', () => {
    const hits = findMarkers([MARKER, 'absent-marker-0000'], [{ where: 'stream 1', bytes: Buffer.from(`GET /${MARKER} HTTP/1.1`) }]);
    assert.deepEqual(hits, [{ marker: MARKER, where: 'stream 1', offset: 5, form: 'plain' }]);
  });

  it('checks a hop between two pods: TLS to its ports with the right ClientHello passes; plaintext, strangers and late starts do not', async () => {
    const { fromClient, fromServer } = await recordedTls();
    const A = { ip: '10.0.0.1', port: 40000 };
    const B = { ip: '10.0.0.2', port: 18080 };
    const rules: HopRules = {
      client: A.ip,
      server: B.ip,
      exempt: new Set([8086]),
      tls: new Map([[18080, { sni: 'servers.e2e', alpn: ['transport.l5d.io/v1'] }]]),
    };
    const stream = (index: number, node0: typeof A, node1: typeof A, up: Buffer, down: Buffer): FollowedStream => ({ index, node0, node1, fromNode0: up, fromNode1: down });
    const size = fromClient.length + fromServer.length;
    const good = checkTlsOnly(
      [{ index: 0, opener: A, payloadBytes: size }, { index: 1, opener: undefined, payloadBytes: 10 }],
      [stream(0, A, B, fromClient, fromServer), stream(1, { ...B, port: 8086 }, { ...A, port: 40001 }, Buffer.from('plaintext!'), Buffer.alloc(0))],
      [{ stream: 0, client: A, server: B, sni: 'servers.e2e', alpn: ['transport.l5d.io/v1'] }],
      rules,
    );
    assert.deepEqual(good.problems, []);
    assert.deepEqual([...good.carried], [[18080, 1]]);

    const plain = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    const bad = checkTlsOnly(
      [
        { index: 0, opener: A, payloadBytes: size },
        { index: 1, opener: { ...A, port: 40001 }, payloadBytes: plain.length },
        { index: 2, opener: undefined, payloadBytes: size },
        { index: 3, opener: { ...A, port: 40003 }, payloadBytes: 4 },
        { index: 4, opener: A, payloadBytes: 7 },
      ],
      [
        stream(0, A, B, fromClient, fromServer),
        stream(1, { ...A, port: 40001 }, B, plain, Buffer.alloc(0)),
        stream(2, { ...A, port: 40002 }, B, fromClient, fromServer),
        stream(3, { ...A, port: 40003 }, { ...B, port: 22 }, Buffer.from('ssh!'), Buffer.alloc(0)),
      ],
      [{ stream: 0, client: A, server: B, sni: 'someone.else', alpn: ['h2'] }],
      rules,
    );
    assert.deepEqual(bad.problems.map((p) => p.replace(/:.*/s, '')), [
      'stream 0 to 10.0.0.2',
      'stream 1 to 10.0.0.2',
      'stream 1 to 10.0.0.2',
      'stream 1 to 10.0.0.2',
      'stream 2 to 10.0.0.2',
      'stream 3 10.0.0.1',
      'stream 4',
    ]);
    assert.match(bad.problems[0] ?? '', /ClientHello SNI someone\.else ALPN h2; expected servers\.e2e transport\.l5d\.io\/v1/);
    assert.match(bad.problems[1] ?? '', /client to server not TLS throughout: octet 0 starts no TLS record/);
    assert.match(bad.problems[2] ?? '', /does not open with a ClientHello/);
    assert.match(bad.problems[4] ?? '', /not opened by 10\.0\.0\.1 within the capture \(opener unseen\)/);
    assert.match(bad.problems[5] ?? '', /is to no known port/);
    assert.match(bad.problems[6] ?? '', /captured but not reassembled/);
    assert.deepEqual([...bad.carried], []);
  });
});
