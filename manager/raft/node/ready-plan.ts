// What the shell does with one Ready, decided without I/O: whether its messages wait for its write,
// what is written, and whether the loop waits for the write before taking the next Ready. RaftNode
// (through ReadyWriter) and the simulation's shell model (sim/) both follow these decisions, so the
// simulation judges the shell's actual rules, not a copy of them.
//
// The core runs with asynchronous storage writes (RaftConfig.asyncStorageWrites): every
// acknowledgement that promises durable state (append and vote responses, the member's own included)
// is in Ready.messagesAfterWrite, released only once the write lands; everything else may leave at
// once, while the write is in flight (etcd-io/raft's AsyncStorageWrites contract).

import { EntryType, type Ready } from '../types.js';
import type { HardState } from '../types.js';
import type { PersistBatch } from './storage.js';

export interface ReadyPlan {
  /**
   * Ready.messages wait for the write. Only a Ready that commits a membership change (its commit
   * index must be durable before anyone can learn it from us) or installs a snapshot.
   */
  holdMessages: boolean;
  /** The storage write, if any. */
  batch: PersistBatch | undefined;
  /** fsync the write (the core's mustSync). */
  sync: boolean;
  /**
   * Apply, advance and take the next Ready only once the write completes. Only with held messages:
   * otherwise the loop goes on while the write is in flight, and storage reads already reflect it.
   */
  wait: boolean;
}

export class ReadyPlanner {
  /** A commit-index-only hard state not yet written (see plan). */
  private deferred: HardState | undefined;

  /**
   * Plans one Ready. A Ready whose only change is the commit index is not written by itself: the
   * commit index is volatile in Raft (a restarted member re-learns it from the leader), so it rides
   * along with the next write, or is written at the next tick (takeDeferred), or before a snapshot.
   */
  plan(rd: Ready): ReadyPlan {
    // A commit index covering a membership change is made durable before anyone can learn it from us.
    // Otherwise a leader could tell the member it removes (which then shuts down) and crash before
    // storing it: restarted in the old configuration, it would wait for the gone member's vote forever
    // (the two-voter case the simulation found).
    const commitsConfChange = rd.committedEntries.some((e) => e.type === EntryType.ConfChange);
    if ((commitsConfChange && rd.hardState) || rd.snapshot) {
      const hardState = rd.hardState ?? this.deferred;
      this.deferred = undefined;
      const batch: PersistBatch = { hardState, entries: rd.entries, snapshot: rd.snapshot };
      return { holdMessages: true, batch, sync: true, wait: true };
    }
    const commitOnly = rd.hardState !== undefined && !rd.mustSync && rd.entries.length === 0;
    if (commitOnly) {
      this.deferred = rd.hardState;
      return { holdMessages: false, batch: undefined, sync: false, wait: false };
    }
    if (!rd.hardState && rd.entries.length === 0) {
      return { holdMessages: false, batch: undefined, sync: false, wait: false };
    }
    const hardState = rd.hardState ?? this.deferred;
    this.deferred = undefined;
    const batch: PersistBatch = { hardState, entries: rd.entries };
    return { holdMessages: false, batch, sync: rd.mustSync, wait: false };
  }

  /** The deferred commit-index-only hard state, to be written now (unsynced); cleared. */
  takeDeferred(): HardState | undefined {
    const hs = this.deferred;
    this.deferred = undefined;
    return hs;
  }
}
