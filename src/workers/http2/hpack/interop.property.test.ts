// Property tests across whole connections: random header lists (any octets, empty and long values,
// never-indexed marks) and table size changes, block after block, through our encoder into hpack.js's
// decoder, hpack.js's encoder into our decoder, and ours into ours; after every block the fields, the
// never-indexed marks and both dynamic tables must agree. Then hostile input: random and damaged
// blocks must only ever fail with the codec's own errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { HpackDecoder } from './decoder.ts';
import { HpackEncoder, type HpackEncoderOptions } from './encoder.ts';
import { HeaderListTooLargeError, HpackDecodeError } from './errors.ts';
import type { DynamicTable } from './dynamic-table.ts';
import { OracleDecoder, OracleEncoder, type TableEntries } from './hpack-js-oracle.ts';

interface Field {
  name: string;
  value: string;
  neverIndexed: boolean;
  huffman: boolean;
}
type Step = { kind: 'block'; fields: Field[] } | { kind: 'table-size'; size: number };

const latin1 = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ minLength, maxLength }).map((bytes) => Buffer.from(bytes).toString('latin1'));

const name = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(':method', ':path', ':authority', ':status', 'content-type', 'user-agent', 'te', 'grpc-timeout', 'grpc-status', 'authorization', 'cookie', 'set-cookie', 'content-length', 'x-custom') },
  { weight: 1, arbitrary: latin1(1, 20) },
);
const value = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('', 'GET', 'POST', '/', '200', 'application/grpc', 'trailers', 'gzip, deflate', 'a-cookie-long-enough-to-be-indexed') },
  { weight: 3, arbitrary: latin1(0, 40) },
  { weight: 1, arbitrary: latin1(300, 5000) },
);
const field: fc.Arbitrary<Field> = fc.record({
  name,
  value,
  neverIndexed: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  huffman: fc.boolean(),
});
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.array(field, { maxLength: 15 }).map((fields): Step => ({ kind: 'block', fields })) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 64, 256, 1000, 4096, 8192, 65536).map((size): Step => ({ kind: 'table-size', size })) },
);
const connection = fc.array(step, { minLength: 1, maxLength: 12 });
const huffmanChoice = fc.constantFrom<'shorter' | 'always' | 'never'>('shorter', 'always', 'never');
/**
 * The built-in policy, or one that indexes every unmarked field: then long values (up to 5000 octets)
 * go into the table too, and entries larger than the table empty it on both sides (RFC 7541 §4.4).
 */
const indexing = fc.constantFrom<HpackEncoderOptions>({}, { indexing: () => 'index' });
// Shrinking a failure over long random values can run for many minutes: bound it (a failure found
// is still reported, with the smallest counterexample reached in time).
const RUNS = { numRuns: 120, interruptAfterTimeLimit: 20_000 };

const flat = (fields: Field[]): string[] => fields.flatMap((f) => [f.name, f.value]);
const marked = (fields: Field[]): number[] => fields.flatMap((f, i) => (f.neverIndexed ? [i] : []));
/** Never-indexed fields our encoder emits: the caller's marks, plus its built-in policy's (see encoder.ts). */
const expectedNeverIndexed = (fields: Field[], options: HpackEncoderOptions): number[] =>
  fields.flatMap((f, i) =>
    f.neverIndexed ||
    (options.indexing === undefined && (f.name === 'authorization' || f.name === 'proxy-authorization' || (f.name === 'cookie' && f.value.length < 20)))
      ? [i]
      : [],
  );

function entries(table: DynamicTable): TableEntries {
  const list: TableEntries = [];
  for (let i = 0; i < table.length; i++) list.push([table.name(i), table.value(i)]);
  return list;
}

describe('HPACK interoperability across a connection (properties)', () => {
  it('our encoder → hpack.js decoder: same fields, never-indexed marks and table', () => {
    fc.assert(
      fc.property(connection, fc.constantFrom(0, 256, 4096), indexing, (steps, maxTableSize, indexEverything) => {
        const encoder = new HpackEncoder({ maxTableSize, ...indexEverything });
        const oracle = new OracleDecoder(4096);
        for (const s of steps) {
          if (s.kind === 'table-size') {
            encoder.setPeerTableSize(s.size);
            continue;
          }
          const block = encoder.encode(flat(s.fields), marked(s.fields));
          const decoded = block.length === 0 ? { fields: [], neverIndexed: [] } : oracle.decode(block);
          assert.deepEqual(decoded.fields, flat(s.fields));
          assert.deepEqual(decoded.neverIndexed, expectedNeverIndexed(s.fields, indexEverything));
          assert.deepEqual(entries(encoder.table), oracle.entries());
        }
      }),
      RUNS,
    );
  });

  it('hpack.js encoder → our decoder: same fields, never-indexed marks and table', () => {
    fc.assert(
      fc.property(connection, (steps) => {
        const oracle = new OracleEncoder(4096);
        const decoder = new HpackDecoder();
        for (const s of steps) {
          if (s.kind === 'table-size') {
            oracle.setTableSize(Math.min(s.size, 4096));
            continue;
          }
          const block = oracle.encode(flat(s.fields), marked(s.fields), s.fields.map((f) => f.huffman));
          assert.deepEqual(decoder.decode(block), flat(s.fields));
          assert.deepEqual(decoder.lastNeverIndexed, marked(s.fields));
          assert.deepEqual(entries(decoder.table), oracle.entries());
        }
      }),
      RUNS,
    );
  });

  it('our encoder → our decoder, with SETTINGS_HEADER_TABLE_SIZE changes on both sides', () => {
    fc.assert(
      fc.property(connection, fc.constantFrom(0, 256, 4096, 16384), huffmanChoice, indexing, (steps, maxTableSize, huffman, indexEverything) => {
        const encoder = new HpackEncoder({ maxTableSize, huffman, ...indexEverything });
        const decoder = new HpackDecoder();
        for (const s of steps) {
          if (s.kind === 'table-size') {
            // The decoder's side advertised it; the encoder applies it on receipt, the decoder on ACK.
            encoder.setPeerTableSize(s.size);
            decoder.setTableSizeLimit(s.size);
            continue;
          }
          assert.deepEqual(decoder.decode(encoder.encode(flat(s.fields), marked(s.fields))), flat(s.fields));
          assert.deepEqual(decoder.lastNeverIndexed, expectedNeverIndexed(s.fields, indexEverything));
          assert.deepEqual(entries(decoder.table), entries(encoder.table));
          assert.equal(decoder.table.size, encoder.table.size);
        }
      }),
      RUNS,
    );
  });

  it('stays in sync through blocks refused for their header list size', () => {
    fc.assert(
      fc.property(connection, fc.integer({ min: 0, max: 2000 }), (steps, maxHeaderListSize) => {
        const encoder = new HpackEncoder();
        const decoder = new HpackDecoder({ maxHeaderListSize });
        for (const s of steps) {
          if (s.kind === 'table-size') continue;
          const fields = flat(s.fields);
          const size = s.fields.reduce((sum, f) => sum + f.name.length + f.value.length + 32, 0);
          const block = encoder.encode(fields);
          if (size > maxHeaderListSize) {
            assert.throws(() => decoder.decode(block), (error: unknown) => error instanceof HeaderListTooLargeError && error.listSize === size);
          } else {
            assert.deepEqual(decoder.decode(block), fields);
          }
          assert.deepEqual(entries(decoder.table), entries(encoder.table));
        }
      }),
      RUNS,
    );
  });
});

describe('HPACK decoder on hostile input (properties)', () => {
  const onlyOwnErrors = (decoder: HpackDecoder, block: Buffer): void => {
    try {
      const fields = decoder.decode(block);
      assert.equal(fields.length % 2, 0);
    } catch (error) {
      assert.ok(error instanceof HpackDecodeError || error instanceof HeaderListTooLargeError, `unexpected ${String(error)}`);
    }
  };

  it('random octets fail only with HpackDecodeError or HeaderListTooLargeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(Infinity, 100), (bytes, maxHeaderListSize) => {
        onlyOwnErrors(new HpackDecoder({ maxHeaderListSize }), Buffer.from(bytes));
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 20_000 },
    );
  });

  it('truncated and corrupted valid blocks fail only with the codec errors', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(field, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (blocks, cutAt, corruptAt, corruptWith) => {
          const encoder = new HpackEncoder();
          const decoder = new HpackDecoder();
          const encoded = blocks.map((fields) => encoder.encode(flat(fields)));
          // The earlier blocks go through intact, so the damage hits a decoder with a populated table.
          for (const block of encoded.slice(0, -1)) decoder.decode(block);
          const last = encoded[encoded.length - 1]!;
          const truncated = last.subarray(0, cutAt % (last.length + 1));
          onlyOwnErrors(decoder, truncated);
          const corrupted = Buffer.from(last);
          corrupted[corruptAt % corrupted.length] = corruptWith;
          onlyOwnErrors(new HpackDecoder(), corrupted);
        },
      ),
      { numRuns: 500, interruptAfterTimeLimit: 20_000 },
    );
  });
});
