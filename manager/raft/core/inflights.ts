// Inflights: the flow-control window of one follower in Replicate state. Each AppendEntries in flight
// is remembered by the index of its last entry; an acknowledgement frees every message up to it.

export class Inflights {
  private readonly ring: number[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new Error('raft: inflight capacity must be at least 1');
    this.ring = new Array<number>(capacity).fill(0);
  }

  get count(): number {
    return this.size;
  }

  full(): boolean {
    return this.size === this.capacity;
  }

  /** Records a message whose last entry is `lastIndex`; indices must grow. */
  add(lastIndex: number): void {
    if (this.full()) throw new Error('raft: cannot add to a full inflight window');
    if (this.size > 0) {
      const newest = this.ring[(this.start + this.size - 1) % this.capacity];
      if (lastIndex <= newest) throw new Error(`raft: inflight ${lastIndex} does not follow ${newest}`);
    }
    this.ring[(this.start + this.size) % this.capacity] = lastIndex;
    this.size++;
  }

  /** Frees every message whose last entry is <= index (the follower acknowledged up to index). */
  freeLE(index: number): void {
    while (this.size > 0 && this.ring[this.start] <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
    if (this.size === 0) this.start = 0;
  }

  /** Frees the oldest message (its acknowledgement is presumed lost). */
  freeFirst(): void {
    if (this.size === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.size--;
    if (this.size === 0) this.start = 0;
  }

  reset(): void {
    this.start = 0;
    this.size = 0;
  }
}
