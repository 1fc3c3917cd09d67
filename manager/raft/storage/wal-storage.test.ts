// WalStorage on the real filesystem (appends on the thread pool and inline, segments preallocated in
// small chunks): saves, a local snapshot and compaction with a rotation, a received snapshot, and what
// a reopen finds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entries, payload, tempDir } from './testing/fixtures.js';
import { WalStorage } from './wal-storage.js';
import { nodeFileLayer } from './wal/files.js';

const cs = { voters: [1, 2, 3], learners: [] };

for (const inlineAppends of [false, true]) {
  test(`wal storage: snapshot, compaction with rotation, install, reopen (${inlineAppends ? 'inline' : 'pool'} appends)`, async (t) => {
    const { dir, cleanup } = await tempDir('walstorage');
    const opts = { files: nodeFileLayer({ inlineAppends }), preallocBytes: 8192 };
    t.after(cleanup);
    let s = await WalStorage.open(dir, { ...opts, rotateBytes: 4096 });
    await s.save({ entries: entries(1, 200, 1, 100), hardState: { term: 1, vote: 1, commit: 180 } }, true);
    const snap = await s.createSnapshot(150, cs, Buffer.from('state@150'));
    assert.equal(s.snapshot().metadata.index, 150);
    await s.compact(140); // the segment holds ~24 KiB > 4 KiB: rotates
    assert.equal(s.firstIndex(), 141);
    assert.equal(s.stats().fdatasyncs >= 2, true);
    await s.close();

    s = await WalStorage.open(dir, { ...opts, rotateBytes: 4096 });
    assert.deepEqual(s.snapshot().metadata, snap.metadata);
    assert.equal(Buffer.from(s.snapshot().data).toString(), 'state@150');
    assert.equal(s.firstIndex(), 141);
    assert.equal(s.lastIndex(), 200);
    assert.deepEqual(s.entries(141, 143, Infinity)[1]!.data, payload(142, 1, 100));
    assert.deepEqual(s.initialState().hardState, { term: 1, vote: 1, commit: 180 });
    assert.throws(() => s.term(139), /compacted/);

    // A snapshot from the leader replaces the whole log.
    const installed = { metadata: { index: 500, term: 3, confState: cs }, data: Buffer.from('state@500') };
    await s.save(
      { snapshot: installed, entries: entries(501, 502, 3), hardState: { term: 3, vote: 0, commit: 500 } },
      true,
    );
    await s.close();
    s = await WalStorage.open(dir, opts);
    assert.deepEqual(s.snapshot().metadata, installed.metadata);
    assert.deepEqual(Buffer.from(s.snapshot().data).toString(), 'state@500');
    assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(500), s.term(502)], [501, 502, 3, 3]);
    await s.close();
  });
}

test('wal storage: a local snapshot is what a restart starts from, before any rotation', async (t) => {
  const { dir, cleanup } = await tempDir('walstorage');
  t.after(cleanup);
  let s = await WalStorage.open(dir);
  await s.save({ entries: entries(1, 50, 1), hardState: { term: 1, vote: 1, commit: 50 } }, true);
  await s.createSnapshot(40, cs, Buffer.from('state@40'));
  await s.compact(35); // no rotation: the view moves, the disk keeps the entries
  assert.equal(s.firstIndex(), 36);
  await s.close();
  s = await WalStorage.open(dir);
  assert.equal(s.snapshot().metadata.index, 40);
  assert.equal(Buffer.from(s.snapshot().data).toString(), 'state@40');
  assert.equal(s.lastIndex(), 50);
  await s.close();
});
