// RaftLog: one view over the durable log (LogStorage) and the unstable tail, plus the commit and
// apply cursors. Invariant: applied <= committed <= lastIndex, and firstIndex - 1 <= committed.

import { CompactedError, type Entry, type LogStorage, type Snapshot, UnavailableError } from '../types.js';
import { Unstable } from './unstable.js';
import { limitSize } from './util.js';

export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: Unstable;
  /** Highest index known to be stored on a quorum. */
  committed: number;
  /** Highest index the application has applied (confirmed through advance()). */
  applied: number;

  constructor(storage: LogStorage) {
    this.storage = storage;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = storage.firstIndex() - 1;
    this.applied = storage.firstIndex() - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term of entry i; throws CompactedError below the snapshot and UnavailableError past the end. */
  term(i: number): number {
    const dummy = this.firstIndex() - 1;
    if (i < dummy) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return this.unstable.maybeTerm(i) ?? this.storage.term(i);
  }

  /** Term of entry i, or 0 when it is compacted or beyond the end (0 never matches a real entry's term). */
  termOrZero(i: number): number {
    try {
      return this.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return 0;
      throw e;
    }
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  matchTerm(i: number, t: number): boolean {
    try {
      return this.term(i) === t;
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return false;
      throw e;
    }
  }

  /** Raft's "at least as up-to-date" rule (§5.4.1) comparing (term, index) of last entries. */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry of `ents` that conflicts with (or extends) the log; 0 if all match. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term. Both sides use it to skip
   * a whole term of mismatching entries per round trip instead of one entry (fast backtracking).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      let ours: number;
      try {
        ours = this.term(index);
      } catch (e) {
        if (e instanceof CompactedError || e instanceof UnavailableError) return { index, term: 0 };
        throw e;
      }
      if (ours <= term) return { index, term: ours };
    }
    return { index: 0, term: 0 };
  }

  /**
   * The follower's side of AppendEntries: if the entry before `ents` matches, append them (dropping a
   * conflicting suffix) and advance commit. Returns the index of the last new entry, or undefined.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new Error(
          `raft: entry ${conflict} conflicts with committed entry (committed ${this.committed})`,
        );
      }
      this.append(ents.slice(conflict - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    if (ents[0].index - 1 < this.committed) {
      throw new Error(`raft: appending at ${ents[0].index} would overwrite committed ${this.committed}`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new Error(
        `raft: commit ${index} is out of range [last ${this.lastIndex()}]; log corrupted or truncated?`,
      );
    }
    this.committed = index;
  }

  /** Commits up to maxIndex if that entry is from `term`: only current-term entries commit by counting (§5.4.2). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrZero(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index === 0 || index <= this.applied) return;
    if (index > this.committed)
      throw new Error(`raft: applied ${index} is beyond committed ${this.committed}`);
    this.applied = index;
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /** Committed entries the application has not applied yet. */
  nextCommittedEntries(): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 <= lo) return [];
    return this.slice(lo, this.committed + 1, Infinity);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed + 1 > Math.max(this.applied + 1, this.firstIndex());
  }

  /** Entries from i to the end, at most maxBytes (at least one). Throws CompactedError below firstIndex. */
  entries(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    if (lo >= hi) return [];
    let ents: Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      const storedHi = Math.min(hi, offset);
      ents = this.storage.entries(lo, storedHi, maxBytes);
      // The storage stopped early: the size limit was reached.
      if (ents.length < storedHi - lo) return ents;
    }
    if (hi > offset) ents = ents.concat(this.unstable.slice(Math.max(lo, offset), hi));
    return limitSize(ents, maxBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Replaces the log with a snapshot (the follower's log did not contain its last entry). */
  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }
}
