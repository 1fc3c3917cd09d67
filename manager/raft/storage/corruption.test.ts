import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { open as openLmdb } from 'lmdb';
import { encodeEntry, indexKey } from './codec.js';
import { DiskStorage } from './disk-storage.js';
import { CorruptLogError, CorruptSnapshotError, CorruptStateError } from './errors.js';
import { entries, entry, payload, tempDir } from './testing/fixtures.js';

const CONF = { voters: [1], learners: [] };

describe('DiskStorage corruption handling', () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('corrupt'));
    const s = await DiskStorage.open(dir);
    await s.save({ entries: entries(1, 60, 1, 64), hardState: { term: 1, vote: 1, commit: 30 } }, true);
    await s.close();
  });
  afterEach(() => cleanup());

  /** Flips one payload byte of entry `index` wherever it occurs in the LMDB file, as a bad disk would. */
  async function flipEntryByte(index: number): Promise<void> {
    const file = join(dir, 'raft.mdb');
    const bytes = await readFile(file);
    const marker = Buffer.from(`entry-${index}-1:`);
    let hits = 0;
    for (let at = bytes.indexOf(marker); at >= 0; at = bytes.indexOf(marker, at + 1)) {
      bytes[at + marker.length + 3] ^= 0x10;
      hits++;
    }
    assert.ok(hits > 0, `entry ${index} not found in the file`);
    await writeFile(file, bytes);
  }

  /** Edits the log with plain LMDB calls, behind the storage's back. */
  async function rawEdit(
    edit: (log: ReturnType<typeof openRaw>['log'], state: ReturnType<typeof openRaw>['state']) => void,
  ) {
    const raw = openRaw();
    edit(raw.log, raw.state);
    await raw.root.close();
  }
  function openRaw() {
    const root = openLmdb({ path: join(dir, 'raft.mdb') });
    return {
      root,
      log: root.openDB<Buffer, Buffer>('log', { keyEncoding: 'binary', encoding: 'binary' }),
      state: root.openDB<Buffer, string>('state', { encoding: 'binary' }),
    };
  }

  async function openRejects(check: (err: unknown) => boolean, options = {}): Promise<void> {
    await assert.rejects(DiskStorage.open(dir, options), (err) => {
      assert.ok(check(err), String(err));
      return true;
    });
  }

  it('reports a flipped byte in a stored entry, naming its index', async () => {
    await flipEntryByte(42);
    await openRejects((e) => e instanceof CorruptLogError && e.index === 42 && /checksum/.test(e.reason));
  });

  it('drops a bad uncommitted tail only when asked to, and durably', async () => {
    await flipEntryByte(42);
    const s = await DiskStorage.open(dir, { repairTruncate: true });
    assert.equal(s.lastIndex(), 41);
    assert.equal(s.recovery.repairedTail?.index, 42);
    await s.close();
    const again = await DiskStorage.open(dir);
    assert.equal(again.lastIndex(), 41);
    for (const e of again.entries(1, 42, Infinity)) assert.deepEqual(e.data, payload(e.index, 1, 64));
    await again.close();
  });

  it('never drops committed entries, even with repairTruncate', async () => {
    await flipEntryByte(20);
    await openRejects(
      (e) => e instanceof CorruptLogError && e.index === 20 && /not repairable/.test(e.reason),
      {
        repairTruncate: true,
      },
    );
  });

  it('reports a gap in the log', async () => {
    await rawEdit((log) => log.removeSync(indexKey(10)));
    await openRejects((e) => e instanceof CorruptLogError && e.index === 10 && /missing/.test(e.reason));
  });

  it('reports a term that goes down, even with a valid checksum', async () => {
    await rawEdit((log) => log.putSync(indexKey(50), encodeEntry(entry(50, 0, 64))));
    await openRejects((e) => e instanceof CorruptLogError && e.index === 50 && /term 0/.test(e.reason));
  });

  it('reports an entry stored under the wrong index', async () => {
    await rawEdit((log) => log.putSync(indexKey(45), encodeEntry(entry(46, 1, 64))));
    await openRejects((e) => e instanceof CorruptLogError && e.index === 45);
  });

  it('reports committed entries missing from the end of the log', async () => {
    await rawEdit((log) => {
      for (let i = 25; i <= 60; i++) log.removeSync(indexKey(i));
    });
    await openRejects((e) => e instanceof CorruptLogError && e.index === 25 && /commit 30/.test(e.reason));
  });

  it('reports a damaged hard state', async () => {
    await rawEdit((_log, state) => {
      const v = Buffer.from(state.get('hardstate') as Buffer);
      v[v.length - 2] ^= 0x01;
      state.putSync('hardstate', v);
    });
    await openRejects((e) => e instanceof CorruptStateError && e.key === 'hardstate');
  });

  describe('snapshot files', () => {
    async function withSnapshots(indexes: number[]): Promise<string> {
      const s = await DiskStorage.open(dir);
      for (const i of indexes) await s.createSnapshot(i, CONF, payload(i, 9, 4096));
      await s.close();
      return join(dir, 'snap');
    }

    it('reports a truncated snapshot file instead of loading it', async () => {
      const snapDir = await withSnapshots([10]);
      const [name] = await readdir(snapDir);
      await truncate(join(snapDir, name), (await stat(join(snapDir, name))).size - 100);
      await openRejects((e) => e instanceof CorruptSnapshotError && /checksum/.test(e.reason));
    });

    it('reports a missing snapshot file', async () => {
      const snapDir = await withSnapshots([10]);
      const [name] = await readdir(snapDir);
      await rm(join(snapDir, name));
      await openRejects((e) => e instanceof CorruptSnapshotError && /missing/.test(e.reason));
    });

    it('ignores and removes a leftover temp file, keeps the previous snapshot, prunes older ones', async () => {
      const snapDir = await withSnapshots([10, 20, 30]);
      const before = (await readdir(snapDir)).sort();
      assert.equal(before.length, 2, `kept ${before.join(', ')}`);
      assert.deepEqual(before, [
        '0000000000000001-0000000000000014.snap',
        '0000000000000001-000000000000001e.snap',
      ]);
      const leftover = `${before[1]}.tmp`;
      await writeFile(join(snapDir, leftover), 'half a snapshot');
      // A complete file the metadata never came to name (crash before the metadata commit).
      const orphan = '0000000000000001-0000000000000028.snap';
      await writeFile(join(snapDir, orphan), await readFile(join(snapDir, before[1])));
      const s = await DiskStorage.open(dir);
      assert.deepEqual(s.recovery.removedTempFiles, [leftover]);
      assert.deepEqual(s.recovery.removedSnapshotFiles, [orphan]);
      assert.equal(s.snapshot().metadata.index, 30);
      assert.deepEqual(s.snapshot().data, payload(30, 9, 4096));
      await s.close();
      assert.deepEqual((await readdir(snapDir)).sort(), before);
    });
  });
});
