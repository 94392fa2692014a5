// HPACK Huffman coding (RFC 7541 §5.2, Appendix B; the code itself is in huffman-code.ts). Decoding walks
// a 4-bits-at-a-time state table (256 tree nodes × 16 nibbles) instead of a bit-by-bit tree walk: two
// table reads per input byte, no allocation.
import { HpackDecodeError } from './errors.ts';
import { DECODED_EOS, EMITS, HUFFMAN_CODE_BITS, HUFFMAN_CODES, MAY_END, NEXT_STATE_MASK, SYMBOL_SHIFT } from './huffman-code.ts';
import { decodeTable } from './huffman-table.ts';

export { HUFFMAN_CODE_BITS, HUFFMAN_CODES } from './huffman-code.ts';

// ── encoding ────────────────────────────────────────────────────────────────────────────────────

/** Octets `text` takes Huffman-coded; each char is one octet (latin1), higher bits are ignored. */
export function huffmanEncodedLength(text: string): number {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += HUFFMAN_CODE_BITS[text.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/**
 * Writes `text` Huffman-coded at `dst[offset]`, padded with the most significant bits of EOS (ones);
 * returns the offset after it. `dst` must have `huffmanEncodedLength(text)` octets free.
 */
export function huffmanEncode(text: string, dst: Uint8Array, offset: number): number {
  // `pending` holds the `pendingBits` (< 8) not yet written plus the code being added; codes over 24
  // bits go in two parts so the total stays within 31 bits of integer arithmetic.
  let pending = 0;
  let pendingBits = 0;
  let out = offset;
  for (let i = 0; i < text.length; i++) {
    const symbol = text.charCodeAt(i) & 0xff;
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_CODE_BITS[symbol]!;
    if (length > 24) {
      pending = (pending << (length - 16)) | (code >>> 16);
      pendingBits += length - 16;
      while (pendingBits >= 8) {
        pendingBits -= 8;
        dst[out++] = pending >>> pendingBits;
      }
      pending = (pending << 16) | (code & 0xffff);
      pendingBits += 16;
    } else {
      pending = (pending << length) | code;
      pendingBits += length;
    }
    while (pendingBits >= 8) {
      pendingBits -= 8;
      dst[out++] = pending >>> pendingBits;
    }
  }
  if (pendingBits > 0) dst[out++] = (pending << (8 - pendingBits)) | (0xff >>> pendingBits);
  return out;
}

// ── decoding ────────────────────────────────────────────────────────────────────────────────────

// Built ahead of time (huffman-table.ts, checked against the builder by the tests): building it here
// would run a hot loop at load, and V8 would page in its optimizing compiler (~5 MB resident) for it.
const DECODE_TABLE = decodeTable();

/** Most octets `encodedLength` octets can decode to: the shortest code is 5 bits. */
export function huffmanMaxDecodedLength(encodedLength: number): number {
  return Math.floor((encodedLength * 8) / 5);
}

/**
 * Decodes `src[start..end)` into `dst` from index 0; returns the decoded length. `dst` must hold
 * `huffmanMaxDecodedLength(end - start)` octets. Throws HpackDecodeError for EOS in the string,
 * padding over 7 bits, or padding that is not all ones.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let state = 0;
  let mayEnd = MAY_END;
  let out = 0;
  for (let i = start; i < end; i++) {
    const octet = src[i]!;
    let entry = DECODE_TABLE[(state << 4) | (octet >>> 4)]!;
    if (entry & EMITS) dst[out++] = entry >>> SYMBOL_SHIFT;
    const failed = entry & DECODED_EOS;
    state = entry & NEXT_STATE_MASK;
    entry = DECODE_TABLE[(state << 4) | (octet & 0xf)]!;
    if (entry & EMITS) dst[out++] = entry >>> SYMBOL_SHIFT;
    if ((failed | entry) & DECODED_EOS) throw new HpackDecodeError('huffman', 'EOS symbol inside a Huffman string');
    state = entry & NEXT_STATE_MASK;
    mayEnd = entry & MAY_END;
  }
  if (mayEnd === 0) {
    throw new HpackDecodeError('huffman', 'Huffman string padding is longer than 7 bits or not all ones');
  }
  return out;
}
