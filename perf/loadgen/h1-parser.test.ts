import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H1ResponseParser } from './h1-parser.ts';

const ok = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n';

test('one response in one chunk', () => {
  const p = new H1ResponseParser();
  assert.deepEqual(p.feed(Buffer.from(ok)), [{ status: 200, close: false }]);
  assert.equal(p.idle, true);
});

test('a response split at every byte', () => {
  const p = new H1ResponseParser();
  const bytes = Buffer.from(ok + ok);
  const got = [];
  for (let i = 0; i < bytes.length; i++) got.push(...p.feed(bytes.subarray(i, i + 1)));
  assert.equal(got.length, 2);
  assert.equal(p.error, null);
});

test('two responses in one chunk, status and Connection: close', () => {
  const p = new H1ResponseParser();
  const second = 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
  assert.deepEqual(p.feed(Buffer.from(ok + second)), [
    { status: 200, close: false },
    { status: 503, close: true },
  ]);
});

test('chunked body with extensions and trailers', () => {
  const p = new H1ResponseParser();
  const r = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nok\n\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n';
  const bytes = Buffer.from(r + ok);
  const got = [];
  for (let i = 0; i < bytes.length; i += 5) got.push(...p.feed(bytes.subarray(i, i + 5)));
  assert.deepEqual(got, [
    { status: 200, close: false },
    { status: 200, close: false },
  ]);
  assert.equal(p.idle, true);
});

test('204 has no body; a response without a length is an error', () => {
  const p = new H1ResponseParser();
  assert.deepEqual(p.feed(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n')), [{ status: 204, close: false }]);
  const q = new H1ResponseParser();
  q.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\nabc'));
  assert.match(q.error ?? '', /Content-Length/);
});

test('garbage is an error', () => {
  const p = new H1ResponseParser();
  p.feed(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'));
  assert.notEqual(p.error, null);
});
