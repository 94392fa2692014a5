// The HPACK Huffman code (RFC 7541 Appendix B) as data: the code of each symbol, derived at load from
// the 257 code lengths (the code is canonical: codes of one length are consecutive, in symbol order), and
// the builder of the decoder's state table. huffman.ts encodes and decodes with them; the table itself
// ships prebuilt (huffman-table.ts), made by `buildDecodeTable` (scripts/build-huffman-table.ts).

/** Code length in bits of each symbol 0x00..0xff, then EOS (256), from RFC 7541 Appendix B. */
// prettier-ignore
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0x00
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 0x10
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 0x20
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 0x30
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 0x40
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 0x50
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 0x60
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 0x70
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 0x80
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 0x90
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 0xa0
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 0xb0
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 0xc0
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 0xd0
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 0xe0
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 0xf0
  30, // EOS
];
export const EOS = 256;

/** Code of each symbol (right-aligned in `CODE_BITS[symbol]` bits), canonical order. */
export const HUFFMAN_CODES = new Uint32Array(257);
export const HUFFMAN_CODE_BITS = new Uint8Array(257);
{
  const symbols = [...CODE_LENGTHS.keys()].sort((a, b) => CODE_LENGTHS[a]! - CODE_LENGTHS[b]! || a - b);
  let code = 0;
  let bits = CODE_LENGTHS[symbols[0]!]!;
  for (const symbol of symbols) {
    const length = CODE_LENGTHS[symbol]!;
    code <<= length - bits;
    bits = length;
    HUFFMAN_CODES[symbol] = code;
    HUFFMAN_CODE_BITS[symbol] = length;
    code++;
  }
}

// A state is an inner node of the code tree (root = 0); a table entry, for a state and the next
// nibble, packs the state after it, the symbol completed on the way (at most one: codes are ≥ 5
// bits), and whether the input may end there.
export const NEXT_STATE_MASK = 0xff;
export const SYMBOL_SHIFT = 8;
export const EMITS = 1 << 16;
/** The bits since the last symbol are 0..7 ones: valid padding if the string ends here. */
export const MAY_END = 1 << 17;
/** EOS was decoded: always an error (RFC 7541 §5.2). */
export const DECODED_EOS = 1 << 18;


export function buildDecodeTable(): Uint32Array {
  // Tree: children ≥ 0 are inner nodes, < 0 are leaves holding -(symbol + 1).
  const zeroChild: number[] = [0];
  const oneChild: number[] = [0];
  let innerNodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_CODE_BITS[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const children = (code >>> bit) & 1 ? oneChild : zeroChild;
      if (bit === 0) {
        children[node] = -(symbol + 1);
      } else {
        if (children[node] === 0) {
          children[node] = innerNodes++;
          zeroChild.push(0);
          oneChild.push(0);
        }
        node = children[node]!;
      }
    }
  }
  // Nodes reached from the root by 1..7 ones: where a string may end (padding is a prefix of EOS).
  const paddingNodes = new Set<number>([0]);
  for (let node = 0, depth = 1; depth <= 7; depth++) {
    node = oneChild[node]!;
    paddingNodes.add(node);
  }

  const table = new Uint32Array(innerNodes * 16);
  for (let state = 0; state < innerNodes; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = (nibble >>> bit) & 1 ? oneChild[node]! : zeroChild[node]!;
        if (child >= 0) {
          node = child;
          continue;
        }
        const symbol = -child - 1;
        entry |= symbol === EOS ? DECODED_EOS : EMITS | (symbol << SYMBOL_SHIFT);
        node = 0;
      }
      if (paddingNodes.has(node)) entry |= MAY_END;
      table[state * 16 + nibble] = entry | node;
    }
  }
  return table;
}
