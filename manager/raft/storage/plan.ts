// Turning a write request into (1) its effect on the storage's in-memory view of the log and (2) the
// LMDB operations that make it durable. Each plan function validates everything first and only then
// mutates the view, so a rejected request changes nothing. No I/O happens here.

import {
  CompactedError,
  UnavailableError,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
} from '../types.js';
import {
  encodeEntry,
  encodeHardState,
  encodeMeta,
  HARD_STATE_KEY,
  indexKey,
  META_KEY,
  type LogMeta,
} from './codec.js';
import { SnapshotOutOfDateError } from './errors.js';
import type { LogTailCache } from './log-cache.js';
import type { WriteOp } from './write-ops.js';

/** The log as every accepted write has left it, committed to LMDB or not. */
export interface LogView {
  hardState: HardState;
  snapshot: Snapshot;
  /** Compaction point: entries up to offset.index are gone, offset.term is kept. */
  offset: { index: number; term: number };
  lastIndex: number;
  /** Holds every entry from cache.start to lastIndex; must reach back over everything not in LMDB. */
  cache: LogTailCache;
  /** Every entry of the view up to here is committed, unchanged, in LMDB. */
  persistedLast: number;
  /**
   * The metadata as LMDB will hold it once every queued job has committed. It trails the view while a
   * compaction is still deleting entries chunk by chunk: the stored offset only moves with its chunk,
   * so the metadata never claims a compaction point with entries still stored below it.
   */
  queuedMeta: LogMeta;
  /** Compaction points still to be written, ascending: each one chunk of deletions (see planCompact). */
  pendingDrops: { index: number; term: number }[];
}

/**
 * Most entries one compaction transaction deletes. Deleting costs a few microseconds per key, and a
 * transaction holds every save batched with it, so a 10,000-entry compaction done at once would stall
 * the log for tens of milliseconds; in chunks, saves queued meanwhile commit in between.
 */
export const COMPACT_CHUNK_ENTRIES = 512;

export interface WriteJob {
  ops: WriteOp[];
  sync: boolean;
  /** A snapshot file to write (durably) before the transaction that names it in the metadata. */
  snapshotFile?: Snapshot;
  /** The snapshot the metadata names once this job commits (older files may then be pruned). */
  namesSnapshot?: Snapshot;
  /** Entries of the view above this index are not in LMDB until this job commits (Infinity: none). */
  lowWater: number;
  lastIndexAfter: number;
}

export interface SaveInput {
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
}

type TermOf = (index: number) => number;

function metaOp(view: LogView): WriteOp {
  return { kind: 'putState', key: META_KEY, value: encodeMeta(view.queuedMeta) };
}

function snapshotMeta(snap: Snapshot): LogMeta['snapshot'] {
  const { index, term, confState } = snap.metadata;
  return { index, term, confState };
}

function copyConfState(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}

/**
 * Rejects an append that would leave a gap, break index contiguity, lower a term, or change or drop an
 * entry known to be committed (a Raft safety violation the core must never ask for).
 */
function checkAppend(ents: Entry[], lastIndex: number, termOf: TermOf, committed: number): void {
  const first = ents[0].index;
  if (first > lastIndex + 1)
    throw new Error(`raft storage: append at ${first} leaves a gap after ${lastIndex}`);
  let prevTerm = termOf(first - 1);
  ents.forEach((e, k) => {
    if (e.index !== first + k) throw new Error(`raft storage: append is not contiguous at ${e.index}`);
    if (e.term < prevTerm) throw new Error(`raft storage: entry ${e.index} has term ${e.term} < ${prevTerm}`);
    if (e.index <= Math.min(committed, lastIndex) && termOf(e.index) !== e.term) {
      throw new Error(`raft storage: append conflicts with committed entry ${e.index}`);
    }
    prevTerm = e.term;
  });
  const newLast = ents[ents.length - 1].index;
  if (newLast < Math.min(committed, lastIndex)) {
    throw new Error(`raft storage: append ending at ${newLast} would drop committed entries`);
  }
}

function checkHardState(prev: HardState, hs: HardState): void {
  for (const n of [hs.term, hs.vote, hs.commit]) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`raft storage: bad hard state field ${n}`);
  }
  if (hs.term < prev.term) throw new Error(`raft storage: hard state term ${hs.term} < stored ${prev.term}`);
}

export function planSave(view: LogView, termOf: TermOf, rd: SaveInput, sync: boolean): WriteJob {
  const snap = rd.snapshot;
  if (snap && snap.metadata.index <= view.snapshot.metadata.index) {
    throw new SnapshotOutOfDateError(snap.metadata.index, view.snapshot.metadata.index);
  }
  // The log the entries land on: a snapshot replaces the whole log.
  const offset = snap ? { index: snap.metadata.index, term: snap.metadata.term } : view.offset;
  const baseLast = snap ? offset.index : view.lastIndex;
  const baseTermOf: TermOf = snap ? () => offset.term : termOf;
  // Entries at or below the compaction point are committed and already covered: skip them (as etcd does).
  const skip = rd.entries.findIndex((e) => e.index > offset.index);
  const ents = skip < 0 ? [] : rd.entries.slice(skip);
  if (ents.length > 0) {
    const committed = snap ? 0 : Math.max(view.hardState.commit, view.snapshot.metadata.index);
    checkAppend(ents, baseLast, baseTermOf, committed);
  }
  if (rd.hardState) {
    checkHardState(view.hardState, rd.hardState);
    // A member only learns a commit index its log reaches; a stored one past the log could not be reopened.
    const newLast = ents.length > 0 ? ents[ents.length - 1].index : baseLast;
    if (rd.hardState.commit > newLast) {
      throw new Error(`raft storage: commit index ${rd.hardState.commit} is past the log's end ${newLast}`);
    }
  }
  const entryOps: WriteOp[] = ents.map((e) => ({
    kind: 'putEntry',
    key: indexKey(e.index),
    value: encodeEntry(e),
  }));

  // Validated: apply to the view and collect the operations, in the order the transaction runs them.
  const ops: WriteOp[] = [];
  let lowWater = Infinity;
  if (snap) {
    view.snapshot = {
      metadata: { ...snap.metadata, confState: copyConfState(snap.metadata.confState) },
      data: snap.data,
    };
    view.offset = offset;
    view.lastIndex = offset.index;
    view.cache.reset(offset.index + 1);
    // The install deletes the whole stored log, so chunks of an earlier compaction have nothing left to do.
    view.queuedMeta = { snapshot: snapshotMeta(view.snapshot), offset };
    view.pendingDrops = [];
    lowWater = offset.index;
    ops.push({ kind: 'truncateFrom', index: 0 }, metaOp(view));
  }
  if (ents.length > 0) {
    const first = ents[0].index;
    const newLast = ents[ents.length - 1].index;
    if (newLast < view.lastIndex) ops.push({ kind: 'truncateFrom', index: newLast + 1 });
    ops.push(...entryOps);
    view.cache.append(ents.map((e) => ({ index: e.index, term: e.term, type: e.type, data: e.data })));
    view.lastIndex = newLast;
    lowWater = Math.min(lowWater, first - 1);
  }
  view.persistedLast = Math.min(view.persistedLast, lowWater);
  if (rd.hardState) {
    view.hardState = { term: rd.hardState.term, vote: rd.hardState.vote, commit: rd.hardState.commit };
    ops.push({ kind: 'putState', key: HARD_STATE_KEY, value: encodeHardState(view.hardState) });
  }
  return {
    ops,
    sync,
    snapshotFile: snap ? view.snapshot : undefined,
    namesSnapshot: snap ? view.snapshot : undefined,
    lowWater,
    lastIndexAfter: view.lastIndex,
  };
}

/**
 * Validates a snapshot of the applied state at `index` and makes it the view's snapshot. Its file is
 * written next, outside the commit queue; planSnapshotMeta then queues the metadata naming it.
 */
export function planCreateSnapshot(
  view: LogView,
  termOf: TermOf,
  index: number,
  confState: ConfState,
  data: Uint8Array,
): Snapshot {
  if (index <= view.snapshot.metadata.index)
    throw new SnapshotOutOfDateError(index, view.snapshot.metadata.index);
  if (index > view.lastIndex) throw new UnavailableError(index);
  if (index > view.hardState.commit) {
    throw new Error(`raft storage: snapshot at ${index} is past the commit index ${view.hardState.commit}`);
  }
  const term = termOf(index);
  view.snapshot = { metadata: { index, term, confState: copyConfState(confState) }, data };
  return view.snapshot;
}

/**
 * The job pointing the metadata at `snap`, whose file is durable by now; undefined when a newer
 * snapshot was queued meanwhile (a received one installed while the file was written).
 */
export function planSnapshotMeta(view: LogView, snap: Snapshot): WriteJob | undefined {
  if (snap.metadata.index <= view.queuedMeta.snapshot.index) return undefined;
  view.queuedMeta = { snapshot: snapshotMeta(snap), offset: view.queuedMeta.offset };
  return {
    ops: [metaOp(view)],
    sync: true,
    namesSnapshot: snap,
    lowWater: Infinity,
    lastIndexAfter: view.lastIndex,
  };
}

/**
 * Compacts the view through `index` at once and queues the deletions on disk as chunks of at most
 * COMPACT_CHUNK_ENTRIES (planDropChunk turns each into a job). The terms of the chunk boundaries are
 * taken now, while the view still holds them: each chunk records its boundary as the stored offset.
 */
export function planCompact(view: LogView, termOf: TermOf, index: number): void {
  if (index <= view.offset.index) throw new CompactedError(index);
  // Entries past the snapshot are needed to rebuild state after a restart; no snapshot holds them. The
  // snapshot counted is the one whose metadata is queued: one whose file is still being written is not
  // yet a snapshot a restart would find.
  const covered = view.queuedMeta.snapshot.index;
  if (index > covered) {
    throw new Error(`raft storage: cannot compact to ${index}, past the snapshot at ${covered}`);
  }
  for (let b = view.offset.index + COMPACT_CHUNK_ENTRIES; ; b += COMPACT_CHUNK_ENTRIES) {
    const at = Math.min(b, index);
    view.pendingDrops.push({ index: at, term: termOf(at) });
    if (at === index) break;
  }
  view.offset = { index, term: termOf(index) };
  view.cache.dropBefore(index + 1);
}

/** The job deleting the next pending chunk, or undefined when none is left. */
export function planDropChunk(view: LogView): WriteJob | undefined {
  const next = view.pendingDrops.shift();
  if (!next) return undefined;
  view.queuedMeta = { snapshot: view.queuedMeta.snapshot, offset: next };
  // Losing a compaction in a crash only leaves more log behind, so it need not wait for an fsync.
  return {
    ops: [{ kind: 'dropThrough', index: next.index }, metaOp(view)],
    sync: false,
    lowWater: Infinity,
    lastIndexAfter: view.lastIndex,
  };
}
