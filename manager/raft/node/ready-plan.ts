// What the shell does with one Ready, decided without I/O: which of its messages may leave before its
// write, what is written, and whether the write must be waited for. RaftNode (through ReadyWriter)
// and the simulation's shell model (sim/shell.ts) both follow these decisions, so the simulation
// judges the shell's actual rules, not a copy of them.

import { EntryType, type HardState, type RaftId, type Ready } from '../types.js';
import type { PersistBatch } from './storage.js';

export interface ReadyPlan {
  /**
   * Send the Ready's messages before its write completes. Only a leader's, and only when the Ready
   * moves neither term nor vote and installs no snapshot: the core counts the leader's own copy of
   * new entries only once advance() reports them durable (core/README.md), so the commit index its
   * AppendEntries carry never rests on an unwritten copy; a new term or vote must be durable before
   * anything that depends on it leaves. Followers' messages promise their writes, so they wait.
   */
  sendEarly: boolean;
  /** The storage write, if any. */
  batch: PersistBatch | undefined;
  /** fsync the write (the core's mustSync). */
  sync: boolean;
  /** Apply, send (unless early) and advance only once the write completes. */
  wait: boolean;
}

export class ReadyPlanner {
  /** Term and vote as last handed to storage; a Ready changing them must be durable before sending. */
  private persistedTerm: number;
  private persistedVote: RaftId;
  /** A commit-index-only hard state not yet written (see plan). */
  private deferred: HardState | undefined;

  constructor(initial: HardState) {
    this.persistedTerm = initial.term;
    this.persistedVote = initial.vote;
  }

  /** True when the Ready moves the term or the vote, which no message may get ahead of. */
  changesTermOrVote(rd: Ready): boolean {
    const hs = rd.hardState;
    return hs !== undefined && (hs.term !== this.persistedTerm || hs.vote !== this.persistedVote);
  }

  /**
   * Plans one Ready. A Ready whose only change is the commit index is not written by itself: the
   * commit index is volatile in Raft (a restarted member re-learns it from the leader), so it rides
   * along with the next write, or is written at the next tick (takeDeferred), or before a snapshot.
   */
  plan(rd: Ready, isLeader: boolean): ReadyPlan {
    // A commit index covering a membership change is made durable before anyone can learn it from us.
    // Otherwise a leader could tell the member it removes (which then shuts down) and crash before
    // storing it: restarted in the old configuration, it would wait for the gone member's vote forever
    // (the two-voter case the simulation found).
    const commitsConfChange = rd.committedEntries.some((e) => e.type === EntryType.ConfChange);
    if (commitsConfChange && rd.hardState) {
      const hardState = rd.hardState;
      this.deferred = undefined;
      this.persistedTerm = hardState.term;
      this.persistedVote = hardState.vote;
      const batch: PersistBatch = { hardState, entries: rd.entries, snapshot: rd.snapshot };
      return { sendEarly: false, batch, sync: true, wait: true };
    }
    const sendEarly = isLeader && !rd.snapshot && !this.changesTermOrVote(rd);
    const commitOnly = rd.hardState !== undefined && !rd.mustSync && rd.entries.length === 0 && !rd.snapshot;
    if (commitOnly) {
      this.deferred = rd.hardState;
      return { sendEarly, batch: undefined, sync: false, wait: false };
    }
    if (!rd.hardState && rd.entries.length === 0 && !rd.snapshot) {
      return { sendEarly, batch: undefined, sync: false, wait: false };
    }
    const hardState = rd.hardState ?? this.deferred;
    this.deferred = undefined;
    if (hardState) {
      this.persistedTerm = hardState.term;
      this.persistedVote = hardState.vote;
    }
    const batch: PersistBatch = { hardState, entries: rd.entries, snapshot: rd.snapshot };
    return { sendEarly, batch, sync: rd.mustSync, wait: rd.mustSync || rd.snapshot !== undefined };
  }

  /** The deferred commit-index-only hard state, to be written now (unsynced); cleared. */
  takeDeferred(): HardState | undefined {
    const hs = this.deferred;
    this.deferred = undefined;
    return hs;
  }
}
