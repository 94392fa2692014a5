// The Huffman code of RFC 7541 Appendix B: codes derived from the lengths match the RFC's table,
// every octet round-trips, and each invalid ending of §5.2 is rejected with a COMPRESSION_ERROR.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { HpackDecodeError } from './errors.ts';
import { buildDecodeTable } from './huffman-code.ts';
import { decodeTable } from './huffman-table.ts';
import { huffmanTableSource } from '../../../../scripts/build-huffman-table.ts';
import {
  HUFFMAN_CODE_BITS,
  HUFFMAN_CODES,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from './huffman.ts';

function encode(text: string): Buffer {
  const out = Buffer.alloc(huffmanEncodedLength(text));
  assert.equal(huffmanEncode(text, out, 0), out.length, 'encodes to the announced length');
  return out;
}

function decode(encoded: Buffer): string {
  const out = Buffer.alloc(huffmanMaxDecodedLength(encoded.length));
  return out.toString('latin1', 0, huffmanDecode(encoded, 0, encoded.length, out));
}

function assertRejected(encoded: Buffer, pattern: RegExp): void {
  assert.throws(
    () => decode(encoded),
    (error: unknown) => error instanceof HpackDecodeError && error.code === 'COMPRESSION_ERROR' && error.failure === 'huffman' && pattern.test(error.message),
  );
}

describe('Huffman code table', () => {
  it('derives the RFC codes from the code lengths (spot checks from Appendix B)', () => {
    const expected: Array<[number, number, number]> = [
      [0x00, 0x1ff8, 13],
      [0x30, 0x0, 5], // '0'
      [0x61, 0x3, 5], // 'a'
      [0x20, 0x14, 6], // ' '
      [0x7f, 0xffffffc, 28],
      [0xff, 0x3ffffee, 26],
      [256, 0x3fffffff, 30], // EOS
    ];
    for (const [symbol, code, bits] of expected) {
      assert.equal(HUFFMAN_CODES[symbol], code, `code of ${symbol}`);
      assert.equal(HUFFMAN_CODE_BITS[symbol], bits, `length of ${symbol}`);
    }
  });

  it('matches the whole table of the hpack.js package', () => {
    const theirs = (createRequire(import.meta.url)('hpack.js') as { huffman: { encode: Array<[number, number]> } }).huffman.encode;
    for (let symbol = 0; symbol <= 256; symbol++) {
      assert.deepEqual([HUFFMAN_CODE_BITS[symbol], HUFFMAN_CODES[symbol]], theirs[symbol], `symbol ${symbol}`);
    }
  });
});

describe('the prebuilt decoder table', () => {
  it('is the table the builder makes from the code (else run: node scripts/build-huffman-table.ts)', () => {
    assert.deepEqual(decodeTable(), buildDecodeTable());
    assert.equal(readFileSync(new URL('./huffman-table.ts', import.meta.url), 'utf8'), huffmanTableSource());
  });
});

describe('Huffman encoding and decoding', () => {
  it('encodes the strings of RFC 7541 C.4 and C.6 as printed there', () => {
    const cases: Array<[string, string]> = [
      ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
      ['no-cache', 'a8eb10649cbf'],
      ['custom-key', '25a849e95ba97d7f'],
      ['custom-value', '25a849e95bb8e8b4bf'],
      ['302', '6402'],
      ['307', '640eff'],
      ['gzip', '9bd9ab'],
    ];
    for (const [text, hex] of cases) {
      assert.equal(encode(text).toString('hex'), hex, text);
      assert.equal(decode(Buffer.from(hex, 'hex')), text, hex);
    }
  });

  it('round-trips every octet value, alone and all together', () => {
    for (let octet = 0; octet < 256; octet++) {
      const text = String.fromCharCode(octet);
      assert.equal(decode(encode(text)), text, `octet ${octet}`);
    }
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    assert.equal(decode(encode(all)), all);
  });

  it('decodes the empty string', () => assert.equal(decode(Buffer.alloc(0)), ''));

  it('writes at an offset and only the announced octets', () => {
    const out = Buffer.alloc(12, 0xee);
    const end = huffmanEncode('no-cache', out, 3);
    assert.equal(end, 9);
    assert.equal(out.toString('hex'), 'eeeeeea8eb10649cbfeeeeee');
  });

  it('round-trips any octet string (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = Buffer.from(bytes).toString('latin1');
        assert.equal(decode(encode(text)), text);
      }),
      { numRuns: 300 },
    );
  });

  it('either rejects arbitrary octets with a COMPRESSION_ERROR or decodes them to a string that encodes back to them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const encoded = Buffer.from(bytes);
        let text: string;
        try {
          text = decode(encoded);
        } catch (error) {
          assert.ok(error instanceof HpackDecodeError, String(error));
          return;
        }
        // Valid padding is unique, so a valid encoding is the only one of its string.
        assert.equal(encode(text).toString('hex'), encoded.toString('hex'));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('Huffman decoding errors (RFC 7541 §5.2)', () => {
  it('rejects padding longer than 7 bits', () => {
    assertRejected(Buffer.from([0xff]), /padding/); // 8 bits of ones, no symbol
    assertRejected(Buffer.from([0x1f, 0xff]), /padding/); // 'a' then 11 ones
    assertRejected(Buffer.from([0x1f, 0xff, 0xff, 0xff]), /padding/); // 'a' then 27 ones
    assertRejected(Buffer.from([0xff, 0x9f, 0xff, 0xff, 0xff]), /padding/); // 'a' after 29 bits of ones: EOS-like prefix, no EOS
  });

  it('rejects padding that is not all ones (not a prefix of EOS)', () => {
    assertRejected(Buffer.from([0x18]), /padding/); // 'a' = 00011, then 000
    assertRejected(Buffer.from([0x1e]), /padding/); // 'a', then 110
    assertRejected(Buffer.from([0x00]), /padding/); // '0' = 00000, then 000
    assertRejected(Buffer.from([0x1f, 0xf0]), /padding/); // 'a', '!' (1111111000), then a 0 bit
  });

  it('rejects the EOS symbol inside a string', () => {
    assertRejected(Buffer.from([0xff, 0xff, 0xff, 0xfc]), /EOS/); // EOS (30 ones) then 00
    assertRejected(Buffer.from([0x1f, 0xff, 0xff, 0xff, 0xff]), /EOS/); // 'a' then EOS then 111
    assertRejected(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f]), /EOS/); // EOS first, then more
    assertRejected(Buffer.from([0x52, 0xbc, 0x30, 0xff, 0xff, 0xff, 0xff]), /EOS/); // 'R', '0'-ish symbols, then 30 ones
  });
});
