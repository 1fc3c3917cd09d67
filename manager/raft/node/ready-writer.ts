// How a Ready's state reaches storage: what must be durable before sending, and what may wait.
import { performance } from 'node:perf_hooks';
import type { HardState, RaftId, Ready } from '../types.js';
import type { NodeMetrics } from './options.js';
import type { NodeStorage } from './storage.js';

export class ReadyWriter {
  /** Term and vote as last handed to storage; a Ready changing them must be durable before sending. */
  private persistedTerm: number;
  private persistedVote: RaftId;
  /** A commit-index-only hard state not yet written (see write). */
  private deferred: HardState | undefined;

  constructor(
    private readonly storage: NodeStorage,
    private readonly counters: NodeMetrics,
    /** Called when a write that was not awaited fails: the member must stop. */
    private readonly onFailure: (err: unknown) => void,
  ) {
    const { hardState } = storage.initialState();
    this.persistedTerm = hardState.term;
    this.persistedVote = hardState.vote;
  }

  /** True when the Ready moves the term or the vote, which no message may get ahead of. */
  changesTermOrVote(rd: Ready): boolean {
    const hs = rd.hardState;
    return hs !== undefined && (hs.term !== this.persistedTerm || hs.vote !== this.persistedVote);
  }

  /**
   * Writes the Ready's state; resolves once it is as durable as the core asked.
   *
   * A Ready whose only change is the commit index is not written by itself: the commit index is
   * volatile in Raft (a restarted member re-learns it from the leader), so it rides along with the
   * next write, or is written at the next tick, or before a snapshot (storage wants the snapshot
   * index committed). Under load that saves one storage transaction per commit on every member, and
   * the synced writes on the critical path no longer queue behind it.
   */
  async write(rd: Ready): Promise<void> {
    const commitOnly = rd.hardState !== undefined && !rd.mustSync && rd.entries.length === 0 && !rd.snapshot;
    if (commitOnly) {
      this.deferred = rd.hardState;
      return;
    }
    if (!rd.hardState && rd.entries.length === 0 && !rd.snapshot) return;
    const hardState = rd.hardState ?? this.deferred;
    this.deferred = undefined;
    if (hardState) {
      this.persistedTerm = hardState.term;
      this.persistedVote = hardState.vote;
    }
    const write = this.storage.save({ hardState, entries: rd.entries, snapshot: rd.snapshot }, rd.mustSync);
    this.counters.entriesWritten += rd.entries.length;
    if (rd.mustSync || rd.snapshot) {
      const started = performance.now();
      await write;
      this.counters.syncedWrites++;
      this.counters.syncedWriteMs += performance.now() - started;
    } else {
      write.catch(this.onFailure);
    }
  }

  /** Writes a deferred commit index now (unsynced; storage orders it before any later write). */
  flushDeferred(): Promise<void> {
    const hardState = this.deferred;
    if (!hardState) return Promise.resolve();
    this.deferred = undefined;
    const write = this.storage.save({ hardState, entries: [] }, false);
    write.catch(this.onFailure);
    return write;
  }
}
