// A stand-in for Raft in tests: one in-process log that commits every proposal at the next index and
// applies it, in log order, to every attached replica before settling the proposal. Controllers and
// the control API can test against a real Store with it; the store's own tests use it to race writers
// and to compare replicas.
import type { Proposer } from './store.js';

export interface Replica {
  applyCommitted(data: Uint8Array, index: number): unknown;
}

/**
 * - `sync`: a proposal is applied inside propose() (the simplest single-writer tests).
 * - `async`: proposals are applied in a later macrotask, so writers that started in the same turn race
 *   exactly as they would through Raft (both read, both propose, the second to commit conflicts).
 * - `manual`: nothing is applied until flush(); tests decide when commits land.
 */
export type DeliveryMode = 'sync' | 'async' | 'manual';

interface Proposal {
  index: number;
  data: Uint8Array;
  settle: () => void;
}

export class InMemoryLog implements Proposer {
  /** Every committed entry, in order (index = position + 1). */
  readonly entries: { index: number; data: Uint8Array }[] = [];
  private readonly replicas: Replica[] = [];
  private queued: Proposal[] = [];
  private scheduled = false;

  constructor(private readonly mode: DeliveryMode = 'async') {}

  /** Adds a replica and applies to it every entry already delivered, so it catches up like a follower. */
  attach(replica: Replica): void {
    this.replicas.push(replica);
    const delivered = this.entries.length - this.queued.length;
    for (const e of this.entries.slice(0, delivered)) replica.applyCommitted(e.data, e.index);
  }

  propose(data: Uint8Array): Promise<{ index: number }> {
    const index = this.entries.length + 1;
    // A private copy, as a real log would persist: later changes to the caller's buffer change nothing.
    const entry = { index, data: data.slice() };
    this.entries.push(entry);
    return new Promise((resolve) => {
      this.queued.push({ ...entry, settle: () => resolve({ index }) });
      if (this.mode === 'sync') this.flush();
      else if (this.mode === 'async' && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  /** Applies every queued proposal to every replica, in index order; returns how many were applied. */
  flush(): number {
    const batch = this.queued;
    this.queued = [];
    for (const p of batch) {
      for (const replica of this.replicas) replica.applyCommitted(p.data, p.index);
      p.settle();
    }
    return batch.length;
  }
}
