// HpackEncoder's choices: what it indexes, what it never indexes, when it Huffman-codes, and how it
// announces table size changes; every block is also decoded by hpack.js (an independent decoder) to
// show the choices are legal HPACK and the tables agree.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { HpackEncoder } from './encoder.ts';
import { HpackDecoder } from './decoder.ts';
import { OracleDecoder, OracleEncoder } from './hpack-js-oracle.ts';

const grpcRequest = [
  ':method', 'POST',
  ':scheme', 'http',
  ':path', '/pkg.Service/Method',
  ':authority', 'greeter.default.svc.cluster.local:8080',
  'content-type', 'application/grpc',
  'te', 'trailers',
  'grpc-timeout', '999m',
  'user-agent', 'grpc-node-js/1.14.7',
];

const entries = (encoder: HpackEncoder): string[] => Array.from({ length: encoder.table.length }, (_, i) => encoder.table.name(i));

/** Encodes with `encoder`, decodes with hpack.js, and returns the block with the never-indexed fields it saw. */
function roundTrip(encoder: HpackEncoder, oracle: OracleDecoder, fields: string[], neverIndexed: number[] = []): { block: Buffer; neverIndexed: number[] } {
  const block = encoder.encode(fields, neverIndexed);
  const decoded = oracle.decode(block);
  assert.deepEqual(decoded.fields, fields);
  return { block, neverIndexed: decoded.neverIndexed };
}

describe('HpackEncoder: indexing policy', () => {
  it('indexes a gRPC request so that the same request again is one octet per field but the deadline', () => {
    const encoder = new HpackEncoder();
    const oracle = new OracleDecoder(4096);
    const first = roundTrip(encoder, oracle, grpcRequest).block;
    const again = roundTrip(encoder, oracle, [...grpcRequest.slice(0, 12), 'grpc-timeout', '998m', ...grpcRequest.slice(14)]).block;
    assert.ok(first.length > 60, `first block ${first.length} octets`);
    // Fields 0-5 indexed, then grpc-timeout as a literal without indexing whose name is dynamic entry
    // 63 (0x0f, then 63 - 15), then user-agent indexed.
    assert.equal(again.length, 13, `repeated block ${again.toString('hex')}`);
    assert.ok([...again.subarray(0, 6), again[12]!].every((octet) => octet >= 0x80), 'the other fields indexed');
    assert.deepEqual([...again.subarray(6, 8)], [0x0f, 63 - 15]);
  });

  it('sends authorization, proxy-authorization and short cookies never indexed', () => {
    const encoder = new HpackEncoder();
    const oracle = new OracleDecoder(4096);
    const fields = ['authorization', 'Bearer abc', 'proxy-authorization', 'Basic xyz', 'cookie', 'sid=1', 'cookie', 'a-long-cookie-value-not-guessable=1'];
    assert.deepEqual(roundTrip(encoder, oracle, fields).neverIndexed, [0, 1, 2]);
    assert.deepEqual(encoder.table.length, 1, 'only the long cookie went into the table');
    assert.deepEqual(roundTrip(encoder, oracle, fields).neverIndexed, [0, 1, 2], 'and they stay literals');
  });

  it('keeps caller-marked fields never indexed, even those the static table holds', () => {
    const encoder = new HpackEncoder();
    const oracle = new OracleDecoder(4096);
    const fields = [':method', 'GET', 'x-secret', 's3cr3t', 'x-plain', 'p'];
    assert.deepEqual(roundTrip(encoder, oracle, fields, [0, 1]).neverIndexed, [0, 1]);
    assert.deepEqual(encoder.table.name(0), 'x-plain');
    assert.equal(encoder.table.length, 1);
  });

  it('forwards never-indexed fields as it received them (decoder marks → encoder)', () => {
    const upstream = new OracleEncoder(4096);
    const fromPeer = upstream.encode(['x-token', 'abc', 'x-plain', 'p', 'x-pin', '1234'], [0, 2]);
    const decoder = new HpackDecoder();
    const fields = decoder.decode(fromPeer);
    assert.deepEqual(decoder.lastNeverIndexed, [0, 2]);
    const forwarded = new HpackEncoder().encode(fields, decoder.lastNeverIndexed);
    assert.deepEqual(new OracleDecoder(4096).decode(forwarded).neverIndexed, [0, 2]);
  });

  it('sends per-message fields without indexing: content-length, set-cookie, etag, deadlines, trace and request ids', () => {
    const encoder = new HpackEncoder();
    const oracle = new OracleDecoder(4096);
    const fields = (id: string): string[] => ['content-length', id, 'set-cookie', `id=${id}`, 'etag', `"${id}"`, 'grpc-timeout', `${id}m`, 'x-request-id', id, 'traceparent', `00-${id}-01`];
    roundTrip(encoder, oracle, fields('1'));
    // Names in the static table were never indexed; the others were, once, to make their names indexes.
    assert.deepEqual(entries(encoder), ['traceparent', 'x-request-id', 'grpc-timeout']);
    const second = roundTrip(encoder, oracle, fields('2')).block;
    assert.deepEqual(entries(encoder), ['traceparent', 'x-request-id', 'grpc-timeout'], 'nothing new indexed');
    assert.ok(!second.includes(Buffer.from('x-request-id')), 'names sent as indexes');
  });

  it('does not index a field that would take over 3/4 of the table', () => {
    const encoder = new HpackEncoder();
    const oracle = new OracleDecoder(4096);
    roundTrip(encoder, oracle, ['x-huge', 'h'.repeat(3100), 'x-small', 's']); // 3138 octets > 3072
    assert.equal(encoder.table.length, 1);
    assert.equal(encoder.table.name(0), 'x-small');
  });

  it('lets an indexing option override the policy', () => {
    const encoder = new HpackEncoder({ indexing: (name) => (name === 'user-agent' ? 'never-index' : name === 'content-length' ? 'index' : undefined) });
    const oracle = new OracleDecoder(4096);
    assert.deepEqual(roundTrip(encoder, oracle, ['user-agent', 'curl', 'content-length', '5']).neverIndexed, [0]);
    assert.equal(encoder.table.name(0), 'content-length');
  });

  it('drops evicted entries from its lookups: many distinct values of one name keep memory bounded', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    for (let i = 0; i < 2000; i++) {
      const fields = ['x-varying', `value-${i}`, 'x-stable', 'same'];
      assert.deepEqual(decoder.decode(encoder.encode(fields)), fields);
    }
    // Private state, read on purpose: the reverse lookup must not keep every value ever seen.
    const lookups = (encoder as unknown as { dynamicByName: Map<string, { values: Map<string, number> }> }).dynamicByName;
    assert.ok(lookups.get('x-varying')!.values.size <= encoder.table.length, `${lookups.get('x-varying')!.values.size} values remembered`);
  });
});

describe('HpackEncoder: strings', () => {
  it('Huffman-codes a string only when that is shorter', () => {
    const encoder = new HpackEncoder();
    const text = encoder.encode(['custom-key', 'www.example.com', 'x-a', 'v']);
    assert.equal(text[1], 0x80 | 8, 'name "custom-key": Huffman, 8 octets instead of 10');
    assert.equal(text[1 + 1 + 8 + 1 + 12 + 1], 3, 'name "x-a": raw, as Huffman takes 3 octets too');
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]).toString('latin1');
    const raw = new HpackEncoder().encode(['x-bin', binary]);
    assert.equal(raw[raw.length - 6], 5, 'binary value: raw, 5 octets');
    assert.deepEqual(new HpackDecoder().decode(raw), ['x-bin', binary]);
  });

  it('writes each char as one octet (latin1), as the decoder reads them', () => {
    const value = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    for (const huffman of ['shorter', 'always', 'never'] as const) {
      const block = new HpackEncoder({ huffman }).encode(['x-all', value]);
      assert.deepEqual(new HpackDecoder().decode(block), ['x-all', value], huffman);
    }
  });
});

describe('HpackEncoder: dynamic table size', () => {
  it('announces a smaller peer SETTINGS_HEADER_TABLE_SIZE at the start of the next block only', () => {
    const encoder = new HpackEncoder();
    encoder.encode(grpcRequest);
    encoder.setPeerTableSize(100);
    const block = encoder.encode([':method', 'GET']);
    assert.equal(block.toString('hex'), '3f4582', 'size update to 100, then :method GET');
    assert.equal(encoder.encode([':method', 'GET']).toString('hex'), '82');
    assert.ok(encoder.table.size <= 100);
  });

  it('announces the smallest size then the final one when the size fell and rose between blocks', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(grpcRequest));
    encoder.setPeerTableSize(0);
    encoder.setPeerTableSize(4096);
    const block = encoder.encode(grpcRequest);
    assert.equal(block.subarray(0, 4).toString('hex'), '203fe11f', 'update to 0, then to 4096');
    assert.deepEqual(decoder.decode(block), grpcRequest);
    assert.equal(decoder.table.length, encoder.table.length);
  });

  it('caps the table at maxTableSize whatever the peer allows, and needs no update for it', () => {
    const encoder = new HpackEncoder({ maxTableSize: 4096 });
    encoder.setPeerTableSize(65536);
    assert.equal(encoder.table.maxSize, 4096);
    assert.equal(encoder.encode([':method', 'GET']).toString('hex'), '82');
  });

  it('with a table of 0 indexes nothing and says so first', () => {
    const encoder = new HpackEncoder({ maxTableSize: 0 });
    const oracle = new OracleDecoder(4096);
    const first = roundTrip(encoder, oracle, grpcRequest).block;
    assert.equal(first[0], 0x20, 'size update to 0');
    assert.equal(encoder.table.length, 0);
    assert.equal(roundTrip(encoder, oracle, grpcRequest).block.length, first.length - 1, 'same literals again');
  });
});

describe('HpackEncoder: output buffers', () => {
  it('leaves `headroom` octets free in front of the block (room for a frame header)', () => {
    const encoder = new HpackEncoder();
    const plain = new HpackEncoder().encode(grpcRequest);
    const framed = encoder.encode(grpcRequest, [], 9);
    assert.equal(framed.length, plain.length + 9);
    assert.deepEqual(framed.subarray(9), plain);
  });

  it('returns a buffer the caller owns: the next encode does not overwrite it', () => {
    const encoder = new HpackEncoder();
    const first = encoder.encode(['x-a', 'one']);
    const copy = Buffer.from(first);
    encoder.encode(['x-b', 'two'.repeat(2000)]);
    assert.deepEqual(first, copy);
  });
});
