import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';
import { detectProtocol, DETECT_MAX_BYTES, MAX_REQUEST_LINE, TLS_MAX_RECORD_LEN } from './detect.ts';
import type { Detected } from './detect.ts';
import {
  alpnExtension,
  ascii,
  captureClientBytes,
  clientHello,
  clientHelloBody,
  clientHelloInTwoRecords,
  extension,
  handshake,
  hasWholeRecord,
  record,
  sniExtension,
  u16,
  vec,
} from './testkit.ts';

const HTTP1: Detected = { kind: 'http1' };
const H2: Detected = { kind: 'h2' };
const OPAQUE: Detected = { kind: 'opaque', reason: 'not_http' };
const NEED_MORE: Detected = { kind: 'need-more' };
const tlsWith = (sni: string | undefined, alpn: string[] = []): Detected => ({ kind: 'tls', sni, alpn });

const detect = (input: string | Buffer): Detected =>
  detectProtocol(typeof input === 'string' ? ascii(input) : input);

/** Feeds `bytes` one byte at a time the way the acceptor would; returns every answer. */
function answersByteByByte(bytes: Buffer): Detected[] {
  const answers: Detected[] = [];
  for (let n = 1; n <= bytes.length; n++) answers.push(detectProtocol(bytes.subarray(0, n)));
  return answers;
}

/** Asserts `need-more` for every strict prefix and `expected` once everything is in. */
function assertDecidedOnLastByte(bytes: Buffer, expected: Detected): void {
  const answers = answersByteByByte(bytes);
  for (let i = 0; i < answers.length - 1; i++) {
    assert.deepEqual(answers[i], NEED_MORE, `prefix of ${i + 1} bytes`);
  }
  assert.deepEqual(answers.at(-1), expected);
}

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

describe('empty and server-speaks-first', () => {
  it('asks for more on an empty buffer (MySQL, SMTP, ... clients wait for the server)', () => {
    assert.deepEqual(detect(''), NEED_MORE);
  });
});

describe('HTTP/1', () => {
  it('detects a curl-like request', () => {
    const req = 'GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n';
    assert.deepEqual(detect(req), HTTP1);
  });

  it('decides on the line terminator: the 14-byte minimal line needs its LF', () => {
    assertDecidedOnLastByte(ascii('GET / HTTP/1.1\r\n'), HTTP1);
    assert.deepEqual(detect('GET / HTTP/1.1'), NEED_MORE);
    assert.deepEqual(detect('GET / HTTP/1.1\r'), NEED_MORE);
  });

  it('accepts a bare LF line end, like lenient parsers', () => {
    assert.deepEqual(detect('GET / HTTP/1.1\n'), HTTP1);
  });

  it('detects HTTP/1.0 and any single-digit minor version', () => {
    assert.deepEqual(detect('GET / HTTP/1.0\r\n\r\n'), HTTP1);
    assert.deepEqual(detect('GET / HTTP/1.9\r\n'), HTTP1);
  });

  it('accepts any RFC 9110 token as a method, not a whitelist', () => {
    for (const method of ['GET', 'M-SEARCH', 'PROPFIND', 'MKCALENDAR', 'PURGE', 'X_CUSTOM.v2', 'get', "!#$%&'*+-.^_`|~"]) {
      assert.deepEqual(detect(`${method} /x HTTP/1.1\r\n`), HTTP1, method);
    }
  });

  it('accepts every request-target form', () => {
    assert.deepEqual(detect('OPTIONS * HTTP/1.1\r\n'), HTTP1);
    assert.deepEqual(detect('CONNECT example.com:443 HTTP/1.1\r\n'), HTTP1);
    assert.deepEqual(detect('GET http://example.com/a?b=c#d HTTP/1.1\r\n'), HTTP1);
    assert.deepEqual(detect('M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n'), HTTP1);
  });

  it('treats an h2c upgrade request as HTTP/1 (the upgrade happens later, in the HTTP/1 stack)', () => {
    assert.deepEqual(detect('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n'), HTTP1);
  });

  it('waits while the bytes are a valid prefix of a request line', () => {
    for (const prefix of ['G', 'GET', 'GET ', 'GET /', 'GET /a ', 'GET /a H', 'GET /a HTTP/', 'GET /a HTTP/1.']) {
      assert.deepEqual(detect(prefix), NEED_MORE, JSON.stringify(prefix));
    }
  });

  it('rejects as soon as one byte rules the request line out', () => {
    const cases = [
      'GET  / HTTP/1.1\r\n', // empty target
      'GET\t/ HTTP/1.1\r\n', // tab is not SP
      ' GET / HTTP/1.1\r\n', // leading space
      '\r\nGET / HTTP/1.1\r\n', // leading empty line
      'GET / HTTP/1.1 \r\n', // trailing space
      'GET / http/1.1\r\n', // HTTP-name is case-sensitive
      'GET / HTTP/2.0\r\n', // not HTTP/1
      'GET / HTTP/1.10\r\n', // one-digit minor only
      'GET / HTTP/1.x\r\n',
      'GET / HTTP/1.1\rX', // CR must be followed by LF
      'GET /\x7f HTTP/1.1\r\n', // DEL in the target
      'GET /caf\xe9 HTTP/1.1\r\n', // non-ASCII in the target
      'G(T / HTTP/1.1\r\n', // '(' is not a tchar
      'GET / \r\n',
      'GET  HTTP/1.1\r\n', // no target at all
      'GET / HTTP/1.:\r\n', // just past '9'
      'GET / HTTP/1./\r\n', // just before '0'
    ];
    for (const input of cases) assert.deepEqual(detect(input), OPAQUE, JSON.stringify(input));
    // ... and decides on exactly that byte:
    const answers = answersByteByByte(ascii('GET / HTTP/2.0\r\n'));
    assert.equal(answers.findIndex((a) => a.kind !== 'need-more'), 'GET / HTTP/'.length);
  });

  it(`caps the request line at ${MAX_REQUEST_LINE} bytes, terminator included`, () => {
    const line = (total: number): string => `GET /${'a'.repeat(total - 'GET / HTTP/1.1\r\n'.length)} HTTP/1.1\r\n`;
    assert.equal(line(MAX_REQUEST_LINE).length, MAX_REQUEST_LINE);
    assert.deepEqual(detect(line(MAX_REQUEST_LINE)), HTTP1);
    assert.deepEqual(detect(line(MAX_REQUEST_LINE + 1)), OPAQUE);
    const endless = `GET /${'a'.repeat(MAX_REQUEST_LINE)}`;
    assert.deepEqual(detect(endless.slice(0, MAX_REQUEST_LINE - 1)), NEED_MORE);
    assert.deepEqual(detect(endless.slice(0, MAX_REQUEST_LINE)), OPAQUE);
  });

  it('detects what node:http actually sends', async () => {
    const bytes = await captureClientBytes(
      (port) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/items?x=1' });
        req.end('{"a":1}');
        return req;
      },
      (b) => b.includes('\r\n\r\n'),
    );
    assert.ok(bytes.toString('latin1').startsWith('POST /v1/items?x=1 HTTP/1.1\r\n'));
    assert.deepEqual(detectProtocol(bytes), HTTP1);
  });
});

describe('HTTP/2 prior knowledge', () => {
  it('detects the 24-byte preface, with or without the SETTINGS frame after it', () => {
    assertDecidedOnLastByte(ascii(PREFACE), H2);
    assert.deepEqual(detect(PREFACE + '\x00\x00\x00\x04\x00\x00\x00\x00\x00'), H2);
  });

  it('waits after the 14 bytes Linkerd compares: we compare all 24', () => {
    assert.deepEqual(detect('PRI * HTTP/2.0'), NEED_MORE);
    assert.deepEqual(detect(PREFACE.slice(0, 23)), NEED_MORE);
  });

  it('does not take `PRI * HTTP/2.0` followed by other bytes for h2, nor for HTTP/1 (version 2.0)', () => {
    assert.deepEqual(detect('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), OPAQUE);
    assert.deepEqual(detect('PRI * HTTP/2.0\r\nHost: a\r\n\r\n'), OPAQUE);
    assert.deepEqual(detect('PRI * HTTP/2.0 and then some garbage'), OPAQUE);
  });

  it('still treats PRI as an ordinary HTTP/1 method', () => {
    assert.deepEqual(detect('PRI * HTTP/1.1\r\n'), HTTP1);
    assert.deepEqual(detect('PRI /x HTTP/1.1\r\n'), HTTP1);
  });

  it('detects a gRPC-style h2c request from node:http2', async () => {
    const bytes = await captureClientBytes(
      (port) => {
        const session = http2.connect(`http://127.0.0.1:${port}`);
        const stream = session.request({
          ':method': 'POST',
          ':path': '/helloworld.Greeter/SayHello',
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        stream.on('error', () => {});
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
        return session;
      },
      (b) => b.length >= 24 + 9,
    );
    assert.equal(bytes.subarray(0, 24).toString('latin1'), PREFACE);
    assert.deepEqual(detectProtocol(bytes), H2);
  });
});

describe('TLS ClientHello', () => {
  let realWithSni: Buffer;
  let realWithoutSni: Buffer;

  before(async () => {
    realWithSni = await captureClientBytes(
      (port) => tls.connect({ host: '127.0.0.1', port, servername: 'API.Example.com', ALPNProtocols: ['h2', 'http/1.1'] }),
      hasWholeRecord,
    );
    // No servername and an IP host: Node sends no server_name extension.
    realWithoutSni = await captureClientBytes((port) => tls.connect({ host: '127.0.0.1', port }), hasWholeRecord);
  });

  it('reads SNI (lowercased) and ALPN from a real node:tls ClientHello', () => {
    assert.deepEqual(detectProtocol(realWithSni), tlsWith('api.example.com', ['h2', 'http/1.1']));
  });

  it('reports sni undefined when a real client sends no server_name', () => {
    assert.deepEqual(detectProtocol(realWithoutSni), tlsWith(undefined));
  });

  it('waits for the whole first record, then decides once', () => {
    assertDecidedOnLastByte(realWithSni.subarray(0, 5 + realWithSni.readUInt16BE(3)), tlsWith('api.example.com', ['h2', 'http/1.1']));
  });

  it('reads hand-built ClientHellos', () => {
    assert.deepEqual(detect(clientHello({ sni: 'svc.ns.svc.cluster.local', alpn: ['h2'] })), tlsWith('svc.ns.svc.cluster.local', ['h2']));
    assert.deepEqual(detect(clientHello({ sni: 'only-sni.example' })), tlsWith('only-sni.example'));
    assert.deepEqual(detect(clientHello({ alpn: ['http/1.1'] })), tlsWith(undefined, ['http/1.1']));
    assert.deepEqual(detect(clientHello({ noExtensions: true })), tlsWith(undefined));
    assert.deepEqual(detect(clientHello({ sessionId: new Uint8Array(0), sni: 'a.b' })), tlsWith('a.b'));
    const grease = extension(0x0a0a, new Uint8Array(0));
    const padding = extension(21, new Uint8Array(300));
    assert.deepEqual(
      detect(clientHello({ extraExtensions: [grease, padding], sni: 'x.example', alpn: ['h2', 'acme-tls/1'] })),
      tlsWith('x.example', ['h2', 'acme-tls/1']),
    );
  });

  it('accepts record versions 3.1 to 3.4 and ignores bytes after the first record', () => {
    const body = handshake(1, clientHelloBody({ sni: 'v.example' }));
    for (const minor of [1, 2, 3, 4]) assert.deepEqual(detect(record(body, minor)), tlsWith('v.example'), `3.${minor}`);
    assert.deepEqual(detect(Buffer.concat([clientHello({ sni: 'v.example' }), ascii('junk')])), tlsWith('v.example'));
  });

  it('is opaque as soon as the record header is not a ClientHello record', () => {
    const hello = clientHello({ sni: 'a.example' });
    const patched = (offset: number, value: number): Buffer => {
      const copy = Buffer.from(hello);
      copy[offset] = value;
      return copy;
    };
    assert.deepEqual(detect(patched(1, 2)), OPAQUE); // major 2
    assert.deepEqual(detect(patched(2, 0)), OPAQUE); // SSL 3.0
    assert.deepEqual(detect(patched(2, 5)), OPAQUE);
    assert.deepEqual(detect(patched(5, 2)), OPAQUE); // ServerHello
    assert.deepEqual(detect(Buffer.from([22, 3, 1, 0, 0])), OPAQUE); // empty record
    assert.deepEqual(detect(Buffer.from([22, 3, 1, ...[(TLS_MAX_RECORD_LEN + 1) >> 8, (TLS_MAX_RECORD_LEN + 1) & 0xff]])), OPAQUE);
    assert.deepEqual(detect(record(handshake(1, clientHelloBody()), 1, 23)), OPAQUE); // application data
    // Each is decided on the offending byte, without waiting for the record:
    assert.deepEqual(detect(Buffer.from([22])), NEED_MORE);
    assert.deepEqual(detect(Buffer.from([22, 3])), NEED_MORE);
    assert.deepEqual(detect(Buffer.from([22, 3, 1, 0x01])), NEED_MORE);
    assert.deepEqual(detect(Buffer.from([22, 3, 1, 0x01, 0x00])), NEED_MORE);
    assert.deepEqual(detect(Buffer.from([22, 3, 1, 0x01, 0x00, 2])), OPAQUE);
  });

  it('stays TLS with nothing reported when the ClientHello inside a complete record is malformed', () => {
    // Each case breaks one thing in an otherwise complete ClientHello that carries SNI and ALPN,
    // so reading past the defect would show up as a reported name.
    const good = { sessionId: vec(1, Buffer.alloc(32)), suites: vec(2, Buffer.from([0x13, 0x01])), compression: vec(1, Buffer.from([0])) };
    const named = [sniExtension('a.example'), alpnExtension(['h2'])];
    const body = (parts: Partial<typeof good> & { exts?: Buffer[]; extsBlock?: Buffer; tail?: Buffer } = {}): Buffer =>
      Buffer.concat([
        Buffer.from([3, 3]),
        Buffer.alloc(32), // random
        parts.sessionId ?? good.sessionId,
        parts.suites ?? good.suites,
        parts.compression ?? good.compression,
        parts.extsBlock ?? vec(2, Buffer.concat(parts.exts ?? named)),
        parts.tail ?? Buffer.alloc(0),
      ]);
    const detectBody = (b: Buffer): Detected => detect(record(handshake(1, b)));
    const blind = tlsWith(undefined);

    assert.deepEqual(detectBody(body()), tlsWith('a.example', ['h2'])); // the baseline is fine
    const cases: [string, Buffer][] = [
      ['empty body', Buffer.alloc(0)],
      ['only version and random', body().subarray(0, 34)],
      ['session_id longer than 32', body({ sessionId: vec(1, Buffer.alloc(33)) })],
      ['session_id past the end', Buffer.concat([body().subarray(0, 34), Buffer.from([200])])],
      ['empty cipher_suites', body({ suites: vec(2, Buffer.alloc(0)) })],
      ['odd cipher_suites length', body({ suites: vec(2, Buffer.from([0x13, 0x01, 0x13])) })],
      ['cipher_suites past the end', body({ suites: Buffer.from([0xff, 0xff]) })],
      ['empty compression_methods', body({ compression: vec(1, Buffer.alloc(0)) })],
      ['extensions length past the message', body({ extsBlock: Buffer.concat([u16(0x1000), ...named]) })],
      ['extensions length short of the message', body({ extsBlock: Buffer.concat([u16(named[0]!.length), ...named]) })],
      ['trailing byte after the extensions', body({ tail: Buffer.from([0]) })],
      ['extension running past the extensions block', body({ exts: [...named, Buffer.from([0, 21, 0, 50, 0, 0])] })],
      ['extension header cut in half', body({ exts: [...named, Buffer.from([0, 21])] })],
      ['server_name list longer than its extension', body({ exts: [extension(0, Buffer.from([0, 9, 0, 0, 1, 0x61])), named[1]!] })],
      ['server_name list shorter than its extension', body({ exts: [extension(0, Buffer.from([0, 4, 0, 0, 1, 0x61, 0, 0, 1, 0x62])), named[1]!] })],
      ['empty server_name list', body({ exts: [extension(0, Buffer.from([0, 0])), named[1]!] })],
      ['empty host_name', body({ exts: [extension(0, vec(2, Buffer.from([0, 0, 0]))), named[1]!] })],
      ['host_name past its list', body({ exts: [extension(0, vec(2, Buffer.from([0, 0, 9, 0x61]))), named[1]!] })],
      ['duplicate server_name', body({ exts: [...named, sniExtension('b.example')] })],
      ['duplicate ALPN', body({ exts: [...named, alpnExtension(['h2'])] })],
      ['empty ALPN name', body({ exts: [named[0]!, alpnExtension(['h2', ''])] })],
      ['empty ALPN list', body({ exts: [named[0]!, extension(16, Buffer.from([0, 0]))] })],
      ['ALPN name past its list', body({ exts: [named[0]!, extension(16, Buffer.from([0, 3, 5, 0x68, 0x32]))] })],
    ];
    for (const [name, b] of cases) assert.deepEqual(detectBody(b), blind, name);
    // a handshake header split across records: 3 bytes of it in the first record
    assert.deepEqual(detect(record(Buffer.from([1, 0, 0]))), blind);
  });

  it('keeps ALPN but drops an SNI that is not a DNS name', () => {
    assert.deepEqual(detect(clientHello({ sni: 'bad\x00name', alpn: ['h2'] })), tlsWith(undefined, ['h2']));
    assert.deepEqual(detect(clientHello({ sni: 'a b.example', alpn: ['h2'] })), tlsWith(undefined, ['h2']));
    assert.deepEqual(detect(clientHello({ sni: 'x'.repeat(256) })), tlsWith(undefined));
    assert.deepEqual(detect(clientHello({ sni: '_srv.Under_Score.example' })), tlsWith('_srv.under_score.example'));
  });

  it('takes the first host_name and skips other name types', () => {
    const entries = Buffer.concat([
      Buffer.from([7]), vec(2, ascii('ignored')), // unknown name_type
      Buffer.from([0]), vec(2, ascii('first.example')),
      Buffer.from([0]), vec(2, ascii('second.example')),
    ]);
    const body = clientHelloBody({ extraExtensions: [extension(0, vec(2, entries))] });
    assert.deepEqual(detect(record(handshake(1, body))), tlsWith('first.example'));
  });

  it('reads what the first record holds of a ClientHello spanning two records', () => {
    const spec = { sni: 'split.example', alpn: ['h2'] };
    const whole = handshake(1, clientHelloBody(spec));
    const alpnAt = whole.indexOf(alpnExtension(['h2']));
    // cut inside the ALPN extension: SNI complete, ALPN unknown
    assert.deepEqual(detect(clientHelloInTwoRecords(spec, alpnAt + 3)), tlsWith('split.example'));
    // cut inside the SNI extension: nothing known, still TLS
    assert.deepEqual(detect(clientHelloInTwoRecords(spec, whole.indexOf(ascii('split')) + 2)), tlsWith(undefined));
    // cut inside the fixed part
    assert.deepEqual(detect(clientHelloInTwoRecords(spec, 20)), tlsWith(undefined));
    // only the first record is waited for
    const twoRecords = clientHelloInTwoRecords(spec, alpnAt + 3);
    assert.deepEqual(detect(twoRecords.subarray(0, 5 + twoRecords.readUInt16BE(3))), tlsWith('split.example'));
  });

  it('waits for a maximum-size record, which fits in DETECT_MAX_BYTES exactly', () => {
    assert.ok(DETECT_MAX_BYTES >= 5 + 16384);
    const base = clientHelloBody({ sni: 'big.example' }).length + 4 + 4; // + handshake hdr + padding ext hdr
    const padding = extension(21, new Uint8Array(TLS_MAX_RECORD_LEN - base));
    const big = clientHello({ extraExtensions: [padding], sni: 'big.example' });
    assert.equal(big.length, DETECT_MAX_BYTES);
    assert.deepEqual(detect(big.subarray(0, DETECT_MAX_BYTES - 1)), NEED_MORE);
    assert.deepEqual(detect(big), tlsWith('big.example'));
  });
});

describe('other protocols and garbage', () => {
  it('is opaque for protocols that are not HTTP', () => {
    const cases: [string, Buffer][] = [
      ['SMTP command', ascii('EHLO mail.example.com\r\n')],
      ['SSH banner', ascii('SSH-2.0-OpenSSH_9.6\r\n')],
      ['Redis RESP', ascii('*1\r\n$4\r\nPING\r\n')],
      ['HTTP response line', ascii('HTTP/1.1 200 OK\r\n')],
      ['PostgreSQL startup', Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f])],
      ['binary', Buffer.from([0xde, 0xad, 0xbe, 0xef])],
      ['a lone CRLF', ascii('\r\n')],
      ['a NUL byte', Buffer.from([0])],
    ];
    for (const [name, bytes] of cases) assert.deepEqual(detectProtocol(bytes), OPAQUE, name);
  });

  it('never answers need-more once DETECT_MAX_BYTES are buffered', () => {
    for (const fill of [0x41, 0x16, 0x50]) {
      assert.notEqual(detectProtocol(Buffer.alloc(DETECT_MAX_BYTES, fill)).kind, 'need-more');
    }
    const oversizedRecord = Buffer.concat([Buffer.from([22, 3, 1, 0xff, 0xff]), Buffer.alloc(DETECT_MAX_BYTES)]);
    assert.deepEqual(detectProtocol(oversizedRecord), OPAQUE);
  });
});
