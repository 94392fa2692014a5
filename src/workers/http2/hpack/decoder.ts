// HpackDecoder: one per HTTP/2 connection and direction, it turns each complete header block (the
// engine joins HEADERS + CONTINUATION first) into a flat [name0, value0, name1, value1, …] list of
// latin1 strings, the shape of Node's rawHeaders, and keeps the peer encoder's dynamic table in step.
// The loop reads straight from the block Buffer; fields taken from a table cost no allocation.
import { Buffer } from 'node:buffer';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.ts';
import { HeaderListTooLargeError, HpackDecodeError } from './errors.ts';
import { huffmanDecode, huffmanMaxDecodedLength } from './huffman.ts';
import { latin1String } from './latin1.ts';
import { STATIC_NAMES, STATIC_TABLE_LENGTH, STATIC_VALUES } from './static-table.ts';

/** The dynamic table size both ends start with (RFC 9113 §6.5.2, SETTINGS_HEADER_TABLE_SIZE). */
export const DEFAULT_TABLE_SIZE = 4096;
/** Largest integer accepted: SETTINGS values are 32-bit, and no index or length comes near it. */
const MAX_INTEGER = 0xffffffff;
const NONE: readonly number[] = Object.freeze([]);
const EMPTY = Buffer.alloc(0);
/** Room for Huffman-decoded octets before they become a string; shared, as decode() never yields. */
let huffmanScratch = Buffer.allocUnsafeSlow(4096);

export interface HpackDecoderOptions {
  /**
   * SETTINGS_HEADER_TABLE_SIZE in force: the largest table the peer may ask for (default 4096, the
   * protocol's initial value). Only for a value already in force: a peer may send blocks before it
   * has seen our SETTINGS, so advertise a smaller one by calling `setTableSizeLimit` on its ACK.
   */
  tableSizeLimit?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: names + values + 32 per field (default: no limit). */
  maxHeaderListSize?: number;
}

export class HpackDecoder {
  /**
   * Field numbers (field i is `fields[2i]`, `fields[2i + 1]`) that the last decoded block sent as
   * never indexed (RFC 7541 §7.1.3): an intermediary must forward them never indexed too. A new
   * array when not empty (keep it if needed); a shared empty array otherwise.
   */
  lastNeverIndexed: readonly number[] = NONE;
  /** The peer encoder's dynamic table as rebuilt here (read it, never change it). */
  readonly table = new DynamicTable(DEFAULT_TABLE_SIZE);
  private tableSizeLimit = DEFAULT_TABLE_SIZE;
  /** The limit fell below the table's size: the next block must start with a size update. */
  private sizeUpdateDue = false;
  private maxHeaderListSize: number;
  /** Decoding cursor in the current block. */
  private block: Buffer = EMPTY;
  private pos = 0;
  private end = 0;

  constructor(options: HpackDecoderOptions = {}) {
    this.maxHeaderListSize = options.maxHeaderListSize ?? Infinity;
    this.setTableSizeLimit(options.tableSizeLimit ?? DEFAULT_TABLE_SIZE);
  }

  /**
   * A new SETTINGS_HEADER_TABLE_SIZE is in force: call it when the peer acknowledges the SETTINGS
   * frame carrying it (until then the peer may still use the old one). If it is below the table's
   * current maximum, the peer's next block must start with a size update to at most `limit`.
   */
  setTableSizeLimit(limit: number): void {
    this.tableSizeLimit = limit;
    if (limit < this.table.maxSize) this.sizeUpdateDue = true;
  }

  /** A new SETTINGS_MAX_HEADER_LIST_SIZE (applies from the next block). */
  setMaxHeaderListSize(limit: number): void {
    this.maxHeaderListSize = limit;
  }

  /**
   * Decodes one complete header block, `block[start..end)`, into [name0, value0, …].
   *
   * Throws HpackDecodeError (code COMPRESSION_ERROR) if the block is malformed: the table may then be
   * half updated, so the connection must end (GOAWAY COMPRESSION_ERROR). Throws
   * HeaderListTooLargeError if the list is over maxHeaderListSize: the whole block was processed and
   * the table is in sync, so only this stream needs refusing (431 or RST_STREAM).
   */
  decode(block: Buffer, start = 0, end = block.length): string[] {
    this.block = block;
    this.pos = start;
    this.end = end;
    const table = this.table;
    const limit = this.maxHeaderListSize;
    const fields: string[] = [];
    let neverIndexed: number[] | null = null;
    let listSize = 0;
    let fieldCount = 0;

    while (this.pos < end) {
      const first = block[this.pos]!;
      let name: string;
      let value: string;
      if (first >= 0x80) {
        // Indexed field (§6.1).
        const index = this.readInteger(7);
        if (this.sizeUpdateDue) this.missingSizeUpdate();
        if (index <= STATIC_TABLE_LENGTH) {
          if (index === 0) throw new HpackDecodeError('bad-index', 'index 0 in an indexed field');
          name = STATIC_NAMES[index - 1]!;
          value = STATIC_VALUES[index - 1]!;
        } else {
          const entry = this.dynamicEntry(index);
          name = table.name(entry);
          value = table.value(entry);
        }
      } else if (first >= 0x40) {
        // Literal with incremental indexing (§6.2.1).
        const index = this.readInteger(6);
        if (this.sizeUpdateDue) this.missingSizeUpdate();
        name = index === 0 ? this.readString() : this.nameAt(index);
        value = this.readString();
        table.add(name, value);
      } else if (first >= 0x20) {
        // Dynamic table size update (§6.3): only before the first field.
        const size = this.readInteger(5);
        if (fieldCount > 0) throw new HpackDecodeError('table-size-update', 'table size update after a field');
        if (size > this.tableSizeLimit) {
          throw new HpackDecodeError('table-size-update', `table size update to ${size}, over the limit of ${this.tableSizeLimit}`);
        }
        table.setMaxSize(size);
        this.sizeUpdateDue = false;
        continue;
      } else {
        // Literal without indexing (0000xxxx, §6.2.2) or never indexed (0001xxxx, §6.2.3).
        const index = this.readInteger(4);
        if (this.sizeUpdateDue) this.missingSizeUpdate();
        name = index === 0 ? this.readString() : this.nameAt(index);
        value = this.readString();
        if (first & 0x10) (neverIndexed ??= []).push(fieldCount);
      }
      // Past the limit, keep processing for the table but stop collecting the list.
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize <= limit) fields.push(name, value);
      fieldCount++;
    }
    if (this.sizeUpdateDue) this.missingSizeUpdate();
    this.block = EMPTY;
    this.lastNeverIndexed = neverIndexed ?? NONE;
    if (listSize > limit) throw new HeaderListTooLargeError(listSize, limit);
    return fields;
  }

  private missingSizeUpdate(): never {
    throw new HpackDecodeError(
      'table-size-update',
      `block does not start with the table size update due after the limit fell to ${this.tableSizeLimit}`,
    );
  }

  /** Entry number (0 = newest) of an HPACK index past the static table. */
  private dynamicEntry(index: number): number {
    const entry = index - STATIC_TABLE_LENGTH - 1;
    if (entry >= this.table.length) {
      throw new HpackDecodeError('bad-index', `index ${index} is past the table (${STATIC_TABLE_LENGTH + this.table.length} entries)`);
    }
    return entry;
  }

  private nameAt(index: number): string {
    if (index <= STATIC_TABLE_LENGTH) return STATIC_NAMES[index - 1]!;
    return this.table.name(this.dynamicEntry(index));
  }

  /** An integer with an N-bit prefix (§5.1); the prefix byte's flag bits are ignored. */
  private readInteger(prefixBits: number): number {
    const block = this.block;
    let pos = this.pos;
    if (pos >= this.end) throw truncated();
    const prefixMax = (1 << prefixBits) - 1;
    let value = block[pos++]! & prefixMax;
    if (value === prefixMax) {
      let factor = 1;
      let octet: number;
      do {
        if (pos >= this.end) throw truncated();
        // Five continuation octets carry 35 bits: more means a padded or absurd integer.
        if (factor > 2 ** 28) throw new HpackDecodeError('integer-overflow', 'integer longer than 32 bits');
        octet = block[pos++]!;
        value += (octet & 0x7f) * factor;
        factor *= 128;
      } while (octet >= 0x80);
      if (value > MAX_INTEGER) throw new HpackDecodeError('integer-overflow', `integer ${value} over 32 bits`);
    }
    this.pos = pos;
    return value;
  }

  /** A string literal (§5.2): raw or Huffman-coded octets, returned as latin1. */
  private readString(): string {
    if (this.pos >= this.end) throw truncated();
    const huffman = this.block[this.pos]! & 0x80;
    const length = this.readInteger(7);
    const start = this.pos;
    if (length > this.end - start) throw truncated();
    this.pos = start + length;
    if (length === 0) return '';
    if (huffman === 0) return latin1String(this.block, start, start + length);
    const room = huffmanMaxDecodedLength(length);
    if (room > huffmanScratch.length) huffmanScratch = Buffer.allocUnsafeSlow(Math.max(room, huffmanScratch.length * 2));
    const decoded = huffmanDecode(this.block, start, start + length, huffmanScratch);
    return latin1String(huffmanScratch, 0, decoded);
  }
}

function truncated(): HpackDecodeError {
  return new HpackDecodeError('truncated', 'header block ends inside a field');
}
