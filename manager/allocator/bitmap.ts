// A fixed-size set of small integers with "lowest free" in amortized O(1) for sequential use: the
// allocator's address pools are bitmaps over their ip-range, so allocating an address never scans
// the tasks, and a released address is found again by the next lowest-free search.

export class Bitmap {
  private readonly words: Uint32Array;
  private used = 0;
  /** No word below this index has a free bit: lowest-free starts its search here. */
  private firstMaybeFree = 0;

  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
    // Bits past `size` in the last word are marked used so a search never returns them.
    for (let i = size; i < this.words.length * 32; i++) this.words[i >>> 5] |= 1 << (i & 31);
  }

  get count(): number {
    return this.used;
  }

  get free(): number {
    return this.size - this.used;
  }

  has(i: number): boolean {
    return (this.words[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  /** Marks `i` used; false if it already was. */
  set(i: number): boolean {
    if (i < 0 || i >= this.size || this.has(i)) return false;
    this.words[i >>> 5] |= 1 << (i & 31);
    this.used++;
    return true;
  }

  /** Marks `i` free; false if it already was. */
  clear(i: number): boolean {
    if (i < 0 || i >= this.size || !this.has(i)) return false;
    this.words[i >>> 5] &= ~(1 << (i & 31));
    this.used--;
    if (i >>> 5 < this.firstMaybeFree) this.firstMaybeFree = i >>> 5;
    return true;
  }

  /** The lowest unused integer, or -1 when all are used. Does not mark it. */
  lowestFree(): number {
    for (let w = this.firstMaybeFree; w < this.words.length; w++) {
      const word = this.words[w];
      if (word === 0xffffffff) continue;
      this.firstMaybeFree = w;
      // The lowest zero bit of `word` is the lowest set bit of ~word.
      const inverted = ~word >>> 0;
      return w * 32 + (31 - Math.clz32(inverted & -inverted));
    }
    this.firstMaybeFree = this.words.length;
    return -1;
  }
}
