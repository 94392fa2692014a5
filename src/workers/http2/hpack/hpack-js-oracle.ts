// Test support: the npm `hpack.js` codec (an independent HPACK implementation) behind the same flat
// [name, value, …] shape as ours, so property tests can check both directions against it. It has no
// typings; the few members used are declared here. Not for production: ~16 µs per block.
import { createRequire } from 'node:module';
import { Buffer } from 'node:buffer';

interface HpackJsField {
  name: string;
  value: string;
  neverIndex?: boolean;
  huffman?: boolean;
}
interface HpackJsTable {
  dynamic: Array<{ name: string; value: string }>;
  maxSize: number;
  updateSize(size: number): void;
}
interface HpackJsCompressor {
  _table: HpackJsTable;
  write(fields: HpackJsField[]): void;
  read(): Buffer | null;
}
interface HpackJsDecompressor {
  _table: HpackJsTable;
  write(block: Buffer): void;
  execute(): void;
  read(): HpackJsField | null;
  on(event: 'error', listener: (error: Error) => void): void;
}
interface HpackJs {
  compressor: { create(options: { table: { maxSize: number } }): HpackJsCompressor };
  decompressor: { create(options: { table: { maxSize: number } }): HpackJsDecompressor };
  encoder: { create(): { encodeBits(bits: number, count: number): void; encodeInt(value: number): void; render(): Buffer[] } };
}

const hpack = createRequire(import.meta.url)('hpack.js') as HpackJs;

/** A field list as entries of a dynamic table, newest first, for comparing table states. */
export type TableEntries = Array<[string, string]>;

export class OracleEncoder {
  private readonly compressor: HpackJsCompressor;
  private pendingSizeUpdates: Buffer[] = [];

  constructor(maxTableSize: number) {
    this.compressor = hpack.compressor.create({ table: { maxSize: maxTableSize } });
  }

  /** Encodes one block; `huffman[i]` chooses Huffman for field i's strings (hpack.js defaults to it). */
  encode(fields: readonly string[], neverIndexed: readonly number[] = [], huffman: readonly boolean[] = []): Buffer {
    const list: HpackJsField[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const field = i / 2;
      list.push({ name: fields[i]!, value: fields[i + 1]!, neverIndex: neverIndexed.includes(field), huffman: huffman[field] ?? true });
    }
    this.compressor.write(list);
    const block = this.compressor.read();
    const parts = [...this.pendingSizeUpdates, ...(block === null ? [] : [block])];
    this.pendingSizeUpdates = [];
    return Buffer.concat(parts);
  }

  /**
   * Resizes the table and emits the size update at the start of the next block (hpack.js's own
   * updateTableSize only announces sizes at its maximum, so the update is written here with its
   * integer encoder).
   */
  setTableSize(size: number): void {
    this.compressor._table.updateSize(size);
    const writer = hpack.encoder.create();
    writer.encodeBits(1, 3);
    writer.encodeInt(size);
    this.pendingSizeUpdates.push(...writer.render());
  }

  entries(): TableEntries {
    return tableEntries(this.compressor._table);
  }
}

export class OracleDecoder {
  private readonly decompressor: HpackJsDecompressor;
  private failure: Error | null = null;

  constructor(maxTableSize: number) {
    this.decompressor = hpack.decompressor.create({ table: { maxSize: maxTableSize } });
    this.decompressor.on('error', (error) => {
      this.failure = error;
    });
  }

  /** Decodes one block into fields and the field numbers sent never indexed; throws what hpack.js rejects. */
  decode(block: Buffer): { fields: string[]; neverIndexed: number[] } {
    this.decompressor.write(block);
    this.decompressor.execute();
    if (this.failure !== null) throw this.failure;
    const fields: string[] = [];
    const neverIndexed: number[] = [];
    for (let field = this.decompressor.read(); field !== null; field = this.decompressor.read()) {
      if (field.neverIndex === true) neverIndexed.push(fields.length / 2);
      fields.push(field.name, field.value);
    }
    return { fields, neverIndexed };
  }

  entries(): TableEntries {
    return tableEntries(this.decompressor._table);
  }
}

function tableEntries(table: HpackJsTable): TableEntries {
  return table.dynamic.map((entry): [string, string] => [entry.name, entry.value]).reverse();
}
