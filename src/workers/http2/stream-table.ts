// A connection's open streams by id. Every proxied request adds one stream and deletes it soon after;
// in a JS Map that churn rehashes the table every so many streams, and as the table belongs to a
// long-lived connection each new one outlives a scavenge and is promoted, then dropped: old-generation
// garbage at a steady rate under load (heap sampler: ~250 B per request in Map set/delete). Here the
// slots are allocated once and only ever grow: open addressing with linear probing, keyed by id / 2
// (a peer's ids are consecutive odd or even numbers, so they land in consecutive slots), and deletion by
// backward shift, so no tombstones pile up.
import type { H2Stream } from './stream.ts';

const INITIAL_SLOTS = 16;

export class StreamTable {
  /** Stream id per slot; 0 (never a stream's id) is an empty slot. */
  private ids = new Int32Array(INITIAL_SLOTS);
  private streams: Array<H2Stream | undefined> = new Array<H2Stream | undefined>(INITIAL_SLOTS).fill(undefined);
  private mask = INITIAL_SLOTS - 1;
  size = 0;

  get(id: number): H2Stream | undefined {
    const ids = this.ids;
    const mask = this.mask;
    for (let i = (id >>> 1) & mask; ; i = (i + 1) & mask) {
      const at = ids[i]!;
      if (at === id) return this.streams[i];
      if (at === 0) return undefined;
    }
  }

  /** Adds or replaces the stream under `id` (> 0). */
  set(id: number, stream: H2Stream): void {
    if ((this.size + 1) * 2 > this.ids.length) this.resize(this.ids.length * 2);
    const ids = this.ids;
    const mask = this.mask;
    let i = (id >>> 1) & mask;
    while (ids[i] !== 0 && ids[i] !== id) i = (i + 1) & mask;
    if (ids[i] === 0) this.size++;
    ids[i] = id;
    this.streams[i] = stream;
  }

  delete(id: number): boolean {
    const ids = this.ids;
    const mask = this.mask;
    let hole = (id >>> 1) & mask;
    while (ids[hole] !== id) {
      if (ids[hole] === 0) return false;
      hole = (hole + 1) & mask;
    }
    // Backward shift: later entries of the same probe run move up into the hole, so that every entry
    // stays reachable from its home slot without a tombstone.
    for (let j = (hole + 1) & mask; ids[j] !== 0; j = (j + 1) & mask) {
      const home = (ids[j]! >>> 1) & mask;
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      ids[hole] = ids[j]!;
      this.streams[hole] = this.streams[j];
      hole = j;
    }
    ids[hole] = 0;
    this.streams[hole] = undefined;
    this.size--;
    return true;
  }

  /** The open streams, as a new array: callers may delete while they walk it (rare paths only). */
  values(): H2Stream[] {
    const out: H2Stream[] = [];
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] !== 0) out.push(this.streams[i]!);
    return out;
  }

  private resize(slots: number): void {
    const oldIds = this.ids;
    const oldStreams = this.streams;
    this.ids = new Int32Array(slots);
    this.streams = new Array<H2Stream | undefined>(slots).fill(undefined);
    this.mask = slots - 1;
    this.size = 0;
    for (let i = 0; i < oldIds.length; i++) if (oldIds[i] !== 0) this.set(oldIds[i]!, oldStreams[i]!);
  }
}
