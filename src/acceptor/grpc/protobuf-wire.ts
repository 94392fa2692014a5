// The protobuf wire format (https://protobuf.dev/programming-guides/encoding/), just what the proxy's
// control-plane messages need: varints, fixed32/64, floats, length-delimited fields, and skipping unknown
// fields of every wire type (groups included), so a controller newer than us costs nothing. Loading
// protobufjs in every meshed proxy cost ~11 MB of memory for these few dozen lines of work.
// 64-bit values travel as bigint here; the schema layer turns them into what callers expect. Pure.

export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** Deeper nesting (sub-messages, groups) than this is refused: no real message comes near it. */
export const MAX_NESTING = 64;

export class ProtoDecodeError extends Error {
  override name = 'ProtoDecodeError';
}

/** Reads one message's bytes (or a sub-message's: `end` bounds it). */
export class ProtoReader {
  readonly buf: Buffer;
  pos: number;
  readonly end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's tag: field number `tag >>> 3`, wire type `tag & 7`. */
  tag(): number {
    const tag = this.varint32();
    if (tag >>> 3 === 0) throw new ProtoDecodeError(`field number 0 at byte ${this.pos}`);
    return tag;
  }

  /** A varint's low 32 bits, unsigned (uint32; `| 0` makes it int32). Longer varints are read whole. */
  varint32(): number {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      const byte = this.buf[this.pos++] as number;
      if (shift < 28) value |= (byte & 0x7f) << shift;
      else if (shift === 28) value |= (byte & 0x0f) << 28;
      if (byte < 0x80) return value >>> 0;
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  /** A varint as an unsigned 64-bit value. */
  varint64(): bigint {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtoDecodeError('truncated varint');
      const byte = this.buf[this.pos++] as number;
      const bits = byte & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if (byte < 0x80) return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    }
    throw new ProtoDecodeError('varint longer than 10 bytes');
  }

  fixed32(): number {
    this.need(4);
    const value = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return value;
  }

  fixed64(): bigint {
    this.need(8);
    const value = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return value;
  }

  float(): number {
    this.need(4);
    const value = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return value;
  }

  double(): number {
    this.need(8);
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** A length-delimited field's bytes: a view into the message, not a copy. */
  bytes(): Buffer {
    const length = this.varint32();
    this.need(length);
    const start = this.pos;
    this.pos += length;
    return this.buf.subarray(start, this.pos);
  }

  string(): string {
    const length = this.varint32();
    this.need(length);
    const start = this.pos;
    this.pos += length;
    return this.buf.toString('utf8', start, this.pos);
  }

  /** A reader over the next length-delimited field (a sub-message or a packed run); skips past it here. */
  sub(): ProtoReader {
    const length = this.varint32();
    this.need(length);
    const reader = new ProtoReader(this.buf, this.pos, this.pos + length);
    this.pos += length;
    return reader;
  }

  /** Skips the value of a field we do not know (its tag already read). */
  skip(tag: number, depth = 0): void {
    switch (tag & 7) {
      case WireType.VARINT:
        this.varint32();
        return;
      case WireType.I64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.LEN: {
        const length = this.varint32();
        this.need(length);
        this.pos += length;
        return;
      }
      case WireType.I32:
        this.need(4);
        this.pos += 4;
        return;
      case WireType.SGROUP: {
        // Deprecated groups: everything up to the END_GROUP of the same field number.
        if (depth >= MAX_NESTING) throw new ProtoDecodeError('groups nested too deeply');
        for (;;) {
          if (this.done()) throw new ProtoDecodeError(`group ${tag >>> 3} not ended`);
          const inner = this.tag();
          if ((inner & 7) === WireType.EGROUP) {
            if (inner >>> 3 !== tag >>> 3) throw new ProtoDecodeError(`group ${tag >>> 3} ended by ${inner >>> 3}`);
            return;
          }
          this.skip(inner, depth + 1);
        }
      }
      default:
        throw new ProtoDecodeError(`wire type ${tag & 7} of field ${tag >>> 3} is not valid here`);
    }
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new ProtoDecodeError(`truncated: ${n} bytes wanted at byte ${this.pos}, ${this.end - this.pos} left`);
  }
}

/** Builds one message in a growing buffer; sub-messages are written in place and prefixed with their length afterwards. */
export class ProtoWriter {
  private buf: Buffer;
  private len = 0;

  /** `initialSize`: bytes to start with (a caller that knows about how large its message is grows nothing). */
  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialSize));
  }

  tag(field: number, wireType: number): void {
    this.varint32((field << 3) | wireType);
  }

  /** An unsigned 32-bit varint (uint32, enum values, lengths, tags). */
  varint32(value: number): void {
    this.room(5);
    let v = value >>> 0;
    while (v > 0x7f) {
      this.buf[this.len++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.len++] = v;
  }

  /** int32: negatives are sign-extended to ten bytes, as the format requires. */
  int32(value: number): void {
    if (value >= 0) this.varint32(value);
    else this.varint64(BigInt.asUintN(64, BigInt(value | 0)));
  }

  /** An unsigned 64-bit varint (callers wrap signed values with BigInt.asUintN(64, …)). */
  varint64(value: bigint): void {
    if (value < 0x80000000n) return this.varint32(Number(value));
    this.room(10);
    let v = value;
    while (v > 0x7fn) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  fixed32(value: number): void {
    this.room(4);
    this.buf.writeUInt32LE(value >>> 0, this.len);
    this.len += 4;
  }

  fixed64(value: bigint): void {
    this.room(8);
    this.buf.writeBigUInt64LE(value, this.len);
    this.len += 8;
  }

  float(value: number): void {
    this.room(4);
    this.buf.writeFloatLE(value, this.len);
    this.len += 4;
  }

  double(value: number): void {
    this.room(8);
    this.buf.writeDoubleLE(value, this.len);
    this.len += 8;
  }

  bytes(value: Uint8Array): void {
    this.varint32(value.length);
    this.room(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
  }

  string(value: string): void {
    const length = Buffer.byteLength(value, 'utf8');
    this.varint32(length);
    this.room(length);
    this.len += this.buf.write(value, this.len, length, 'utf8');
  }

  /**
   * Starts a length-delimited value (sub-message, packed run, map entry); `join` closes it. A byte is
   * kept for its length, which is all most values need: only a value of 128 bytes or more is moved.
   */
  fork(): number {
    this.room(1);
    return this.len++;
  }

  /** Closes what `fork` started: writes its length in the byte kept for it, moving the value up when the length needs more. */
  join(start: number): void {
    const length = this.len - start - 1;
    if (length < 0x80) {
      this.buf[start] = length;
      return;
    }
    let size = 1;
    while (length >>> (7 * size) !== 0 && size < 5) size++;
    this.room(size - 1);
    this.buf.copyWithin(start + size, start + 1, this.len);
    const end = this.len + size - 1;
    this.len = start;
    this.varint32(length);
    this.len = end;
  }

  /** The message: a copy sized to fit (the working buffer is reused by nothing, but may be large). */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }
}

/** A 64-bit value (number, decimal string or bigint) as the unsigned 64 bits it is written with. */
export function toUint64Bits(value: number | string | bigint): bigint {
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`not a 64-bit integer: ${value}`);
    return BigInt.asUintN(64, BigInt(Math.trunc(value)));
  }
  if (!/^-?\d+$/.test(value)) throw new RangeError(`not a 64-bit integer: ${JSON.stringify(value)}`);
  return BigInt.asUintN(64, BigInt(value));
}
