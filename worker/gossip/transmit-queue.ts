// Transmit-limited broadcast queue: the piggyback dissemination of SWIM (and of networkdb's table
// events). Each item is sent on up to `limit` outgoing packets; items sent fewer times go first so a
// fresh update reaches the cluster before old ones are repeated. An item with the same key as a
// queued one replaces it: newer news about the same node (or table entry) makes the older obsolete.

interface Queued<M> {
  msg: M;
  size: number;
  transmits: number;
  /** Insertion order: among equally transmitted items, newer ones go first. */
  order: number;
}

export class TransmitQueue<M> {
  private readonly items = new Map<string, Queued<M>>();
  private counter = 0;

  get length(): number {
    return this.items.size;
  }

  enqueue(key: string, msg: M, size: number): void {
    this.items.set(key, { msg, size, transmits: 0, order: this.counter++ });
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  /** Drops everything queued (a node that left a network stops spreading its events). */
  clear(): void {
    this.items.clear();
  }

  /**
   * Takes messages whose sizes fit in `budget` bytes, counting one transmission each and forgetting
   * those sent `limit` times. `overhead` is added per message (framing in the packet).
   */
  take(budget: number, limit: number, overhead = 1, allowOversize = false): M[] {
    if (this.items.size === 0 || budget <= 0) return [];
    const ordered = [...this.items.entries()].sort(
      ([, a], [, b]) => a.transmits - b.transmits || b.order - a.order,
    );
    const out: M[] = [];
    let used = 0;
    for (const [key, q] of ordered) {
      // An item larger than a whole packet may go alone in a dedicated packet (allowOversize),
      // or it would never leave the queue.
      const alone = allowOversize && out.length === 0 && q.size + overhead > budget;
      if (used + q.size + overhead > budget && !alone) continue;
      used += q.size + overhead;
      out.push(q.msg);
      q.transmits++;
      if (q.transmits >= limit) this.items.delete(key);
      if (alone) break;
    }
    return out;
  }
}

/** memberlist's retransmit limit: mult * ceil(log10(n + 1)), so dissemination grows with log n. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}

/** Encoded size of a message as JSON (what the codec sends), used to fill packets to a budget. */
export function jsonSize(msg: unknown): number {
  return Buffer.byteLength(JSON.stringify(msg));
}
