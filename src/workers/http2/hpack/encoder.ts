// HpackEncoder: one per HTTP/2 connection and direction, it turns a flat [name0, value0, …] list into
// a header block, reusing the static table, a dynamic table with the indexing policy below, and
// Huffman coding where it is shorter. It builds blocks in a scratch buffer shared by the thread and
// hands back a fresh copy of the exact length, so the engine may queue the result on a socket
// (which keeps a reference) and the encoder is free for the next block at once.
//
// Indexing policy (what goes into the peer's dynamic table):
// - repeated fields are indexed: :authority, :path (gRPC methods repeat), content-type, user-agent,
//   te, grpc-*, and anything else not listed below;
// - authorization and proxy-authorization, and cookies under 20 octets (guessable, RFC 7541 §7.1.3),
//   are sent never indexed, as is any field the caller marks (a never-indexed field it received);
// - fields unique to each message are sent without indexing, as they would only evict useful
//   entries: content-length, set-cookie (per-response and sensitive), etag, grpc-timeout (a deadline's
//   remainder, new on every call), request ids and trace ids. When such a name is in neither table,
//   its first field is indexed all the same, so that later ones send the name as an index;
// - a field whose entry would take over 3/4 of the table is not indexed (it would empty the table).
import { Buffer } from 'node:buffer';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.ts';
import { huffmanEncode, huffmanEncodedLength } from './huffman.ts';
import { writeLatin1 } from './latin1.ts';
import { STATIC_BY_NAME, STATIC_TABLE_LENGTH } from './static-table.ts';

/** The dynamic table size both ends start with (RFC 9113 §6.5.2). */
const INITIAL_TABLE_SIZE = 4096;
/** Cookies shorter than this are sent never indexed (nghttp2 draws the same line). */
const SHORT_COOKIE = 20;
const NONE: readonly number[] = Object.freeze([]);

/**
 * Where blocks are built, shared by every encoder of this thread: encode() runs to completion and
 * copies the block out before returning, so no connection needs its own.
 */
let scratch = Buffer.allocUnsafeSlow(4096);

// Indexing choices (a field's representation), then the built-in policy by name.
const INDEX = 0;
const NO_INDEX = 1;
const NEVER_INDEX = 2;
const COOKIE = 3; // never indexed if short, else indexed
const PER_MESSAGE = 4; // without indexing once the name is in a table, else indexed
const CHOICES: Readonly<Record<FieldIndexing, number>> = { index: INDEX, 'no-index': NO_INDEX, 'never-index': NEVER_INDEX };
const NAME_POLICY: ReadonlyMap<string, number> = new Map([
  ['authorization', NEVER_INDEX],
  ['proxy-authorization', NEVER_INDEX],
  ['cookie', COOKIE],
  ['set-cookie', PER_MESSAGE],
  ['content-length', PER_MESSAGE],
  ['etag', PER_MESSAGE],
  ['grpc-timeout', PER_MESSAGE],
  ['x-request-id', PER_MESSAGE],
  ['traceparent', PER_MESSAGE],
  ['grpc-trace-bin', PER_MESSAGE],
  ['x-b3-traceid', PER_MESSAGE],
  ['x-b3-spanid', PER_MESSAGE],
  ['x-b3-parentspanid', PER_MESSAGE],
]);

/** What the encoder knows of a name before any dynamic entry: one map read per field answers all. */
interface KnownName {
  /** Lowest static index of the name, 0 if not in the static table. */
  readonly staticIndex: number;
  readonly staticValues: ReadonlyMap<string, number> | null;
  readonly policy: number;
}
const KNOWN_NAMES = new Map<string, KnownName>();
for (const [name, entry] of STATIC_BY_NAME) {
  KNOWN_NAMES.set(name, { staticIndex: entry.index, staticValues: entry.values, policy: NAME_POLICY.get(name) ?? INDEX });
}
for (const [name, policy] of NAME_POLICY) {
  if (!KNOWN_NAMES.has(name)) KNOWN_NAMES.set(name, { staticIndex: 0, staticValues: null, policy });
}

/** Representation first-octet patterns (RFC 7541 §6). */
const INDEXED = 0x80;
const INCREMENTAL = 0x40;
const SIZE_UPDATE = 0x20;
const NEVER_INDEXED = 0x10;
const WITHOUT_INDEXING = 0x00;

/** The dynamic entries of one name: the newest one's insertion number and each value's. */
interface DynamicName {
  latest: number;
  readonly values: Map<string, number>;
}

/** How one field goes into a block: added to the dynamic table, or a literal that is not (§6.2). */
export type FieldIndexing = 'index' | 'no-index' | 'never-index';

export interface HpackEncoderOptions {
  /**
   * The largest dynamic table this encoder will use, whatever the peer allows: memory per connection
   * on both sides (default 4096, the protocol's initial size). 0 disables the dynamic table.
   */
  maxTableSize?: number;
  /**
   * Overrides the built-in indexing policy (see the top of this file) for the fields it returns a
   * choice for; `undefined` keeps the built-in one. Fields marked never indexed stay so regardless.
   */
  indexing?: (name: string, value: string) => FieldIndexing | undefined;
  /**
   * Huffman-code strings when that is shorter (default), always (as RFC 7541's examples do), or never
   * (blocks readable in a packet capture).
   */
  huffman?: 'shorter' | 'always' | 'never';
}

export class HpackEncoder {
  /** The dynamic table as the peer's decoder will have it after each block (read it, never change it). */
  readonly table: DynamicTable;
  private readonly tableSizeCap: number;
  private readonly indexing: ((name: string, value: string) => FieldIndexing | undefined) | null;
  private readonly huffman: 'shorter' | 'always' | 'never';
  private readonly stringExpansion: number;
  /** Smallest table size since the last block, or -1 if the size did not change (RFC 7541 §4.2). */
  private smallestPendingSize = -1;
  private readonly dynamicByName = new Map<string, DynamicName>();

  constructor(options: HpackEncoderOptions = {}) {
    this.tableSizeCap = options.maxTableSize ?? INITIAL_TABLE_SIZE;
    this.indexing = options.indexing ?? null;
    this.huffman = options.huffman ?? 'shorter';
    this.stringExpansion = this.huffman === 'always' ? 4 : 1;
    this.table = new DynamicTable(INITIAL_TABLE_SIZE, (name, value, seq) => this.forget(name, value, seq));
    if (this.tableSizeCap < INITIAL_TABLE_SIZE) this.resize(this.tableSizeCap);
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE (call it when its SETTINGS frame arrives). The encoder uses
   * min(size, maxTableSize) and announces a change at the start of the next block.
   */
  setPeerTableSize(size: number): void {
    const next = Math.min(size, this.tableSizeCap);
    if (next !== this.table.maxSize) this.resize(next);
  }

  /**
   * Encodes `fields` ([name0, value0, …], latin1 strings) as one header block. `neverIndexed` lists
   * field numbers (field i is fields[2i], fields[2i + 1]) to send never indexed, e.g. a decoder's
   * `lastNeverIndexed`. The result is a new Buffer the caller owns: `headroom` free octets (room for
   * a frame header), then the block. Each block changes the peer's table: blocks must reach the peer
   * in the order they were encoded, every one of them (a block encoded and then dropped desynchronises
   * the connection).
   */
  encode(fields: readonly string[], neverIndexed: readonly number[] = NONE, headroom = 0): Buffer {
    let pos = 0;
    if (this.smallestPendingSize >= 0) {
      this.ensure(pos, 12);
      if (this.smallestPendingSize < this.table.maxSize) pos = this.writeInteger(pos, this.smallestPendingSize, 5, SIZE_UPDATE);
      pos = this.writeInteger(pos, this.table.maxSize, 5, SIZE_UPDATE);
      this.smallestPendingSize = -1;
    }
    const table = this.table;
    for (let i = 0, field = 0; i + 1 < fields.length; i += 2, field++) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      // Strings (Huffman only when shorter, unless forced: codes are at most 30 bits) + 3 integers.
      this.ensure(pos, (name.length + value.length) * this.stringExpansion + 32);
      const known = KNOWN_NAMES.get(name);
      let choice = neverIndexed.length > 0 && neverIndexed.includes(field) ? NEVER_INDEX : this.choose(name, value, known);
      const inDynamic = this.dynamicByName.get(name);
      if (choice !== NEVER_INDEX) {
        const staticIndex = known?.staticValues?.get(value);
        if (staticIndex !== undefined) {
          pos = this.writeInteger(pos, staticIndex, 7, INDEXED);
          continue;
        }
        const seq = inDynamic?.values.get(value);
        if (seq !== undefined) {
          pos = this.writeInteger(pos, STATIC_TABLE_LENGTH + 1 + table.indexOfSeq(seq), 7, INDEXED);
          continue;
        }
      }
      // A literal: name by index if either table has it (static first: smaller integers).
      const nameIndex =
        known !== undefined && known.staticIndex !== 0
          ? known.staticIndex
          : inDynamic !== undefined
            ? STATIC_TABLE_LENGTH + 1 + table.indexOfSeq(inDynamic.latest)
            : 0;
      if (choice === PER_MESSAGE) choice = nameIndex === 0 ? INDEX : NO_INDEX;
      if (choice === NEVER_INDEX) {
        pos = this.writeInteger(pos, nameIndex, 4, NEVER_INDEXED);
      } else if (choice === NO_INDEX) {
        pos = this.writeInteger(pos, nameIndex, 4, WITHOUT_INDEXING);
      } else {
        pos = this.writeInteger(pos, nameIndex, 6, INCREMENTAL);
        this.remember(name, value);
      }
      if (nameIndex === 0) pos = this.writeString(pos, name);
      pos = this.writeString(pos, value);
    }
    const block = Buffer.allocUnsafe(headroom + pos);
    // A native copy costs more than a loop for the few octets of a typical (indexed) block.
    if (pos > 64) scratch.copy(block, headroom, 0, pos);
    else for (let i = 0; i < pos; i++) block[headroom + i] = scratch[i]!;
    return block;
  }

  /** INDEX, NO_INDEX, NEVER_INDEX or PER_MESSAGE for a field the caller did not mark. */
  private choose(name: string, value: string, known: KnownName | undefined): number {
    if (this.indexing !== null) {
      const custom = this.indexing(name, value);
      if (custom !== undefined) return CHOICES[custom];
    }
    const policy = known === undefined ? INDEX : known.policy;
    if (policy === NEVER_INDEX) return NEVER_INDEX;
    if (policy === COOKIE && value.length < SHORT_COOKIE) return NEVER_INDEX;
    // An entry over 3/4 of the table would evict nearly everything for one field.
    if ((name.length + value.length + ENTRY_OVERHEAD) * 4 > this.table.maxSize * 3) return NO_INDEX;
    return policy === PER_MESSAGE ? PER_MESSAGE : INDEX;
  }

  private resize(size: number): void {
    this.smallestPendingSize = this.smallestPendingSize < 0 ? size : Math.min(this.smallestPendingSize, size);
    this.table.setMaxSize(size);
  }

  /** Adds a field to the dynamic table and to the reverse lookup. */
  private remember(name: string, value: string): void {
    this.table.add(name, value);
    const seq = this.table.insertCount - 1;
    if (!this.table.holdsSeq(seq)) return; // larger than the table: it emptied it instead
    // Looked up after add(): its evictions may have dropped this name's record.
    const record = this.dynamicByName.get(name);
    if (record === undefined) {
      this.dynamicByName.set(name, { latest: seq, values: new Map([[value, seq]]) });
    } else {
      record.latest = seq;
      record.values.set(value, seq);
    }
  }

  /** Eviction listener: drops an evicted entry from the reverse lookup unless a newer copy replaced it. */
  private forget(name: string, value: string, seq: number): void {
    const record = this.dynamicByName.get(name);
    if (record === undefined) return;
    // Entries leave oldest first: once the newest of a name is gone, all of them are.
    if (record.latest === seq) this.dynamicByName.delete(name);
    else if (record.values.get(value) === seq) record.values.delete(value);
  }

  private ensure(pos: number, extra: number): void {
    if (pos + extra <= scratch.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(pos + extra, scratch.length * 2));
    scratch.copy(bigger, 0, 0, pos);
    scratch = bigger;
  }

  /** An integer with an N-bit prefix (RFC 7541 §5.1) after the representation's flag bits. */
  private writeInteger(pos: number, value: number, prefixBits: number, flags: number): number {
    const out = scratch;
    const prefixMax = (1 << prefixBits) - 1;
    if (value < prefixMax) {
      out[pos++] = flags | value;
      return pos;
    }
    out[pos++] = flags | prefixMax;
    let rest = value - prefixMax;
    while (rest >= 0x80) {
      out[pos++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    out[pos++] = rest;
    return pos;
  }

  /** A string literal (RFC 7541 §5.2), Huffman-coded when that is shorter. */
  private writeString(pos: number, text: string): number {
    const rawLength = text.length;
    if (rawLength > 0 && this.huffman !== 'never') {
      const huffmanLength = huffmanEncodedLength(text);
      if (huffmanLength < rawLength || this.huffman === 'always') {
        pos = this.writeInteger(pos, huffmanLength, 7, 0x80);
        return huffmanEncode(text, scratch, pos);
      }
    }
    pos = this.writeInteger(pos, rawLength, 7, 0x00);
    return writeLatin1(text, scratch, pos);
  }
}
