// What DiskStorage.open() does before serving anything: read and verify the hard state and metadata,
// load the snapshot the metadata names, verify the whole log, and tidy the snapshot directory.
// Anything damaged is reported as a typed error; the only repair is the explicit repairTruncate.

import type { RootDatabase } from 'lmdb';
import type { Entry, HardState, Snapshot } from '../types.js';
import { decodeHardState, decodeMeta, HARD_STATE_KEY, META_KEY, type LogMeta } from './codec.js';
import { CorruptLogError, CorruptStateError } from './errors.js';
import { scanLog } from './log-scan.js';
import { keptSnapshotNames, type SnapshotFiles } from './snapshot-files.js';
import { applyWriteOps, type LogDatabases } from './write-ops.js';

export interface RecoveryReport {
  /** Snapshot temp files (of writes a crash interrupted) that were deleted. */
  removedTempFiles: string[];
  /** Snapshot files deleted: ones the metadata never came to name, and ones older than the previous. */
  removedSnapshotFiles: string[];
  /** Set when repairTruncate dropped a corrupt log tail: what was wrong and where the log now ends + 1. */
  repairedTail?: CorruptLogError;
}

export interface Recovered {
  hardState: HardState;
  meta: LogMeta;
  snapshot: Snapshot;
  lastIndex: number;
  tail: Entry[];
  report: RecoveryReport;
}

const EMPTY_META: LogMeta = {
  snapshot: { index: 0, term: 0, confState: { voters: [], learners: [] } },
  offset: { index: 0, term: 0 },
};

async function loadSnapshot(files: SnapshotFiles, meta: LogMeta): Promise<Snapshot> {
  const { index, term, confState } = meta.snapshot;
  if (index === 0) return { metadata: { index, term, confState }, data: new Uint8Array(0) };
  const snap = await files.read(term, index);
  if (JSON.stringify(snap.metadata.confState) !== JSON.stringify(confState)) {
    throw new CorruptStateError(META_KEY, `membership differs from snapshot file ${files.path(term, index)}`);
  }
  return snap;
}

export async function recoverOnOpen(
  root: RootDatabase,
  dbs: LogDatabases,
  files: SnapshotFiles,
  opts: { repairTruncate: boolean; keepTail: number },
): Promise<Recovered> {
  const hsRaw = dbs.state.get(HARD_STATE_KEY);
  const hardState = hsRaw === undefined ? { term: 0, vote: 0, commit: 0 } : decodeHardState(hsRaw);
  const metaRaw = dbs.state.get(META_KEY);
  const meta = metaRaw === undefined ? EMPTY_META : decodeMeta(metaRaw);
  const snapshot = await loadSnapshot(files, meta);
  const report: RecoveryReport = { removedTempFiles: [], removedSnapshotFiles: [] };

  const scan = scanLog(dbs.log, meta.offset, opts.keepTail);
  if (scan.corrupt) {
    const bad = scan.corrupt;
    if (!opts.repairTruncate) throw bad;
    // Committed entries may be the only copy a quorum relied on: never drop them.
    const committed = Math.max(hardState.commit, meta.snapshot.index);
    if (bad.index <= committed) {
      throw new CorruptLogError(
        bad.index,
        `${bad.reason}; not repairable: entries up to ${committed} are committed`,
      );
    }
    await root.childTransaction(() => applyWriteOps(dbs, [{ kind: 'truncateFrom', index: bad.index }]));
    await root.flushed;
    root.resetReadTxn();
    report.repairedTail = bad;
  }
  if (scan.lastIndex < meta.snapshot.index) {
    throw new CorruptStateError(
      META_KEY,
      `snapshot index ${meta.snapshot.index} is past the log's end ${scan.lastIndex}`,
    );
  }
  if (hardState.commit > scan.lastIndex) {
    throw new CorruptLogError(
      scan.lastIndex + 1,
      `entry missing below the hard state's commit ${hardState.commit}`,
    );
  }

  // Files newer than the metadata's snapshot belong to a write whose metadata never committed (never
  // acknowledged); the current file and its predecessor stay.
  const keep = keptSnapshotNames(await files.list(), snapshot);
  report.removedSnapshotFiles = await files.removeAllBut(keep);
  return { hardState, meta, snapshot, lastIndex: scan.lastIndex, tail: scan.tail, report };
}
