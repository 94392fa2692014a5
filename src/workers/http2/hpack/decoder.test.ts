// HpackDecoder's limits and failure modes: what a peer may not send (bad indexes, absurd integers,
// misplaced or oversized table size updates, truncated blocks) is a COMPRESSION_ERROR, and a header
// list over SETTINGS_MAX_HEADER_LIST_SIZE is a separate error that leaves the table in sync.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { HpackDecoder } from './decoder.ts';
import { HeaderListTooLargeError, HpackDecodeError, type HpackFailure } from './errors.ts';

/** An HPACK integer (RFC 7541 §5.1), written here independently of the encoder under test. */
function integer(value: number, prefixBits: number, flags: number): number[] {
  const max = 2 ** prefixBits - 1;
  if (value < max) return [flags | value];
  const octets = [flags | max];
  let rest = value - max;
  while (rest >= 128) {
    octets.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  octets.push(rest);
  return octets;
}
const sizeUpdate = (size: number): number[] => integer(size, 5, 0x20);
const indexed = (index: number): number[] => integer(index, 7, 0x80);
const rawString = (text: string): number[] => [...integer(text.length, 7, 0), ...Buffer.from(text, 'latin1')];
/** Literal with incremental indexing and a literal name. */
const literalIndexed = (name: string, value: string): number[] => [0x40, ...rawString(name), ...rawString(value)];
const block = (...parts: number[][]): Buffer => Buffer.from(parts.flat());

function assertFails(decoder: HpackDecoder, input: Buffer, failure: HpackFailure): void {
  assert.throws(
    () => decoder.decode(input),
    (error: unknown) => error instanceof HpackDecodeError && error.code === 'COMPRESSION_ERROR' && error.http2Code === 0x9 && error.failure === failure,
    `expected a ${failure} COMPRESSION_ERROR for ${input.toString('hex')}`,
  );
}

describe('HpackDecoder: representations', () => {
  it('returns a flat name/value list, tables applied in order', () => {
    const decoder = new HpackDecoder();
    const fields = decoder.decode(block(indexed(3), literalIndexed('x-a', '1'), indexed(62), indexed(62)));
    assert.deepEqual(fields, [':method', 'POST', 'x-a', '1', 'x-a', '1', 'x-a', '1']);
  });

  it('reports which fields came never indexed, by field number', () => {
    const decoder = new HpackDecoder();
    const neverIndexedSecret = [0x10, ...rawString('password'), ...rawString('secret')];
    const neverIndexedAuth = [...integer(23, 4, 0x10), ...rawString('Bearer t')]; // name: static 23
    decoder.decode(block(indexed(2), neverIndexedSecret, indexed(4), neverIndexedAuth));
    assert.deepEqual(decoder.lastNeverIndexed, [1, 3]);
    decoder.decode(block(indexed(2)));
    assert.deepEqual(decoder.lastNeverIndexed, [], 'reset by the next block');
  });

  it('keeps field octets as latin1, raw or Huffman-coded, without UTF-8 decoding', () => {
    const bytes = Buffer.from([0x00, 0x7f, 0x80, 0xc3, 0xa9, 0xff]);
    const decoder = new HpackDecoder();
    const raw = decoder.decode(block([0x00], rawString('x-bin'), [bytes.length, ...bytes]));
    assert.deepEqual(raw, ['x-bin', bytes.toString('latin1')]);
    assert.deepEqual([...Buffer.from(raw[1]!, 'latin1')], [...bytes]);
  });

  it('decodes a sub-range of a buffer (a block after a frame header)', () => {
    const frame = Buffer.concat([Buffer.from('ffffff', 'hex'), block(indexed(2), indexed(7)), Buffer.from('ee', 'hex')]);
    assert.deepEqual(new HpackDecoder().decode(frame, 3, 5), [':method', 'GET', ':scheme', 'https']);
  });
});

describe('HpackDecoder: indexes and integers', () => {
  it('rejects index 0', () => assertFails(new HpackDecoder(), block(indexed(0)), 'bad-index'));

  it('rejects an index past the static table when the dynamic table is empty', () => {
    assertFails(new HpackDecoder(), block(indexed(62)), 'bad-index');
    assert.deepEqual(new HpackDecoder().decode(block(indexed(61))), ['www-authenticate', '']);
  });

  it('rejects an index past the dynamic table, and a literal whose name index is past it', () => {
    const decoder = new HpackDecoder();
    decoder.decode(block(literalIndexed('x-a', '1')));
    assert.deepEqual(decoder.decode(block(indexed(62))), ['x-a', '1']);
    assertFails(decoder, block(indexed(63)), 'bad-index');
    assertFails(new HpackDecoder(), block(integer(70, 6, 0x40), rawString('v')), 'bad-index');
    assertFails(new HpackDecoder(), block(integer(100, 4, 0x00), rawString('v')), 'bad-index');
  });

  it('rejects integers over 32 bits and integers padded with empty continuation octets', () => {
    assertFails(new HpackDecoder(), block(indexed(2 ** 32)), 'integer-overflow');
    assertFails(new HpackDecoder(), block([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), 'integer-overflow');
    assertFails(new HpackDecoder(), block([0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), 'integer-overflow');
    assertFails(new HpackDecoder(), block(sizeUpdate(2 ** 40)), 'integer-overflow');
  });

  it('accepts the longest integers it allows and judges them by their meaning', () => {
    // 2^32 - 1 is a valid integer; as an index it is simply out of range.
    assertFails(new HpackDecoder(), block(indexed(2 ** 32 - 1)), 'bad-index');
  });

  it('rejects blocks that end inside an integer, a string or a field', () => {
    assertFails(new HpackDecoder(), block([0xff, 0x80]), 'truncated');
    assertFails(new HpackDecoder(), block([0x40, 0x05], [...Buffer.from('ab')]), 'truncated');
    assertFails(new HpackDecoder(), block([0x40], rawString('x-a')), 'truncated');
    assertFails(new HpackDecoder(), block([0x04]), 'truncated'); // literal :path, value missing
  });
});

describe('HpackDecoder: dynamic table size updates', () => {
  it('accepts updates at the start of a block, several in a row, and applies them', () => {
    const decoder = new HpackDecoder();
    decoder.decode(block(literalIndexed('x-a', '1')));
    assert.deepEqual(decoder.decode(block(sizeUpdate(0), sizeUpdate(4096), indexed(2))), [':method', 'GET']);
    assert.equal(decoder.table.length, 0, 'the update to 0 emptied the table');
    assert.equal(decoder.table.maxSize, 4096);
  });

  it('rejects an update after the first field', () => {
    assertFails(new HpackDecoder(), block(indexed(2), sizeUpdate(100)), 'table-size-update');
  });

  it('rejects an update above the SETTINGS_HEADER_TABLE_SIZE in force', () => {
    assertFails(new HpackDecoder(), block(sizeUpdate(4097)), 'table-size-update');
    const larger = new HpackDecoder({ tableSizeLimit: 65536 });
    assert.deepEqual(larger.decode(block(sizeUpdate(65536), indexed(2))), [':method', 'GET']);
    assert.equal(larger.table.maxSize, 65536);
  });

  it('requires an update at the start of the first block after the limit falls below the table size', () => {
    const decoder = new HpackDecoder();
    decoder.setTableSizeLimit(256);
    assertFails(decoder, block(indexed(2)), 'table-size-update');

    const empty = new HpackDecoder();
    empty.setTableSizeLimit(256);
    assertFails(empty, block(), 'table-size-update');

    const tooBig = new HpackDecoder();
    tooBig.setTableSizeLimit(256);
    assertFails(tooBig, block(sizeUpdate(300), indexed(2)), 'table-size-update');

    const obeys = new HpackDecoder();
    obeys.setTableSizeLimit(256);
    assert.deepEqual(obeys.decode(block(sizeUpdate(256), indexed(2))), [':method', 'GET']);
    assert.deepEqual(obeys.decode(block(indexed(2))), [':method', 'GET'], 'only the first block needs it');
  });

  it('needs no update when the limit rises, or when the peer already shrank the table', () => {
    const raised = new HpackDecoder();
    raised.setTableSizeLimit(8192);
    assert.deepEqual(raised.decode(block(indexed(2))), [':method', 'GET']);

    const early = new HpackDecoder();
    early.decode(block(sizeUpdate(100))); // the peer applied our SETTINGS before we saw its ACK
    early.setTableSizeLimit(100);
    assert.deepEqual(early.decode(block(indexed(2))), [':method', 'GET']);
  });

  it('evicts on a smaller size: entries that no longer fit are gone', () => {
    const decoder = new HpackDecoder();
    decoder.decode(block(literalIndexed('x-a', '1'), literalIndexed('x-b', '2'))); // 36 octets each
    decoder.decode(block(sizeUpdate(40), indexed(62)));
    assert.equal(decoder.table.length, 1);
    assert.deepEqual([decoder.table.name(0), decoder.table.value(0)], ['x-b', '2']);
    assertFails(decoder, block(indexed(63)), 'bad-index');
  });
});

describe('HpackDecoder: header list size limit', () => {
  const big = 'v'.repeat(60); // 'x-big' + 60 + 32 = 97 octets

  it('stops at SETTINGS_MAX_HEADER_LIST_SIZE with its own error, counting name + value + 32', () => {
    const decoder = new HpackDecoder({ maxHeaderListSize: 200 });
    assert.equal(decoder.decode(block(literalIndexed('x-big', big), indexed(62))).length, 4, '194 octets: within');
    assert.throws(
      () => decoder.decode(block(indexed(62), indexed(62), indexed(62))),
      (error: unknown) =>
        error instanceof HeaderListTooLargeError && error.code === 'HEADER_LIST_TOO_LARGE' && error.listSize === 291 && error.limit === 200,
    );
  });

  it('still processes the rest of the block, so the table stays in sync for the next one', () => {
    const decoder = new HpackDecoder({ maxHeaderListSize: 100 });
    assert.throws(
      () => decoder.decode(block(literalIndexed('x-big', big), literalIndexed('x-late', 'added after the limit'))),
      HeaderListTooLargeError,
    );
    assert.equal(decoder.table.length, 2);
    assert.deepEqual(decoder.decode(block(indexed(62))), ['x-late', 'added after the limit']);
  });

  it('takes a new limit from the next block on', () => {
    const decoder = new HpackDecoder({ maxHeaderListSize: 50 });
    assert.throws(() => decoder.decode(block(literalIndexed('x-big', big))), HeaderListTooLargeError);
    decoder.setMaxHeaderListSize(1000);
    assert.deepEqual(decoder.decode(block(indexed(62))), ['x-big', big]);
  });
});
