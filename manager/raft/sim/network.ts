// The simulated network: per-message random loss, delay (hence reordering) and duplication, plus
// partitions as a set of blocked directed links, checked both at send and at delivery time.

import type { Message, RaftId } from '../types.js';
import type { EventQueue } from './events.js';
import type { Prng } from '../../../lib/prng.js';

export interface NetworkProfile {
  dropRate: number;
  duplicateRate: number;
  minDelay: number;
  maxDelay: number;
}

export class Network {
  private readonly blocked = new Set<string>();

  constructor(
    private readonly clock: EventQueue,
    private readonly rng: Prng,
    public profile: NetworkProfile,
    /** Hands a message to its recipient; returns false if nobody received it (recipient down). */
    private readonly deliver: (m: Message) => boolean,
    /** Tells the sender whether a snapshot it sent arrived (what a transport's stream would report). */
    private readonly snapshotOutcome: (m: Message, ok: boolean) => void,
  ) {}

  isBlocked(from: RaftId, to: RaftId): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  /** Cuts every link between the two groups, both ways. */
  partition(a: RaftId[], b: RaftId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.blockOneWay(x, y);
        this.blockOneWay(y, x);
      }
    }
  }

  blockOneWay(from: RaftId, to: RaftId): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(): void {
    this.blocked.clear();
  }

  send(m: Message): void {
    if (this.isBlocked(m.from, m.to) || this.rng.chance(this.profile.dropRate)) {
      this.fail(m);
      return;
    }
    const copies = this.rng.chance(this.profile.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.clock.schedule(this.rng.int(this.profile.minDelay, this.profile.maxDelay), () => {
        const ok = !this.isBlocked(m.from, m.to) && this.deliver(m);
        if (m.snapshot) this.snapshotOutcome(m, ok);
      });
    }
  }

  private fail(m: Message): void {
    if (!m.snapshot) return;
    // The sender's stream notices the failure a little later.
    this.clock.schedule(this.rng.int(this.profile.minDelay, this.profile.maxDelay), () =>
      this.snapshotOutcome(m, false),
    );
  }
}
