// The protobuf wire reading under report-decode.ts: a cursor over a report's bytes (varints, spans,
// strings, packed uint32s, skipping unknown fields by wire type) and the caches that let the
// controller decode a series' description once and share it between reports. Malformed bytes throw.
import { DecodeCache } from './decode-cache.ts';
import type { EosCtx, ProcessInfo, RequestCtx } from '../../api/telemetry-messages.ts';

/** Decoded parts shared between reports (the controller keeps one set for its life). */
export class ReportDecodeCaches {
  readonly process = new DecodeCache<ProcessInfo>(1024 * 1024, 50_000);
  readonly requestCtx = new DecodeCache<RequestCtx>(16 * 1024 * 1024, 200_000);
  readonly responseCtx = new DecodeCache<{ http_status_code?: number }>(64 * 1024, 2_000);
  readonly eosCtx = new DecodeCache<EosCtx>(256 * 1024, 10_000);
  /** Label entries ([key, value]) and the strings of transports and report headers. */
  readonly labelEntry = new DecodeCache<readonly [string, string]>(4 * 1024 * 1024, 100_000);
  readonly string = new DecodeCache<string>(4 * 1024 * 1024, 100_000);
  readonly bounds = new DecodeCache<number[]>(64 * 1024, 100);
}

/** Frozen all the way down: a cached value is shared by every report that carries its bytes. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const TWO_32 = 0x1_0000_0000;

export class Reader {
  readonly buf: Buffer;
  pos: number;
  end: number;
  readonly caches: ReportDecodeCaches | undefined;

  constructor(buf: Buffer, pos: number, end: number, caches: ReportDecodeCaches | undefined) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.caches = caches;
  }

  /** A varint as a number (exact below 2^53, as the loader's `longs: Number`). */
  varint(): number {
    const buf = this.buf;
    if (this.pos >= this.end) throw new Error('truncated varint');
    let byte = buf[this.pos++] as number;
    if (byte < 0x80) return byte;
    let value = byte & 0x7f;
    let scale = 0x80;
    for (let n = 1; n < 10; n++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      byte = buf[this.pos++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new Error('varint longer than 10 bytes');
  }

  /** A uint32 field: the low 32 bits of the varint, as protobuf readers do. */
  uint32(): number {
    const v = this.varint();
    return v < TWO_32 ? v : v % TWO_32;
  }

  /** Start and end of a length-delimited field's bytes; moves past them. */
  span(): number {
    const length = this.varint();
    const start = this.pos;
    if (length > this.end - start) throw new Error('length-delimited field past the end of its message');
    this.pos = start + length;
    return start;
  }

  string(): string {
    const start = this.span();
    return this.buf.toString('utf8', start, this.pos);
  }

  /** A string field that repeats from report to report (labels, names): from the cache when there is one. */
  sharedString(): string {
    const start = this.span();
    const end = this.pos;
    if (this.caches === undefined) return this.buf.toString('utf8', start, end);
    const cache = this.caches.string;
    return cache.find(this.buf, start, end) ?? cache.add(this.buf, start, end, this.buf.toString('utf8', start, end));
  }

  sub(): Reader {
    const start = this.span();
    return new Reader(this.buf, start, this.pos, this.caches);
  }

  /**
   * The next length-delimited field decoded by `decode`, or, with caches, the shared frozen value an
   * earlier report's identical bytes gave.
   */
  cached<T>(pick: (caches: ReportDecodeCaches) => DecodeCache<T>, decode: (r: Reader) => T): T {
    const start = this.span();
    const end = this.pos;
    const caches = this.caches;
    if (caches === undefined) return decode(new Reader(this.buf, start, end, undefined));
    const cache = pick(caches);
    const hit = cache.find(this.buf, start, end);
    if (hit !== undefined) return hit;
    return cache.add(this.buf, start, end, deepFreeze(decode(new Reader(this.buf, start, end, caches))));
  }

  fixed32(): number {
    if (this.end - this.pos < 4) throw new Error('truncated fixed32');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  fixed64(): number {
    if (this.end - this.pos < 8) throw new Error('truncated fixed64');
    const v = this.buf.readUInt32LE(this.pos) + this.buf.readUInt32LE(this.pos + 4) * TWO_32;
    this.pos += 8;
    return v;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new Error('field past the end of its message');
  }

  /** Packed or unpacked repeated uint32 into `into`. */
  uint32s(wire: number, into: number[]): void {
    if (wire !== 2) {
      into.push(this.uint32());
      return;
    }
    const start = this.span();
    const stop = this.pos;
    this.pos = start;
    const outer = this.end;
    this.end = stop;
    while (this.pos < stop) into.push(this.uint32());
    this.end = outer;
  }
}
