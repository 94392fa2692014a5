// The fast engine's head parser and chunked scanner (http1-parse.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChunkedScanner, bodyFraming, droppedFields, parseHead, rewriteHead, type Head } from './parse.ts';
import { B_CHUNKED, B_LENGTH, wholeResponseEnd } from './response-framing.ts';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function head(text: string, isRequest = true): Head {
  const parsed = parseHead(b(text), isRequest, 16384);
  assert.equal(typeof parsed, 'object', `parsed ${JSON.stringify(text)}: ${String(parsed)}`);
  return parsed as Head;
}

describe('parseHead', () => {
  it('parses a request head', () => {
    const h = head('GET /a?b HTTP/1.1\r\nHost: x\r\nX-Y:  z \r\n\r\nbody');
    assert.equal(h.method, 'GET');
    assert.equal(h.target, '/a?b');
    assert.equal(h.minor, 1);
    assert.deepEqual(h.names, ['host', 'x-y']);
    assert.deepEqual(h.values, ['x', 'z']);
    assert.equal(h.end, 'GET /a?b HTTP/1.1\r\nHost: x\r\nX-Y:  z \r\n\r\n'.length);
  });

  it('parses a response head', () => {
    const h = head('HTTP/1.0 404 Not Found\r\nA: b\r\n\r\n', false);
    assert.equal(h.status, 404);
    assert.equal(h.minor, 0);
    assert.equal(h.target, 'Not Found');
    assert.equal(head('HTTP/1.1 200\r\n\r\n', false).status, 200);
  });

  it('waits for more, refuses oversized and malformed heads, and leaves odd ones to node:http', () => {
    assert.equal(parseHead(b('GET / HTTP/1.1\r\nHost: x\r\n'), true, 16384), 'need-more');
    assert.equal(parseHead(b(`GET / HTTP/1.1\r\nX: ${'a'.repeat(20000)}`), true, 16384), 'too-large');
    assert.equal(parseHead(b('GET  HTTP/1.1\r\n\r\n'), true, 16384), 'bad');
    assert.equal(parseHead(b('GET / HTTP/1.1\r\nBad Name: x\r\n\r\n'), true, 16384), 'bad');
    assert.equal(parseHead(b('GET / HTTP/1.1\r\n: x\r\n\r\n'), true, 16384), 'bad');
    assert.equal(parseHead(b('GET / HTTP/1.1\r\nA: x\r\n folded\r\n\r\n'), true, 16384), 'unsupported');
    assert.equal(parseHead(b('GET / HTTP/1.1\nA: x\n\n'), true, 16384), 'unsupported');
    assert.equal(parseHead(b('GET / HTTP/2.0\r\n\r\n'), true, 16384), 'unsupported');
    assert.equal(parseHead(b('HTTP/1.1 20x OK\r\n\r\n'), false, 16384), 'bad');
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, isRequest) => {
        parseHead(Buffer.from(bytes), isRequest, 100);
      }),
    );
  });
});

describe('bodyFraming', () => {
  it('follows RFC 9112 §6.3', () => {
    assert.deepEqual(bodyFraming(head('POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n'), true), { kind: 'length', length: 5 });
    assert.deepEqual(bodyFraming(head('GET / HTTP/1.1\r\n\r\n'), true), { kind: 'none' });
    assert.deepEqual(bodyFraming(head('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'), true), { kind: 'chunked' });
    assert.deepEqual(bodyFraming(head('POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'), true), { kind: 'bad' });
    assert.deepEqual(bodyFraming(head('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n'), true), { kind: 'bad' });
    assert.deepEqual(bodyFraming(head('POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'), true), { kind: 'bad' });
    assert.deepEqual(bodyFraming(head('HTTP/1.1 200 OK\r\n\r\n', false), false), { kind: 'close' });
    assert.deepEqual(bodyFraming(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', false), false), { kind: 'chunked' });
    assert.deepEqual(bodyFraming(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', false), false), { kind: 'close' });
  });
});

describe('droppedFields and rewriteHead', () => {
  it('drops hop-by-hop fields and Connection options, keeping the rest byte for byte', () => {
    const text = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nx-hop: 1\r\nKeep-Alive: 5\r\nX-Keep:  a \r\nTE: trailers\r\n\r\n';
    const h = head(text);
    const dropped = droppedFields(h, false);
    assert.equal(rewriteHead(b(text), h, undefined, dropped, 'Connection: close\r\n').toString('latin1'), 'GET / HTTP/1.1\r\nHost: x\r\nX-Keep:  a \r\nConnection: close\r\n\r\n');
    assert.equal(droppedFields(head('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), false), undefined);
    assert.equal(droppedFields(head('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'), true), undefined);
  });

  it('appends the body bytes that came with the head, for one write, and leaves what follows them', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nok\nHTTP/1.1';
    const h = head(text, false);
    const out = rewriteHead(b(text), h, undefined, droppedFields(h, false), '', h.end + 3);
    assert.equal(out.toString('latin1'), 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n');
  });
});

describe('parseHead: names and methods', () => {
  it('lowercases names (common ones without allocating), keeps values as sent, and reads the start line from bytes', () => {
    const h = head('PATCH /a%20b HTTP/1.0\r\nHOST: x\r\nX-Custom-Name: V a l\r\nx-lower: 1\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual([h.method, h.target, h.minor], ['PATCH', '/a%20b', 0]);
    assert.deepEqual(h.names, ['host', 'x-custom-name', 'x-lower', 'content-length']);
    assert.deepEqual(h.values, ['x', 'V a l', '1', '0']);
    assert.equal(head('PURGE / HTTP/1.1\r\n\r\n').method, 'PURGE');
    const r = head('HTTP/1.1 404 Not Found\r\nServer: s\r\n\r\n', false);
    assert.deepEqual([r.status, r.target, r.names, r.values], [404, 'Not Found', ['server'], ['s']]);
    assert.equal(head('HTTP/1.1 200 OK\r\n\r\n', false).target, 'OK');
    assert.equal(head('HTTP/1.1 200\r\n\r\n', false).target, '');
  });

  it('gives each head its own arrays: a later parse does not change an earlier head', () => {
    const first = head('GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n');
    head('GET / HTTP/1.1\r\nC: 3\r\n\r\n');
    assert.deepEqual([first.names, first.values, first.spans.length], [['a', 'b'], ['1', '2'], 4]);
  });

  it('refuses bad start lines as before', () => {
    for (const bad of ['GET  HTTP/1.1', 'G(T / HTTP/1.1', 'GET / HTTX/1.1', 'GET /a\x7fb HTTP/1.1']) {
      assert.equal(parseHead(b(`${bad}\r\n\r\n`), true, 65536), 'bad', bad);
    }
    assert.equal(parseHead(b('GET / HTTP/2.0\r\n\r\n'), true, 65536), 'unsupported');
    for (const bad of ['HTTP/1.1 2x0 OK', 'HTTP/1.2 200 OK', 'HTTP/1.1 200OK', 'HTTQ/1.1 200 OK']) {
      assert.equal(parseHead(b(`${bad}\r\n\r\n`), false, 65536), 'bad', bad);
    }
  });
});

/** Encodes `parts` as chunked framing with optional extensions and trailers. */
function encodeChunked(parts: string[], ext: boolean, trailers: string[]): string {
  let out = '';
  for (const p of parts) if (p.length > 0) out += `${p.length.toString(16)}${ext ? ';a=b' : ''}\r\n${p}\r\n`;
  return `${out}0\r\n${trailers.map((t) => `${t}\r\n`).join('')}\r\n`;
}

describe('ChunkedScanner', () => {
  it('finds the end of a chunked body however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 40 })),
        fc.boolean(),
        fc.array(fc.constantFrom('x-a: 1', 'X-B: two'), { maxLength: 2 }),
        fc.array(fc.nat({ max: 400 }), { maxLength: 6 }),
        fc.string({ maxLength: 10 }),
        (parts, ext, trailers, cuts, after) => {
          const body = encodeChunked(parts, ext, trailers);
          const bytes = b(body + after);
          const points = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((x, y) => x - y);
          const scanner = new ChunkedScanner();
          let start = 0;
          let found = -1;
          for (const end of [...points, bytes.length]) {
            if (end < start) continue;
            const at = scanner.scan(bytes, start, end);
            assert.notEqual(at, -2);
            if (at >= 0) {
              found = at;
              break;
            }
            start = end;
          }
          assert.equal(found, Buffer.byteLength(body, 'latin1'));
          assert.ok(scanner.done);
        },
      ),
    );
  });

  it('rejects malformed framing', () => {
    for (const bad of ['x\r\n', '5\r\nhelloXX', '5\nhello\r\n', '0\r\nbad\n']) {
      assert.equal(new ChunkedScanner().scan(b(bad), 0, bad.length), -2, bad);
    }
  });
});

describe('wholeResponseEnd', () => {
  it('is the end of a small Content-Length body that is all there, else -1', () => {
    const length = (n: number) => ({ body: B_LENGTH, length: n, reusable: true });
    assert.equal(wholeResponseEnd(100, 40, length(3)), 43);
    assert.equal(wholeResponseEnd(42, 40, length(3)), -1, 'part of the body is still to come');
    assert.equal(wholeResponseEnd(100_000, 40, length(20_000)), -1, 'a large body is forwarded as it comes');
    assert.equal(wholeResponseEnd(100, 40, { body: B_CHUNKED, length: 0, reusable: true }), -1);
    assert.equal(wholeResponseEnd(40, 40, length(0)), 40);
  });
});
