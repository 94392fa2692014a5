import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHead, type Head } from '../../http1/parse.ts';
import {
  F_CHUNKED,
  F_LENGTH,
  F_NONE,
  RebuiltHead,
  downgradedRequestHead,
  downgradedResponseHead,
  lastChunk,
  origProtoOf,
  parseOrigProto,
  trailerList,
  upgradedRequestHeaders,
  upgradedResponseHeaders,
} from './fields.ts';

function head(text: string, isRequest: boolean): Head {
  const parsed = parseHead(Buffer.from(text, 'latin1'), isRequest, 64 << 10);
  assert.ok(typeof parsed !== 'string', `parses: ${text}`);
  return parsed;
}

test('l5d-orig-proto values as Linkerd writes them', () => {
  assert.deepEqual(parseOrigProto('HTTP/1.1'), { minor: 1, absoluteForm: false });
  assert.deepEqual(parseOrigProto('HTTP/1.0'), { minor: 0, absoluteForm: false });
  assert.deepEqual(parseOrigProto('HTTP/1.1; absolute-form'), { minor: 1, absoluteForm: true });
  assert.equal(parseOrigProto('HTTP/2'), undefined);
  assert.equal(parseOrigProto(''), undefined);
  assert.equal(origProtoOf([':method', 'GET', 'l5d-orig-proto', 'HTTP/1.1']), 'HTTP/1.1');
  assert.equal(origProtoOf([':method', 'GET']), undefined);
});

test('outbound request: pseudo-headers, end-to-end fields in order, connection fields and what Connection names dropped, the marker last', () => {
  const h = head('POST /a?b=1 HTTP/1.1\r\nHost: web:80\r\nConnection: keep-alive, x-hop\r\nX-Hop: 1\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nl5d-orig-proto: forged\r\nx-b: 2\r\n\r\n', true);
  assert.deepEqual(upgradedRequestHeaders(h, 'web:80'), [
    ':method', 'POST', ':scheme', 'http', ':authority', 'web:80', ':path', '/a?b=1',
    'x-a', '1', 'x-b', '2', 'l5d-orig-proto', 'HTTP/1.1',
  ]);
});

test('outbound response: rebuilt as HTTP/1.1 with the framing its HTTP/2 form implies', () => {
  const into = new RebuiltHead();
  downgradedResponseHead(into, [':status', '200', 'content-length', '5', 'x-a', '1', 'l5d-orig-proto', 'HTTP/1.1'], 200, false, false);
  assert.equal(into.text, 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\n');
  assert.equal(into.framing, F_LENGTH);
  downgradedResponseHead(into, [':status', '200'], 200, false, false);
  assert.equal(into.text, 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
  assert.equal(into.framing, F_CHUNKED);
  downgradedResponseHead(into, [':status', '404'], 404, false, true);
  assert.equal(into.text, 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
  assert.equal(into.framing, F_NONE);
  downgradedResponseHead(into, [':status', '304', 'etag', '"v"'], 304, true, true);
  assert.equal(into.text, 'HTTP/1.1 304 Not Modified\r\netag: "v"\r\n\r\n');
});

test('inbound request: the version, host from :authority, cookie crumbs joined, the verified caller instead of a forged one', () => {
  const into = new RebuiltHead();
  const headers = [':method', 'PUT', ':scheme', 'http', ':authority', 'web:80', ':path', '/x', 'cookie', 'a=1', 'sluice-client-id', 'forged', 'cookie', 'b=2', 'l5d-orig-proto', 'HTTP/1.0'];
  downgradedRequestHead(into, headers, { minor: 0, absoluteForm: false }, false, 'sluice-client-id', 'caller.id');
  assert.equal(into.text, 'PUT /x HTTP/1.0\r\nhost: web:80\r\ncookie: a=1; b=2\r\nsluice-client-id: caller.id\r\ntransfer-encoding: chunked\r\n\r\n');
  assert.equal(into.framing, F_CHUNKED);
  downgradedRequestHead(into, [':method', 'GET', ':scheme', 'http', ':authority', 'web', ':path', '/y?z', 'content-length', '0'], { minor: 1, absoluteForm: true }, true, 'sluice-client-id', undefined);
  assert.equal(into.text, 'GET http://web/y?z HTTP/1.1\r\nhost: web\r\ncontent-length: 0\r\n\r\n');
  assert.equal(into.framing, F_LENGTH);
});

test('inbound response: connection fields dropped, marked with the version the app answered in (not on 1xx)', () => {
  assert.deepEqual(upgradedResponseHeaders(head('HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Length: 2\r\nKeep-Alive: x\r\n\r\n', false)), [
    ':status', '200', 'content-length', '2', 'l5d-orig-proto', 'HTTP/1.0',
  ]);
  assert.deepEqual(upgradedResponseHeaders(head('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n', false)), [':status', '103', 'link', '</a>']);
});

test('trailers both ways', () => {
  assert.deepEqual(trailerList('X-Digest: abc\r\nTransfer-Encoding: x\r\nbad line\r\ngrpc-status:  0 '), ['x-digest', 'abc', 'grpc-status', '0']);
  assert.equal(lastChunk(['x-digest', 'abc']), '0\r\nx-digest: abc\r\n\r\n');
  assert.equal(lastChunk([]), '0\r\n\r\n');
});
