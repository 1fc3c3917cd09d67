// The in-memory tail of the log: the contiguous entries [start, start + length). The storage keeps it
// ending at the log's last index, so the hot reads (a leader sending recent entries, term() checks near
// the tail) never touch LMDB. Entries not yet committed to LMDB must stay here; the storage tells
// trim() how far the front may be dropped.

import type { Entry } from '../types.js';

/** Bytes an entry is accounted for: its payload plus a rough per-object overhead. */
export function entryCost(e: Entry): number {
  return e.data.byteLength + 48;
}

export class LogTailCache {
  private ents: Entry[] = [];
  private head = 0; // ents[head] is the entry at `start`; dropping from the front just moves head
  private startIndex: number;
  private bytes = 0;

  constructor(start: number) {
    this.startIndex = start;
  }

  /** Index of the first cached entry (lastIndex + 1 when empty). */
  get start(): number {
    return this.startIndex;
  }

  get length(): number {
    return this.ents.length - this.head;
  }

  get size(): number {
    return this.bytes;
  }

  get(index: number): Entry | undefined {
    if (index < this.startIndex) return undefined;
    return this.ents[this.head + index - this.startIndex];
  }

  /** Entries [lo, hi); lo must be >= start and hi <= start + length. */
  slice(lo: number, hi: number): Entry[] {
    const from = this.head + lo - this.startIndex;
    return this.ents.slice(from, from + (hi - lo));
  }

  /**
   * Appends contiguous entries, first replacing everything from ents[0].index on. If that index is below
   * start, the cache restarts there (the older entries are durable in LMDB). It must not leave a gap.
   */
  append(ents: Entry[]): void {
    if (ents.length === 0) return;
    const first = ents[0].index;
    const end = this.startIndex + this.length;
    if (first > end) throw new Error(`log cache: append at ${first} leaves a gap after ${end - 1}`);
    if (first <= this.startIndex) {
      this.reset(first);
    } else if (first < end) {
      const keep = this.head + first - this.startIndex;
      for (let i = keep; i < this.ents.length; i++) this.bytes -= entryCost(this.ents[i]);
      this.ents.length = keep;
    }
    for (const e of ents) {
      this.ents.push(e);
      this.bytes += entryCost(e);
    }
  }

  /** Empties the cache; the next entry expected is `start`. */
  reset(start: number): void {
    this.ents = [];
    this.head = 0;
    this.bytes = 0;
    this.startIndex = start;
  }

  /** Drops entries below `index` (compaction). */
  dropBefore(index: number): void {
    while (this.length > 0 && this.startIndex < index) this.shift();
    if (this.length === 0 && this.startIndex < index) this.startIndex = index;
  }

  /**
   * Drops entries from the front while the cache holds more than maxEntries or maxBytes, but never an
   * entry above `droppableThrough` (those are not yet readable from LMDB).
   */
  trim(maxEntries: number, maxBytes: number, droppableThrough: number): void {
    while (
      this.length > 0 &&
      this.startIndex <= droppableThrough &&
      (this.length > maxEntries || this.bytes > maxBytes)
    ) {
      this.shift();
    }
  }

  private shift(): void {
    this.bytes -= entryCost(this.ents[this.head]);
    this.ents[this.head] = undefined as unknown as Entry;
    this.head++;
    this.startIndex++;
    // Compact the backing array now and then so dropped slots do not pile up.
    if (this.head > 1024 && this.head * 2 > this.ents.length) {
      this.ents = this.ents.slice(this.head);
      this.head = 0;
    }
  }
}
