// Decoded sub-messages of telemetry reports, by their bytes. A proxy describes the same series with the
// same bytes in every report (its labels do not change between reports), so the controller decodes
// each distinct `RequestCtx` or end-of-stream context once and hands out the same frozen object for
// every later report that carries those bytes: no strings, label maps or objects are built for them
// again. Allocating those (~250 strings and ~100 objects per proxy and interval at 2,000 proxies) was
// most of what made ingestion's garbage collection cost as much as the ingestion itself
// (docs/performance.md).
//
// The bytes of every cached entry are kept in one arena (a single allocation, compared with
// Buffer#compare); when the arena or the entry count is full, the cache starts again empty. Values
// handed out earlier stay valid (they are only objects): the cache only forgets them.

/** FNV-1a of `buf[start, end)`, to 30 bits (a small integer: no heap number per lookup). */
export function hashBytes(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  return h & 0x3fffffff;
}

interface Entry<T> {
  readonly offset: number;
  readonly length: number;
  readonly value: T;
  /** Another entry with the same hash. */
  readonly next: Entry<T> | undefined;
}

/**
 * Whether two byte ranges are equal. A loop here rather than Buffer#compare: contexts are ~100–200
 * bytes, and the native call's own cost was larger than the comparison.
 */
function sameBytes(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

export class DecodeCache<T> {
  private arena: Buffer;
  private used = 0;
  private readonly entries = new Map<number, Entry<T>>();
  private readonly maxEntries: number;
  /** Times the cache was full and started again: for tests and metrics. */
  resets = 0;

  constructor(arenaBytes = 8 * 1024 * 1024, maxEntries = 200_000) {
    this.arena = Buffer.allocUnsafe(arenaBytes);
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value cached for the bytes `buf[start, end)`, undefined when they were not seen (then `add` it). */
  find(buf: Buffer, start: number, end: number): T | undefined {
    const length = end - start;
    const hash = hashBytes(buf, start, end);
    for (let entry = this.entries.get(hash); entry !== undefined; entry = entry.next) {
      if (entry.length === length && sameBytes(buf, start, this.arena, entry.offset, length)) return entry.value;
    }
    return undefined;
  }

  /** Remembers `value` for `buf[start, end)` (which `find` did not find); returns it. */
  add(buf: Buffer, start: number, end: number, value: T): T {
    const length = end - start;
    // Too large for the arena at all: decoded every time (no proxy sends such a context).
    if (length > this.arena.length >>> 4) return value;
    const hash = hashBytes(buf, start, end);
    if (this.used + length > this.arena.length || this.entries.size >= this.maxEntries) {
      this.entries.clear();
      this.used = 0;
      this.resets++;
    }
    const offset = this.used;
    buf.copy(this.arena, offset, start, end);
    this.used += length;
    this.entries.set(hash, { offset, length, value, next: this.entries.get(hash) });
    return value;
  }
}
