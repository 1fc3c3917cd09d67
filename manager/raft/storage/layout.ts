// Which layout a member's Raft data directory is in, and the upgrade from the old default.
//
// The log tail, hard state and snapshot names live in the WAL (<dir>/wal, wal-storage.ts) by default;
// directories written before that hold them in LMDB (<dir>/raft.mdb, disk-storage.ts). Snapshot files
// (<dir>/snap) have one format in both. openLogStorage() opens either, migrating an LMDB directory
// to the WAL on first start:
//
//   1. read and verify everything from LMDB (DiskStorage.open checks every CRC), close it;
//   2. create <dir>/wal and make that durable (fsync of <dir>);
//   3. write one WAL segment holding the hard state, snapshot metadata, compaction point and every
//      entry, as the WAL writes any new segment: temp file, fdatasync, rename, fsync of <dir>/wal;
//   4. remove raft.mdb and raft.mdb-lock, fsync <dir>.
//
// The renamed segment is the commit point. A crash (or power loss) before it leaves LMDB intact and
// no WAL segment, so the next start migrates again (a half-written temp segment is discarded); after
// it the WAL is complete and durable, so the next start uses it and finishes step 4. Nothing is ever
// read from both: a directory holding a WAL segment is in the WAL layout, whatever else it holds.

import { join } from 'node:path';
import type { NodeStorage } from '../node/storage.js';
import { DiskStorage, LMDB_FILE } from './disk-storage.js';
import { type FileLayer, nodeFiles } from './wal/files.js';
import type { WalView } from './wal/log-view.js';
import { Wal } from './wal/wal.js';
import { WalStorage } from './wal-storage.js';

export type LogLayout = 'wal' | 'lmdb';

const WAL_DIR = 'wal';
const LMDB_FILES = [LMDB_FILE, `${LMDB_FILE}-lock`];

export interface MigrationReport {
  /** What the directory held when opened: nothing yet, the WAL, or LMDB (migrated now). */
  found: 'empty' | 'wal' | 'lmdb';
  /** Entries carried over from LMDB. */
  entries: number;
  /** LMDB files removed (after this migration or one a crash interrupted after its commit point). */
  removed: string[];
}

async function names(files: FileLayer, dir: string): Promise<string[]> {
  return files.list(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}

/** Everything an LMDB directory holds, as the WAL's view; `dir`'s LMDB is closed again. */
async function readLmdb(dir: string): Promise<WalView> {
  const old = await DiskStorage.open(dir);
  try {
    const { hardState } = old.initialState();
    const first = old.firstIndex();
    const last = old.lastIndex();
    return {
      hardState,
      snapshot: old.snapshot().metadata,
      offset: { index: first - 1, term: old.term(first - 1) },
      entries: last >= first ? old.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : [],
    };
  } finally {
    await old.close();
  }
}

/**
 * Brings `dir` to the WAL layout (see the file comment); safe to call again after a crash at any
 * point, and a no-op on a directory already in it or empty.
 */
export async function migrateToWal(dir: string, files: FileLayer = nodeFiles): Promise<MigrationReport> {
  const walDir = join(dir, WAL_DIR);
  const inDir = await names(files, dir);
  const lmdb = LMDB_FILES.filter((n) => inDir.includes(n));
  const report: MigrationReport = { found: 'empty', entries: 0, removed: [] };
  if (await Wal.exists(walDir, files)) {
    report.found = 'wal';
  } else if (lmdb.includes(LMDB_FILE)) {
    report.found = 'lmdb';
    const view = await readLmdb(dir);
    await files.mkdir(walDir);
    await files.syncDir(dir);
    await Wal.create(walDir, view, files);
    report.entries = view.entries.length;
  } else {
    return report;
  }
  if (lmdb.length > 0) {
    for (const n of lmdb) await files.remove(join(dir, n));
    await files.syncDir(dir);
    report.removed = lmdb;
  }
  return report;
}

/**
 * Opens a member's Raft storage in `dir`. The WAL by default, migrating an LMDB directory first;
 * `layout: 'lmdb'` keeps the old layout (for comparisons), and refuses a directory in the WAL layout.
 */
export async function openLogStorage(
  dir: string,
  opts: { layout?: LogLayout; files?: FileLayer } = {},
): Promise<{ storage: NodeStorage; migration?: MigrationReport }> {
  const files = opts.files ?? nodeFiles;
  if (opts.layout === 'lmdb') {
    if (await Wal.exists(join(dir, WAL_DIR), files)) {
      throw new Error(`raft storage: ${dir} holds the WAL layout; it cannot be opened as LMDB`);
    }
    return { storage: await DiskStorage.open(dir) };
  }
  const migration = await migrateToWal(dir, files);
  return { storage: await WalStorage.open(dir, { files }), migration };
}
