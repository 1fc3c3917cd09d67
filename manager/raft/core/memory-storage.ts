// MemoryStorage: an in-memory LogStorage for tests and the simulation. It stands for what is durable:
// the shell (or the simulation) writes a Ready's entries, hard state and snapshot into it before sending
// that Ready's messages. Layout follows the usual convention: ents[0] is a dummy entry holding the index
// and term of the last compacted entry (the snapshot's), so term(firstIndex - 1) always answers.

import {
  CompactedError,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type LogStorage,
  type Snapshot,
  UnavailableError,
} from '../types.js';
import { limitSize } from './util.js';

export class SnapshotOutOfDateError extends Error {
  constructor(index: number, have: number) {
    super(`raft snapshot at ${index} is older than the one stored at ${have}`);
    this.name = 'SnapshotOutOfDateError';
  }
}

const EMPTY = new Uint8Array(0);

export class MemoryStorage implements LogStorage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    data: EMPTY,
  };
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }];

  initialState(): { hardState: HardState; confState: ConfState } {
    const cs = this.snap.metadata.confState;
    return {
      hardState: { ...this.hardState },
      confState: { voters: [...cs.voters], learners: [...cs.learners] },
    };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  private get offset(): number {
    return this.ents[0].index;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  term(i: number): number {
    if (i < this.offset) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return this.ents[i - this.offset].term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    return limitSize(this.ents.slice(lo - this.offset, hi - this.offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole state with a snapshot received from the leader (drops the log). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(snap.metadata.index, this.snap.metadata.index);
    }
    this.snap = snap;
    this.ents = [
      { term: snap.metadata.term, index: snap.metadata.index, type: EntryType.Normal, data: EMPTY },
    ];
  }

  /**
   * Records the application's state at `index` (which it has applied) as the snapshot to send to
   * followers that fall behind. Does not drop entries: compact() does, so recent ones stay for catch-up.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(index, this.snap.metadata.index);
    if (index > this.lastIndex()) throw new UnavailableError(index);
    this.snap = {
      metadata: {
        index,
        term: this.ents[index - this.offset].term,
        confState: { voters: [...confState.voters], learners: [...confState.learners] },
      },
      data,
    };
    return this.snap;
  }

  /** Discards entries up to and including `index`; it must already be covered by a snapshot. */
  compact(index: number): void {
    if (index <= this.offset) throw new CompactedError(index);
    if (index > this.lastIndex()) throw new UnavailableError(index);
    if (index > this.snap.metadata.index) {
      throw new Error(`raft: compacting to ${index} beyond the snapshot at ${this.snap.metadata.index}`);
    }
    const dummy = this.ents[index - this.offset];
    this.ents = [
      { term: dummy.term, index: dummy.index, type: EntryType.Normal, data: EMPTY },
      ...this.ents.slice(index - this.offset + 1),
    ];
  }

  /** Appends entries, replacing any conflicting suffix (a new leader may overwrite uncommitted entries). */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return; // entirely compacted already
    if (entries[0].index < first) entries = entries.slice(first - entries[0].index);
    const at = entries[0].index - this.offset;
    if (at > this.ents.length) {
      throw new Error(`raft: missing log entries [last ${this.lastIndex()}, append at ${entries[0].index}]`);
    }
    this.ents = this.ents.slice(0, at).concat(entries);
  }
}
