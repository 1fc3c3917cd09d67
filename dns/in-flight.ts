// The forwarder's bookkeeping, without sockets or timers: which upstream query id stands for which
// client query, until when, and how many may be outstanding at once. Ids are random (16 bits) and
// never reused while in flight, so a late or forged answer can only match a query that is still
// waiting, and then must also come from the right upstream with the same question (forwarder.ts).

export class InFlight<T> {
  private readonly entries = new Map<number, { value: T; deadline: number }>();

  constructor(
    /** At most this many queries wait for an upstream at once (capped to half the id space). */
    readonly max: number,
    private readonly randomId: () => number = () => Math.floor(Math.random() * 0x10000),
  ) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`invalid in-flight bound ${max}: at least 1`);
    this.max = Math.min(max, 0x8000);
  }

  get size(): number {
    return this.entries.size;
  }

  /** A fresh id for `value`, or undefined when `max` queries are already in flight. */
  add(value: T, deadline: number): number | undefined {
    if (this.entries.size >= this.max) return undefined;
    // At most half the ids are taken, so this ends after two draws on average.
    let id = this.randomId() & 0xffff;
    while (this.entries.has(id)) id = this.randomId() & 0xffff;
    this.entries.set(id, { value, deadline });
    return id;
  }

  get(id: number): T | undefined {
    return this.entries.get(id)?.value;
  }

  /** A new attempt of the same query (another upstream, or TCP): same id, new deadline. */
  setDeadline(id: number, deadline: number): void {
    const e = this.entries.get(id);
    if (e) e.deadline = deadline;
  }

  remove(id: number): T | undefined {
    const e = this.entries.get(id);
    this.entries.delete(id);
    return e?.value;
  }

  /** The entries whose deadline has passed (still in the table: the caller retries or removes them). */
  expired(now: number): { id: number; value: T }[] {
    const out: { id: number; value: T }[] = [];
    for (const [id, e] of this.entries) if (e.deadline <= now) out.push({ id, value: e.value });
    return out;
  }

  ids(): number[] {
    return [...this.entries.keys()];
  }
}
