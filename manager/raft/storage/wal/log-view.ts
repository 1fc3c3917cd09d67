// The state a WAL describes: hard state, latest snapshot's metadata, compaction point and the entries
// after it. The same function applies a record when replaying the files and when a save is accepted,
// so what a reopened WAL holds is by construction what the running one held at its last durable write.

import type { Entry, HardState, SnapshotMetadata } from '../../types.js';
import { CorruptLogError } from '../errors.js';
import { type Checkpoint, RecordKind, type WalRecord } from './records.js';

export interface WalView {
  hardState: HardState;
  snapshot: SnapshotMetadata;
  /** The last compacted (or snapshotted) entry; entries[0] is at offset.index + 1. */
  offset: { index: number; term: number };
  entries: Entry[];
}

export function emptyView(): WalView {
  return {
    hardState: { term: 0, vote: 0, commit: 0 },
    snapshot: { index: 0, term: 0, confState: { voters: [], learners: [] } },
    offset: { index: 0, term: 0 },
    entries: [],
  };
}

export function lastIndex(v: WalView): number {
  return v.offset.index + v.entries.length;
}

export function termAt(v: WalView, i: number): number | undefined {
  if (i === v.offset.index) return v.offset.term;
  return v.entries[i - v.offset.index - 1]?.term;
}

export function checkpointOf(v: WalView): Checkpoint {
  return { hardState: { ...v.hardState }, snapshot: v.snapshot, offset: { ...v.offset } };
}

/** Applies one record; throws CorruptLogError if it cannot follow the view (a gap, a term regression). */
export function applyRecord(v: WalView, r: WalRecord): void {
  switch (r.kind) {
    case RecordKind.Entry: {
      const e = r.entry;
      if (e.index <= v.offset.index)
        throw new CorruptLogError(e.index, 'entry at or below the compaction point');
      if (e.index > lastIndex(v) + 1) throw new CorruptLogError(e.index, `gap after ${lastIndex(v)}`);
      const prevTerm = termAt(v, e.index - 1)!;
      if (e.term < prevTerm) throw new CorruptLogError(e.index, `term ${e.term} after term ${prevTerm}`);
      v.entries.length = e.index - v.offset.index - 1;
      v.entries.push(e);
      return;
    }
    case RecordKind.HardState:
      v.hardState = r.hardState;
      return;
    case RecordKind.Snapshot:
      v.snapshot = r.snapshot;
      v.offset = { index: r.snapshot.index, term: r.snapshot.term };
      v.entries = [];
      return;
    case RecordKind.Compact: {
      if (termAt(v, r.index) !== r.term)
        throw new CorruptLogError(r.index, 'compaction point not in the log');
      v.entries = v.entries.slice(r.index - v.offset.index);
      v.offset = { index: r.index, term: r.term };
      return;
    }
    case RecordKind.SnapshotTaken:
      if (r.snapshot.index > v.snapshot.index) v.snapshot = r.snapshot;
      return;
    case RecordKind.Checkpoint:
      v.hardState = r.checkpoint.hardState;
      v.snapshot = r.checkpoint.snapshot;
      v.offset = r.checkpoint.offset;
      v.entries = [];
      return;
  }
}
