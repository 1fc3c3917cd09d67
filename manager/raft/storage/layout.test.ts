// The upgrade from the LMDB layout to the WAL (layout.ts): a directory written by the old storage code
// (DiskStorage) opens as the WAL with every entry, the hard state and the snapshot intact; a migration
// stopped after any one of its file operations leaves a directory that opens (as LMDB not yet
// migrated, or as the WAL) with the same contents and finishes on the next start.
import assert from 'node:assert/strict';
import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { NodeStorage } from '../node/storage.js';
import { DiskStorage } from './disk-storage.js';
import { migrateToWal, openLogStorage } from './layout.js';
import { entries, payload, tempDir } from './testing/fixtures.js';
import { type AppendFile, type FileLayer, nodeFiles } from './wal/files.js';

const CONF = { voters: [1, 2, 3], learners: [4] };
const SNAP_DATA = Buffer.from('state machine at 60');

/**
 * An old-layout directory: entries 1..50 in term 1 and 51..120 in term 2, a snapshot at 60 with the
 * log compacted to 40 (entries 41..60 kept behind it), hard state {2, 3, 110}.
 */
async function writeOldLayout(dir: string): Promise<void> {
  const s = await DiskStorage.open(dir);
  try {
    await s.save({ hardState: { term: 1, vote: 1, commit: 0 }, entries: entries(1, 50, 1) }, true);
    await s.save({ hardState: { term: 2, vote: 3, commit: 100 }, entries: entries(51, 120, 2) }, true);
    await s.createSnapshot(60, CONF, SNAP_DATA);
    await s.compact(40);
    await s.save({ hardState: { term: 2, vote: 3, commit: 110 }, entries: [] }, true);
  } finally {
    await s.close();
  }
}

function assertOldContents(s: NodeStorage): void {
  assert.deepEqual(s.initialState(), { hardState: { term: 2, vote: 3, commit: 110 }, confState: CONF });
  assert.deepEqual(s.snapshot().metadata, { index: 60, term: 2, confState: CONF });
  assert.deepEqual(Buffer.from(s.snapshot().data), SNAP_DATA);
  assert.equal(s.firstIndex(), 41);
  assert.equal(s.lastIndex(), 120);
  assert.equal(s.term(40), 1, 'the compaction point keeps its term');
  const got = s.entries(41, 121, Number.MAX_SAFE_INTEGER);
  assert.equal(got.length, 80);
  for (const e of got) {
    assert.equal(e.term, e.index <= 50 ? 1 : 2, `entry ${e.index} term`);
    assert.deepEqual(e.data, payload(e.index, e.term), `entry ${e.index} data`);
  }
}

/** A FileLayer whose process "dies" at its `at`-th mutating call: that call and every later one throw. */
class DyingFiles implements FileLayer {
  calls = 0;
  constructor(private readonly at: number) {}

  private step(): void {
    if (this.calls++ >= this.at) throw new Error(`died at file operation ${this.at}`);
  }

  mkdir = async (dir: string): Promise<void> => {
    this.step();
    await nodeFiles.mkdir(dir);
  };
  list = (dir: string): Promise<string[]> => nodeFiles.list(dir);
  read = (path: string): Promise<Uint8Array> => nodeFiles.read(path);
  openAppend = async (path: string, end?: number): Promise<AppendFile> => {
    this.step();
    const f = await nodeFiles.openAppend(path, end);
    return {
      append: async (data) => {
        this.step();
        // A write cut short: half of it lands.
        if (this.calls > this.at) return f.append(data.subarray(0, data.byteLength >> 1));
        await f.append(data);
      },
      datasync: async () => {
        this.step();
        await f.datasync();
      },
      get size() {
        return f.size;
      },
      preallocate: async (size) => {
        this.step();
        await f.preallocate(size);
      },
      close: () => f.close(), // the kernel closes a dead process's files
    };
  };
  truncate = async (path: string, length: number): Promise<void> => {
    this.step();
    await nodeFiles.truncate(path, length);
  };
  rename = async (from: string, to: string): Promise<void> => {
    this.step();
    await nodeFiles.rename(from, to);
  };
  remove = async (path: string): Promise<void> => {
    this.step();
    await nodeFiles.remove(path);
  };
  syncDir = async (dir: string): Promise<void> => {
    this.step();
    await nodeFiles.syncDir(dir);
  };
}

describe('LMDB to WAL migration', () => {
  it('opens an old-layout directory as the WAL with everything in it, and keeps it across restarts', async (t) => {
    const { dir, cleanup } = await tempDir('layout');
    t.after(cleanup);
    await writeOldLayout(dir);

    const { storage, migration } = await openLogStorage(dir);
    try {
      assert.deepEqual(migration, { found: 'lmdb', entries: 80, removed: ['raft.mdb', 'raft.mdb-lock'] });
      assertOldContents(storage);
      // It goes on as the WAL: a new entry and hard state land and survive a restart.
      await storage.save(
        { hardState: { term: 2, vote: 3, commit: 121 }, entries: entries(121, 121, 2) },
        true,
      );
    } finally {
      await storage.close();
    }
    assert.deepEqual((await readdir(dir)).sort(), ['snap', 'wal']);

    const again = await openLogStorage(dir);
    try {
      assert.deepEqual(again.migration, { found: 'wal', entries: 0, removed: [] });
      assert.equal(again.storage.lastIndex(), 121);
      assert.deepEqual(again.storage.initialState().hardState, { term: 2, vote: 3, commit: 121 });
      assert.deepEqual(again.storage.entries(41, 121, Number.MAX_SAFE_INTEGER).length, 80);
      assert.deepEqual(Buffer.from(again.storage.snapshot().data), SNAP_DATA);
    } finally {
      await again.storage.close();
    }
    await assert.rejects(openLogStorage(dir, { layout: 'lmdb' }), /holds the WAL layout/);
  });

  it('an empty directory starts as the WAL', async (t) => {
    const { dir, cleanup } = await tempDir('layout-new');
    t.after(cleanup);
    const { storage, migration } = await openLogStorage(dir);
    await storage.close();
    assert.equal(migration?.found, 'empty');
    assert.deepEqual((await readdir(dir)).sort(), ['snap', 'wal']);
  });

  it('a migration stopped after any file operation recovers on the next start', async (t) => {
    const { dir: template, cleanup } = await tempDir('layout-crash');
    t.after(cleanup);
    await writeOldLayout(join(template, 'old'));
    let completed = false;
    let at = 0;
    for (; !completed; at++) {
      assert.ok(at < 100, 'the migration ends within 100 file operations');
      const dir = join(template, `at-${at}`);
      await cp(join(template, 'old'), dir, { recursive: true });
      const files = new DyingFiles(at);
      try {
        await migrateToWal(dir, files);
        completed = true; // `at` is past the last operation
      } catch (err) {
        assert.match(String(err), /died at file operation/);
      }
      // The interrupted directory is in one layout or the other, never neither.
      const names = await readdir(dir);
      const wal = names.includes('wal') ? await readdir(join(dir, 'wal')) : [];
      const walDone = wal.some((n) => n.endsWith('.wal'));
      assert.ok(walDone || names.includes('raft.mdb'), `stopped at ${at}: no layout left (${names})`);

      const { storage, migration } = await openLogStorage(dir);
      try {
        assert.equal(migration?.found, walDone ? 'wal' : 'lmdb', `stopped at ${at}`);
        assertOldContents(storage);
      } finally {
        await storage.close();
      }
      assert.deepEqual((await readdir(dir)).sort(), ['snap', 'wal'], `stopped at ${at}`);
      assert.deepEqual(await readdir(join(dir, 'wal')), ['0000000000000001.wal'], `stopped at ${at}`);
    }
    // mkdir, 2 directory syncs, temp cleanup, open, append, fdatasync, rename, directory sync, 2 removals
    assert.equal(at, 12, 'every operation of the migration was interrupted once, and then none');
  });
});
