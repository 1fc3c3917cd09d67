// Callers waiting on the log: proposals (until their entry is applied) and reads (until the applied
// index reaches their read index). Each has a deadline; all are failed when the node stops.
import { ProposalDroppedError } from '../types.js';
import { RaftTimeoutError } from './errors.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** Log index of the proposal's entry, or the read's index; 0 until known. */
  index: number;
}

export interface ProposalResult {
  index: number;
  /** Whatever the state machine's apply returned for this entry. */
  result: unknown;
}

export class Waiters {
  private readonly proposals = new Map<number, Waiter<ProposalResult>>();
  /** Proposal seq by the log index its entry was appended at, to notice entries overwritten there. */
  private readonly proposalAt = new Map<number, number>();
  private readonly reads = new Map<number, Waiter<void>>();

  addProposal(seq: number, timeoutMs: number): Promise<ProposalResult> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.failProposal(seq, new RaftTimeoutError('proposal', timeoutMs)),
        timeoutMs,
      );
      this.proposals.set(seq, { resolve, reject, timer, index: 0 });
    });
  }

  /** The proposal's entry was appended to our log at `index` (we are, or were, its leader). */
  proposalAppended(seq: number, index: number): void {
    const w = this.proposals.get(seq);
    if (!w) return;
    if (w.index) this.proposalAt.delete(w.index);
    w.index = index;
    this.proposalAt.set(index, seq);
  }

  /**
   * An entry was applied at `index`. If it is our proposal `seq`, its caller gets the result; if some
   * other entry won that index, our proposal there was overwritten by a new leader and is gone.
   */
  applied(index: number, seq: number | undefined, result: unknown): void {
    const expected = this.proposalAt.get(index);
    if (expected !== undefined && expected !== seq) {
      this.failProposal(expected, new ProposalDroppedError(`entry at index ${index} was replaced`));
    }
    if (seq === undefined) return;
    const w = this.proposals.get(seq);
    if (!w) return;
    this.forgetProposal(seq, w);
    w.resolve({ index, result });
  }

  failProposal(seq: number, err: Error): void {
    const w = this.proposals.get(seq);
    if (!w) return;
    this.forgetProposal(seq, w);
    w.reject(err);
  }

  private forgetProposal(seq: number, w: Waiter<ProposalResult>): void {
    clearTimeout(w.timer);
    this.proposals.delete(seq);
    if (w.index && this.proposalAt.get(w.index) === seq) this.proposalAt.delete(w.index);
  }

  addRead(seq: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.failRead(seq, new RaftTimeoutError('read index', timeoutMs)),
        timeoutMs,
      );
      this.reads.set(seq, { resolve, reject, timer, index: 0 });
    });
  }

  /** The leader confirmed read `seq` at `index`; it completes once `applied` reaches it. */
  readConfirmed(seq: number, index: number, applied: number): void {
    const w = this.reads.get(seq);
    if (!w) return;
    w.index = index;
    if (applied >= index) this.finishRead(seq, w);
  }

  /** Completes the confirmed reads whose index has been applied. */
  appliedUpTo(applied: number): void {
    for (const [seq, w] of this.reads) if (w.index && w.index <= applied) this.finishRead(seq, w);
  }

  failRead(seq: number, err: Error): void {
    const w = this.reads.get(seq);
    if (!w) return;
    clearTimeout(w.timer);
    this.reads.delete(seq);
    w.reject(err);
  }

  private finishRead(seq: number, w: Waiter<void>): void {
    clearTimeout(w.timer);
    this.reads.delete(seq);
    w.resolve();
  }

  /**
   * Fails the reads not confirmed yet: the leader they went to (or this member, as leader) lost
   * its leadership, so no confirmation may come. A confirmed read stands: its index was current
   * when a leader proved it still led, so serving it once applied stays linearizable.
   */
  failUnconfirmedReads(err: Error): void {
    for (const [seq, w] of [...this.reads]) if (!w.index) this.failRead(seq, err);
  }

  /** Fails every pending proposal (reads are left to their own rules). */
  failProposals(err: Error): void {
    for (const seq of [...this.proposals.keys()]) this.failProposal(seq, err);
  }

  failAll(err: Error): void {
    for (const seq of [...this.proposals.keys()]) this.failProposal(seq, err);
    for (const seq of [...this.reads.keys()]) this.failRead(seq, err);
  }

  get pendingProposals(): number {
    return this.proposals.size;
  }
}
