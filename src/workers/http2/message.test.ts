// HTTP message validity (RFC 9113 §8) on flat header lists: what a strict server refuses in requests,
// responses and trailers, and the facts (status, content-length, HEAD) it records for the engine.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRequestHead, checkResponseHead, checkTrailers, type HeadFacts } from './message.ts';

const facts = (): HeadFacts => ({ status: 0, contentLength: -1, isHead: false });
const GET = [':method', 'GET', ':scheme', 'https', ':path', '/a?b', ':authority', 'example.com'];

describe('checkRequestHead', () => {
  it('accepts a normal request and records content-length and HEAD', () => {
    const f = facts();
    assert.equal(checkRequestHead([...GET, 'content-length', '12', 'accept', '*/*'], f), null);
    assert.equal(f.contentLength, 12);
    assert.equal(checkRequestHead([':method', 'HEAD', ...GET.slice(2)], f), null);
    assert.equal(f.isHead, true);
  });

  it('accepts CONNECT with only :method and :authority, and refuses it with :path', () => {
    assert.equal(checkRequestHead([':method', 'CONNECT', ':authority', 'db:5432'], facts()), null);
    assert.match(checkRequestHead([':method', 'CONNECT', ':authority', 'db:5432', ':path', '/'], facts())!, /CONNECT/);
  });

  it('refuses conflicting or non-numeric content-length, and accepts repeated equal ones', () => {
    assert.match(checkRequestHead([...GET, 'content-length', '1', 'content-length', '2'], facts())!, /conflicting/);
    assert.match(checkRequestHead([...GET, 'content-length', '-1'], facts())!, /content-length/);
    assert.equal(checkRequestHead([...GET, 'content-length', '3', 'content-length', '3'], facts()), null);
  });

  it('refuses field names with spaces or non-ASCII, values with leading space or NUL', () => {
    assert.notEqual(checkRequestHead([...GET, 'a b', '1'], facts()), null);
    assert.notEqual(checkRequestHead([...GET, 'caf\u00e9', '1'], facts()), null);
    assert.notEqual(checkRequestHead([...GET, 'x', ' padded'], facts()), null);
    assert.notEqual(checkRequestHead([...GET, 'x', 'a\0b'], facts()), null);
    assert.equal(checkRequestHead([...GET, 'x', ''], facts()), null);
  });
});

describe('checkResponseHead', () => {
  it('accepts 1xx and final statuses and records them', () => {
    const f = facts();
    assert.equal(checkResponseHead([':status', '103', 'link', '</a>'], f), null);
    assert.equal(f.status, 103);
    assert.equal(checkResponseHead([':status', '204'], f), null);
    assert.equal(f.status, 204);
  });

  it('refuses a missing, duplicated or malformed :status and request pseudo-headers', () => {
    assert.match(checkResponseHead(['server', 'x'], facts())!, /missing :status/);
    assert.match(checkResponseHead([':status', '200', ':status', '200'], facts())!, /duplicate/);
    assert.match(checkResponseHead([':status', '20'], facts())!, /invalid :status/);
    assert.match(checkResponseHead([':status', '200', ':path', '/'], facts())!, /not defined/);
  });

  it('refuses connection-specific fields and te in a response', () => {
    assert.notEqual(checkResponseHead([':status', '200', 'keep-alive', 'timeout=5'], facts()), null);
    assert.notEqual(checkResponseHead([':status', '200', 'te', 'trailers'], facts()), null);
  });
});

describe('checkTrailers', () => {
  it('accepts regular fields and refuses pseudo-headers', () => {
    assert.equal(checkTrailers(['grpc-status', '0', 'grpc-message', 'OK'], facts()), null);
    assert.match(checkTrailers([':status', '200'], facts())!, /trailers/);
  });
});
