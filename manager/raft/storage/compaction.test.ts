import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CompactedError } from '../types.js';
import { DiskStorage } from './disk-storage.js';
import { COMPACT_CHUNK_ENTRIES } from './plan.js';
import { entries, payload, tempDir } from './testing/fixtures.js';

const CONF = { voters: [1, 2, 3], learners: [] };
const N = 4 * COMPACT_CHUNK_ENTRIES + 100;

describe('DiskStorage compaction and snapshots off the commit path', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let s: DiskStorage;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('compact'));
    s = await DiskStorage.open(dir);
    await s.save({ entries: entries(1, N, 1, 16), hardState: { term: 1, vote: 1, commit: N } }, true);
    await s.createSnapshot(N - 50, CONF, Buffer.from('state'));
  });
  afterEach(async () => {
    await s.close();
    await cleanup();
  });

  it('deletes in chunks that saves made meanwhile do not wait behind', async () => {
    const before = s.stats().batches;
    const order: string[] = [];
    const compacted = s.compact(N - 60).then(() => order.push('compact'));
    // The view moves at once.
    assert.equal(s.firstIndex(), N - 59);
    assert.throws(() => s.term(N - 61), CompactedError);
    const saved = s.save({ entries: entries(N + 1, N + 1, 1, 16) }, true).then(() => order.push('save'));
    await Promise.all([compacted, saved]);
    assert.deepEqual(order, ['save', 'compact'], 'the save committed between chunks');
    const chunks = Math.ceil((N - 60) / COMPACT_CHUNK_ENTRIES);
    assert.ok(s.stats().batches - before >= chunks, `${s.stats().batches - before} batches`);

    await s.close();
    s = await DiskStorage.open(dir); // verifies that nothing below the stored offset is left
    assert.equal(s.firstIndex(), N - 59);
    assert.equal(s.term(N - 60), 1);
    assert.equal(s.lastIndex(), N + 1);
    assert.deepEqual(s.entries(N - 59, N - 58, Infinity)[0].data, payload(N - 59, 1, 16));
  });

  it('stays consistent on disk when a snapshot and another compaction arrive mid-way', async () => {
    const first = s.compact(COMPACT_CHUNK_ENTRIES * 2 + 7);
    await s.save(
      { entries: entries(N + 1, N + 10, 1, 16), hardState: { term: 1, vote: 1, commit: N + 10 } },
      true,
    );
    const snap = s.createSnapshot(N + 5, CONF, Buffer.from('later state'));
    // Until its metadata is queued, a restart would not find the new snapshot: compacting past the
    // old one must wait.
    await assert.rejects(s.compact(N + 1), /past the snapshot/);
    await snap;
    await Promise.all([first, s.compact(N + 1)]);
    assert.equal(s.firstIndex(), N + 2);

    await s.close();
    s = await DiskStorage.open(dir);
    assert.equal(s.firstIndex(), N + 2);
    assert.equal(s.snapshot().metadata.index, N + 5);
    assert.equal(s.lastIndex(), N + 10);
  });

  it('keeps committing saves while a snapshot file is written', async () => {
    const order: string[] = [];
    const big = new Uint8Array(16 << 20).fill(7);
    const snap = s.createSnapshot(N - 10, CONF, big).then(() => order.push('snapshot'));
    assert.equal(s.snapshot().metadata.index, N - 10, 'reads see the snapshot at once');
    const saved = s.save({ entries: entries(N + 1, N + 1, 1, 16) }, true).then(() => order.push('save'));
    await Promise.all([snap, saved]);
    assert.deepEqual(order, ['save', 'snapshot']);
    await s.close();
    s = await DiskStorage.open(dir);
    assert.equal(s.snapshot().metadata.index, N - 10);
    assert.equal(s.snapshot().data.byteLength, big.byteLength);
  });

  it('leaves a consistent, longer log when closed mid-way', async () => {
    const compacted = s.compact(N - 60);
    await s.close(); // stops after the chunk in flight
    await compacted;
    s = await DiskStorage.open(dir);
    assert.ok(s.firstIndex() <= N - 59, `first ${s.firstIndex()}`);
    assert.ok(s.firstIndex() > 1, 'the first chunk committed');
    assert.equal(s.lastIndex(), N);
    const all = s.entries(s.firstIndex(), N + 1, Infinity);
    assert.equal(all.length, N - s.firstIndex() + 1);
  });
});
