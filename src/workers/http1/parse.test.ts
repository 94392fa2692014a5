// The fast engine's head parser and chunked scanner (http1-parse.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChunkedScanner, bodyFraming, droppedFields, parseHead, rewriteHead, type Head } from './parse.ts';

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
