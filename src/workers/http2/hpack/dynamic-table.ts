// The HPACK dynamic table (RFC 7541 §2.3.2, §4): newest entry first, sized by the RFC's accounting
// (name octets + value octets + 32), oldest entries evicted to stay within the maximum size. A ring
// buffer of parallel name/value arrays, so adding and evicting never shift or allocate per entry.
// Names and values are latin1 strings: one char per octet, so `length` is the octet count.

/** Bytes the RFC adds to each entry for its bookkeeping (RFC 7541 §4.1). */
export const ENTRY_OVERHEAD = 32;

/** Called for each entry evicted, oldest first; `seq` is its insertion number (see `insertCount`). */
export type EvictionListener = (name: string, value: string, seq: number) => void;

export class DynamicTable {
  /** Sum of entry sizes, ≤ maxSize. */
  size = 0;
  /** Number of entries. */
  length = 0;
  /** Entries ever inserted: the newest has seq `insertCount - 1`, the oldest `insertCount - length`. */
  insertCount = 0;
  private max: number;
  private names: string[];
  private values: string[];
  /** Ring slot of the oldest entry; capacity is a power of two so wrapping is a mask. */
  private oldestSlot = 0;
  private mask: number;
  private readonly onEvict: EvictionListener | null;

  constructor(maxSize: number, onEvict: EvictionListener | null = null) {
    this.max = maxSize;
    this.onEvict = onEvict;
    this.names = new Array<string>(16).fill('');
    this.values = new Array<string>(16).fill('');
    this.mask = 15;
  }

  get maxSize(): number {
    return this.max;
  }

  /** Name of entry `i`, 0 being the newest (HPACK index 62 + i). `i` must be < length. */
  name(i: number): string {
    return this.names[(this.oldestSlot + this.length - 1 - i) & this.mask]!;
  }

  /** Value of entry `i`, 0 being the newest. `i` must be < length. */
  value(i: number): string {
    return this.values[(this.oldestSlot + this.length - 1 - i) & this.mask]!;
  }

  /** Entry number (0 = newest) of the entry inserted as `seq`; only meaningful if `holdsSeq(seq)`. */
  indexOfSeq(seq: number): number {
    return this.insertCount - 1 - seq;
  }

  /** Whether the entry inserted as `seq` is still in the table. */
  holdsSeq(seq: number): boolean {
    return seq >= this.insertCount - this.length;
  }

  /**
   * Adds a field as the newest entry, evicting the oldest ones as needed. A field larger than the
   * whole table empties it and is not added (RFC 7541 §4.4).
   */
  add(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.max) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.max - entrySize);
    if (this.length > this.mask) this.grow();
    const slot = (this.oldestSlot + this.length) & this.mask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.length++;
    this.size += entrySize;
    this.insertCount++;
  }

  /** Applies a new maximum size (a size update in a block, or a new SETTINGS limit). */
  setMaxSize(maxSize: number): void {
    this.max = maxSize;
    this.evictTo(maxSize);
  }

  private evictTo(targetSize: number): void {
    while (this.size > targetSize) {
      const slot = this.oldestSlot;
      const name = this.names[slot]!;
      const value = this.values[slot]!;
      const seq = this.insertCount - this.length;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
      // Drop the references so evicted strings can be collected.
      this.names[slot] = '';
      this.values[slot] = '';
      this.oldestSlot = (slot + 1) & this.mask;
      this.length--;
      if (this.onEvict !== null) this.onEvict(name, value, seq);
    }
  }

  /** Doubles the ring, unrolling it so the oldest entry lands in slot 0. */
  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const names = new Array<string>(capacity).fill('');
    const values = new Array<string>(capacity).fill('');
    for (let i = 0; i < this.length; i++) {
      const slot = (this.oldestSlot + i) & this.mask;
      names[i] = this.names[slot]!;
      values[i] = this.values[slot]!;
    }
    this.names = names;
    this.values = values;
    this.oldestSlot = 0;
    this.mask = capacity - 1;
  }
}
