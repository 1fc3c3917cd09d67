// A binary min-heap whose top can be re-sifted after its key grew: the scheduler places a task on the
// least loaded node, which makes that node heavier, and nothing else in the heap moves.

export class MinHeap<T> {
  /** Takes ownership of `items` (it becomes the heap's storage). */
  constructor(
    private readonly items: T[],
    private readonly less: (a: T, b: T) => boolean,
  ) {
    // Floyd's bottom-up build: O(n) rather than n pushes.
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  pop(): T | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (this.items.length > 0 && last !== undefined) {
      this.items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Restores order after the top item's key increased (it may only move down). */
  topIncreased(): void {
    this.siftDown(0);
  }

  private siftDown(i: number): void {
    const items = this.items;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const child = r < n && this.less(items[r]!, items[l]!) ? r : l;
      if (!this.less(items[child]!, items[i]!)) return;
      [items[i], items[child]] = [items[child]!, items[i]!];
      i = child;
    }
  }
}
