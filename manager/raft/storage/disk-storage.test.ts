import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CompactedError, UnavailableError, type Entry, type Snapshot } from '../types.js';
import { DiskStorage } from './disk-storage.js';
import { SnapshotOutOfDateError, StorageFailedError } from './errors.js';
import { entries, entry, payload, tempDir } from './testing/fixtures.js';

const CONF = { voters: [1, 2, 3], learners: [4] };
const SIZE = 32 + 16; // bytes a fixture entry counts for: payload + framing

function terms(ents: Entry[]): number[][] {
  return ents.map((e) => [e.index, e.term]);
}

function assertIntact(ents: Entry[]): void {
  for (const e of ents) assert.deepEqual(e.data, payload(e.index, e.term), `entry ${e.index} data`);
}

describe('DiskStorage', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let s: DiskStorage;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('ds'));
    s = await DiskStorage.open(dir);
  });
  afterEach(async () => {
    await s.close();
    await cleanup();
  });

  async function reopen(options = {}): Promise<void> {
    await s.close();
    s = await DiskStorage.open(dir, options);
  }

  it('starts empty', () => {
    assert.equal(s.firstIndex(), 1);
    assert.equal(s.lastIndex(), 0);
    assert.equal(s.term(0), 0);
    assert.deepEqual(s.initialState(), {
      hardState: { term: 0, vote: 0, commit: 0 },
      confState: { voters: [], learners: [] },
    });
    assert.equal(s.snapshot().metadata.index, 0);
    assert.deepEqual(s.entries(1, 1, 100), []);
    assert.throws(() => s.term(1), UnavailableError);
  });

  it('appends, overwrites a conflicting suffix, and keeps that across a restart', async () => {
    await s.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 2, commit: 1 } }, true);
    assert.deepEqual(terms(s.entries(1, 6, Infinity)), [
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 1],
      [5, 1],
    ]);
    // An append at 3 replaces everything from 3 on, even where the new suffix is shorter.
    await s.save({ entries: entries(3, 4, 2) }, true);
    const expected = [
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
    ];
    assert.deepEqual(terms(s.entries(1, 5, Infinity)), expected);
    assert.equal(s.lastIndex(), 4);
    assert.throws(() => s.term(5), UnavailableError);
    assert.throws(() => s.entries(1, 6, Infinity), UnavailableError);
    await s.save({ entries: entries(5, 6, 2) }, false);
    await reopen();
    assert.deepEqual(terms(s.entries(1, 7, Infinity)), [...expected, [5, 2], [6, 2]]);
    assertIntact(s.entries(1, 7, Infinity));
    assert.deepEqual(s.initialState().hardState, { term: 1, vote: 2, commit: 1 });
  });

  it('rejects malformed appends without changing anything', async () => {
    await s.save({ entries: entries(1, 3, 2), hardState: { term: 2, vote: 1, commit: 0 } }, true);
    const rejects = [
      { entries: entries(5, 6, 2) }, // gap
      { entries: [entry(4, 2), entry(6, 2)] }, // not contiguous
      { entries: entries(4, 4, 1) }, // term below the previous entry's
      { entries: [], hardState: { term: 1, vote: 0, commit: 0 } }, // term regression
      { entries: entries(4, 4, 2), hardState: { term: 2, vote: 1, commit: 5 } }, // commit past the log
    ];
    for (const rd of rejects) await assert.rejects(s.save(rd, true), Error, JSON.stringify(rd.entries));
    assert.equal(s.lastIndex(), 3);
    assert.deepEqual(s.initialState().hardState, { term: 2, vote: 1, commit: 0 });
    assert.equal(s.stats().saves, 1);
  });

  it('refuses to change or drop committed entries', async () => {
    await s.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 1, commit: 3 } }, true);
    await assert.rejects(s.save({ entries: entries(2, 2, 2) }, true), /conflicts with committed entry 2/);
    await assert.rejects(s.save({ entries: entries(2, 2, 1) }, true), /would drop committed entries/);
    // Rewriting identical committed entries and replacing the uncommitted tail are fine.
    await s.save({ entries: [...entries(1, 3, 1), ...entries(4, 4, 2)] }, true);
    assert.deepEqual(terms(s.entries(1, 5, Infinity)), [
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
    ]);
  });

  it('answers term/entries/firstIndex/lastIndex across snapshot and compaction', async () => {
    await s.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 1, commit: 10 } }, true);
    await s.save({ entries: entries(11, 12, 2) }, true);
    const data = Buffer.from('state machine at 6');
    const snap = await s.createSnapshot(6, CONF, data);
    assert.deepEqual(snap.metadata, { index: 6, term: 1, confState: CONF });
    assert.equal(s.firstIndex(), 1, 'a snapshot alone does not compact');
    await assert.rejects(s.createSnapshot(6, CONF, data), SnapshotOutOfDateError);
    await assert.rejects(s.createSnapshot(11, CONF, data), /past the commit index/);
    await assert.rejects(s.compact(7), /past the snapshot/);

    await s.compact(4);
    const check = (): void => {
      assert.equal(s.firstIndex(), 5);
      assert.equal(s.lastIndex(), 12);
      assert.equal(s.term(4), 1, 'the compaction point keeps its term');
      assert.throws(() => s.term(3), CompactedError);
      assert.throws(() => s.entries(4, 6, Infinity), CompactedError);
      assert.throws(() => s.entries(5, 14, Infinity), UnavailableError);
      assert.throws(() => s.term(13), UnavailableError);
      assert.deepEqual(
        s.entries(5, 13, Infinity).map((e) => e.index),
        [5, 6, 7, 8, 9, 10, 11, 12],
      );
      assert.equal(s.entries(5, 13, 0).length, 1, 'at least one entry whatever maxBytes');
      assert.equal(s.entries(5, 13, 2 * SIZE).length, 2);
      assert.equal(s.entries(5, 13, 3 * SIZE - 1).length, 2);
      assert.deepEqual(s.snapshot().metadata, { index: 6, term: 1, confState: CONF });
      assert.deepEqual(Buffer.from(s.snapshot().data), data);
      assert.deepEqual(s.initialState().confState, CONF);
    };
    check();
    await assert.rejects(s.compact(4), CompactedError);
    await reopen();
    check();
  });

  it('installs a received snapshot, replacing the whole log', async () => {
    await s.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 1, commit: 2 } }, true);
    const snap: Snapshot = {
      metadata: { index: 20, term: 3, confState: CONF },
      data: Buffer.from('leader state'),
    };
    await s.save(
      { snapshot: snap, entries: entries(21, 22, 3), hardState: { term: 3, vote: 0, commit: 20 } },
      true,
    );
    const check = (): void => {
      assert.equal(s.firstIndex(), 21);
      assert.equal(s.lastIndex(), 22);
      assert.equal(s.term(20), 3);
      assert.throws(() => s.term(19), CompactedError);
      assert.deepEqual(terms(s.entries(21, 23, Infinity)), [
        [21, 3],
        [22, 3],
      ]);
      assert.deepEqual(Buffer.from(s.snapshot().data), Buffer.from('leader state'));
      assert.deepEqual(s.initialState(), { hardState: { term: 3, vote: 0, commit: 20 }, confState: CONF });
    };
    check();
    const older: Snapshot = { metadata: { index: 10, term: 2, confState: CONF }, data: new Uint8Array() };
    await assert.rejects(s.save({ snapshot: older, entries: [] }, true), SnapshotOutOfDateError);
    await reopen();
    check();
    assert.deepEqual(s.recovery, { removedTempFiles: [], removedSnapshotFiles: [] });
  });

  it('serves reads below a small tail cache from LMDB, including before writes commit', async () => {
    await reopen({ cacheMaxEntries: 8 });
    for (let lo = 1; lo <= 100; lo += 10) await s.save({ entries: entries(lo, lo + 9, 1) }, true);
    assertIntact(s.entries(1, 101, Infinity));
    assert.equal(s.entries(1, 101, Infinity).length, 100);
    // Not awaited: reads must reflect the saves at once, and a conflict far below the cache must not
    // let a read fall through to entries LMDB has not yet replaced.
    const pending = [
      s.save({ entries: entries(101, 110, 1) }, true),
      s.save({ entries: entries(50, 60, 2) }, true),
    ];
    assert.equal(s.lastIndex(), 60);
    const expectTerms = (): void => {
      const got = s.entries(40, 61, Infinity);
      assert.deepEqual(
        got.map((e) => e.term),
        [...Array(10).fill(1), ...Array(11).fill(2)],
      );
      assertIntact(got);
    };
    expectTerms();
    await Promise.all(pending);
    expectTerms();
    await reopen({ cacheMaxEntries: 8 });
    expectTerms();
    assert.equal(s.lastIndex(), 60);
  });

  it('counts one fsync per synced batch and none for unsynced ones', async () => {
    await s.save({ entries: entries(1, 1, 1) }, false);
    assert.deepEqual([s.stats().batches, s.stats().fsyncs], [1, 0]);
    await Promise.all([
      s.save({ entries: entries(2, 2, 1) }, false),
      s.save({ entries: entries(3, 3, 1) }, true),
    ]);
    assert.deepEqual([s.stats().saves, s.stats().batches, s.stats().fsyncs], [3, 2, 1]);
  });

  it('stops accepting writes after a write failed (fail-stop)', async () => {
    await s.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 3 } }, true);
    await rm(join(dir, 'snap'), { recursive: true }); // the snapshot file cannot be written now
    await assert.rejects(s.createSnapshot(2, CONF, new Uint8Array([1])), StorageFailedError);
    await assert.rejects(s.save({ entries: entries(4, 4, 1) }, true), StorageFailedError);
    await assert.rejects(s.compact(1), StorageFailedError);
  });

  it('refuses use after close', async () => {
    await s.close();
    await assert.rejects(s.save({ entries: entries(1, 1, 1) }, true), /closed/);
    s = await DiskStorage.open(dir);
  });
});
