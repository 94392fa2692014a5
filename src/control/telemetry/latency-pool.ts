// Storage for the sparse latencies of the telemetry store's slots (sparse-latency.ts), carved out of a
// few large chunks instead of one ArrayBuffer per slot. A 2,000-proxy mesh makes ~46,000 new slots
// every 10 seconds, and each used to bring an ArrayBuffer, its backing store and two typed-array views:
// long-lived objects that every scavenge copied and promoted (the largest part of the controller's
// garbage collection while ingesting). A region is `capacity` entries at `offset` of a chunk's two
// arrays (indices and counts at the same places); regions given back are kept in lists by capacity
// and handed out again first, so a store at its steady state (slots folded, trimmed or dropped as
// new ones come) takes its new regions from those it gave back.

/** Entries per chunk: a chunk is 64 Ki × (2 + 8) bytes = 640 KiB, far above the largest region. */
export const CHUNK_ENTRIES = 65_536;

/** What takes a region: told where it is, so that taking one allocates no object. */
export interface RegionHolder {
  place(indices: Uint16Array, counts: Float64Array, chunk: number, offset: number): void;
}

export class LatencyPool {
  private readonly chunkIndices: Uint16Array[] = [];
  private readonly chunkCounts: Float64Array[] = [];
  /** Next free entry of the last chunk (CHUNK_ENTRIES: none yet). */
  private top = CHUNK_ENTRIES;
  /** Regions given back, by capacity: `chunk * CHUNK_ENTRIES + offset` (small integers, no objects). */
  private readonly free = new Map<number, number[]>();
  /** Entries given back and not yet taken again (for tests and describe). */
  spareEntries = 0;

  /** Chunks allocated so far. */
  get chunks(): number {
    return this.chunkIndices.length;
  }

  /** A region of `capacity` entries (1 to CHUNK_ENTRIES), told to `into`. Its contents are not cleared. */
  take(capacity: number, into: RegionHolder): void {
    if (!(capacity >= 1 && capacity <= CHUNK_ENTRIES)) throw new RangeError(`a latency region holds 1 to ${CHUNK_ENTRIES} entries, not ${capacity}`);
    const spare = this.free.get(capacity);
    if (spare !== undefined && spare.length > 0) {
      const at = spare.pop() as number;
      this.spareEntries -= capacity;
      const chunk = Math.floor(at / CHUNK_ENTRIES);
      into.place(this.chunkIndices[chunk] as Uint16Array, this.chunkCounts[chunk] as Float64Array, chunk, at - chunk * CHUNK_ENTRIES);
      return;
    }
    if (this.top + capacity > CHUNK_ENTRIES) {
      // The rest of the last chunk (less than one region) is left unused.
      this.chunkIndices.push(new Uint16Array(CHUNK_ENTRIES));
      this.chunkCounts.push(new Float64Array(CHUNK_ENTRIES));
      this.top = 0;
    }
    const chunk = this.chunkIndices.length - 1;
    const offset = this.top;
    this.top += capacity;
    into.place(this.chunkIndices[chunk] as Uint16Array, this.chunkCounts[chunk] as Float64Array, chunk, offset);
  }

  /** Gives back a region `take` handed out (its holder must no longer use it). */
  give(chunk: number, offset: number, capacity: number): void {
    if (!(chunk >= 0 && chunk < this.chunkIndices.length && offset >= 0 && offset + capacity <= CHUNK_ENTRIES)) throw new RangeError('giving back a latency region this pool did not hand out');
    let spare = this.free.get(capacity);
    if (spare === undefined) this.free.set(capacity, (spare = []));
    spare.push(chunk * CHUNK_ENTRIES + offset);
    this.spareEntries += capacity;
  }
}
