// RFC 7541 Appendix C, byte for byte in both directions: each example block decodes to its header
// list with the dynamic table (entries newest first, and size) the RFC shows after it, and the
// encoder, set up with the choices the RFC's encoder made, produces exactly the RFC's octets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { HpackDecoder } from './decoder.ts';
import { HpackEncoder, type HpackEncoderOptions } from './encoder.ts';
import type { DynamicTable } from './dynamic-table.ts';

interface Step {
  hex: string;
  fields: string[];
  /** Dynamic table after the block, newest entry first. */
  table: Array<[string, string]>;
  tableSize: number;
}

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function entries(table: DynamicTable): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  for (let i = 0; i < table.length; i++) list.push([table.name(i), table.value(i)]);
  return list;
}

const request1 = [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'];
const request2 = [...request1, 'cache-control', 'no-cache'];
const request3 = [':method', 'GET', ':scheme', 'https', ':path', '/index.html', ':authority', 'www.example.com', 'custom-key', 'custom-value'];
const requestTables: Array<Array<[string, string]>> = [
  [[':authority', 'www.example.com']],
  [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
  [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
];

const response1 = [':status', '302', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:21 GMT', 'location', 'https://www.example.com'];
const response2 = [':status', '307', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:21 GMT', 'location', 'https://www.example.com'];
const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const response3 = [':status', '200', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:22 GMT', 'location', 'https://www.example.com', 'content-encoding', 'gzip', 'set-cookie', cookie];
const responseTables: Array<Array<[string, string]>> = [
  [['location', 'https://www.example.com'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['cache-control', 'private'], [':status', '302']],
  [[':status', '307'], ['location', 'https://www.example.com'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['cache-control', 'private']],
  [['set-cookie', cookie], ['content-encoding', 'gzip'], ['date', 'Mon, 21 Oct 2013 20:13:22 GMT']],
];

const C3: Step[] = [
  { hex: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', fields: request1, table: requestTables[0]!, tableSize: 57 },
  { hex: '8286 84be 5808 6e6f 2d63 6163 6865', fields: request2, table: requestTables[1]!, tableSize: 110 },
  { hex: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65', fields: request3, table: requestTables[2]!, tableSize: 164 },
];
const C4: Step[] = [
  { hex: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', fields: request1, table: requestTables[0]!, tableSize: 57 },
  { hex: '8286 84be 5886 a8eb 1064 9cbf', fields: request2, table: requestTables[1]!, tableSize: 110 },
  { hex: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf', fields: request3, table: requestTables[2]!, tableSize: 164 },
];
const C5: Step[] = [
  {
    hex: `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32
          3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
    fields: response1,
    table: responseTables[0]!,
    tableSize: 222,
  },
  { hex: '4803 3330 37c1 c0bf', fields: response2, table: responseTables[1]!, tableSize: 222 },
  {
    hex: `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970
          7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61
          6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
    fields: response3,
    table: responseTables[2]!,
    tableSize: 215,
  },
];
const C6: Step[] = [
  {
    hex: `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad
          1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
    fields: response1,
    table: responseTables[0]!,
    tableSize: 222,
  },
  { hex: '4883 640e ffc1 c0bf', fields: response2, table: responseTables[1]!, tableSize: 222 },
  {
    hex: `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2
          e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
    fields: response3,
    table: responseTables[2]!,
    tableSize: 215,
  },
];

/** The responses run with SETTINGS_HEADER_TABLE_SIZE 256: a block holding only that size update. */
const RESIZE_TO_256 = '3fe1 01';

function decodeSeries(steps: Step[], tableSize: number): void {
  const decoder = new HpackDecoder();
  if (tableSize !== 4096) {
    decoder.setTableSizeLimit(tableSize);
    assert.deepEqual(decoder.decode(hex(RESIZE_TO_256)), []);
  }
  steps.forEach((step, i) => {
    assert.deepEqual(decoder.decode(hex(step.hex)), step.fields, `fields of block ${i + 1}`);
    assert.deepEqual(entries(decoder.table), step.table, `table after block ${i + 1}`);
    assert.equal(decoder.table.size, step.tableSize, `table size after block ${i + 1}`);
  });
}

function encodeSeries(steps: Step[], tableSize: number, options: HpackEncoderOptions): void {
  const encoder = new HpackEncoder({ ...options, maxTableSize: tableSize });
  if (tableSize !== 4096) assert.equal(encoder.encode([]).toString('hex'), hex(RESIZE_TO_256).toString('hex'));
  steps.forEach((step, i) => {
    assert.equal(encoder.encode(step.fields).toString('hex'), hex(step.hex).toString('hex'), `block ${i + 1}`);
    assert.deepEqual(entries(encoder.table), step.table, `table after block ${i + 1}`);
    assert.equal(encoder.table.size, step.tableSize, `table size after block ${i + 1}`);
  });
}

describe('RFC 7541 C.2: one representation each', () => {
  const cases: Array<{ name: string; hex: string; fields: string[]; table: Array<[string, string]>; neverIndexed: number[]; options: HpackEncoderOptions }> = [
    {
      name: 'C.2.1 literal with indexing',
      hex: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572',
      fields: ['custom-key', 'custom-header'],
      table: [['custom-key', 'custom-header']],
      neverIndexed: [],
      options: { huffman: 'never' },
    },
    {
      name: 'C.2.2 literal without indexing',
      hex: '040c 2f73 616d 706c 652f 7061 7468',
      fields: [':path', '/sample/path'],
      table: [],
      neverIndexed: [],
      options: { huffman: 'never', indexing: () => 'no-index' },
    },
    {
      name: 'C.2.3 literal never indexed',
      hex: '1008 7061 7373 776f 7264 0673 6563 7265 74',
      fields: ['password', 'secret'],
      table: [],
      neverIndexed: [0],
      options: { huffman: 'never' },
    },
    { name: 'C.2.4 indexed', hex: '82', fields: [':method', 'GET'], table: [], neverIndexed: [], options: {} },
  ];
  for (const example of cases) {
    it(`${example.name}: decodes`, () => {
      const decoder = new HpackDecoder();
      assert.deepEqual(decoder.decode(hex(example.hex)), example.fields);
      assert.deepEqual(decoder.lastNeverIndexed, example.neverIndexed);
      assert.deepEqual(entries(decoder.table), example.table);
    });
    it(`${example.name}: encodes`, () => {
      const encoder = new HpackEncoder(example.options);
      assert.equal(encoder.encode(example.fields, example.neverIndexed).toString('hex'), hex(example.hex).toString('hex'));
      assert.deepEqual(entries(encoder.table), example.table);
    });
  }
});

describe('RFC 7541 C.3 to C.6: requests and responses on one connection', () => {
  it('C.3 requests without Huffman: decodes', () => decodeSeries(C3, 4096));
  it('C.3 requests without Huffman: encodes', () => encodeSeries(C3, 4096, { huffman: 'never' }));
  it('C.4 requests with Huffman: decodes', () => decodeSeries(C4, 4096));
  it('C.4 requests with Huffman: encodes (Huffman is shorter for every string)', () => encodeSeries(C4, 4096, {}));

  // The RFC's encoder indexes set-cookie, which ours sends without indexing by default.
  const indexSetCookie: HpackEncoderOptions['indexing'] = (name) => (name === 'set-cookie' ? 'index' : undefined);
  it('C.5 responses without Huffman, table of 256 with evictions: decodes', () => decodeSeries(C5, 256));
  it('C.5 responses without Huffman, table of 256 with evictions: encodes', () =>
    encodeSeries(C5, 256, { huffman: 'never', indexing: indexSetCookie }));
  it('C.6 responses with Huffman, table of 256 with evictions: decodes', () => decodeSeries(C6, 256));
  // "307" Huffman-codes to 3 octets, no shorter than raw: the RFC's encoder Huffman-codes every string.
  it('C.6 responses with Huffman, table of 256 with evictions: encodes', () =>
    encodeSeries(C6, 256, { huffman: 'always', indexing: indexSetCookie }));
  it('C.6 with the default Huffman choice differs only where raw is as short ("307")', () => {
    const encoder = new HpackEncoder({ maxTableSize: 256, indexing: indexSetCookie });
    encoder.encode([]);
    encoder.encode(response1);
    assert.equal(encoder.encode(response2).toString('hex'), '4803333037c1c0bf');
  });
});
