import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompactedError, type Entry, EntryType, UnavailableError } from '../types.js';
import { bootstrapStorage } from './bootstrap.js';
import { MemoryStorage, SnapshotOutOfDateError } from './memory-storage.js';

const ent = (index: number, term: number, data = ''): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(data),
});

test('memory storage: append replaces a conflicting suffix; bounds are checked', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
  s.append([ent(3, 3), ent(4, 3)]);
  assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(3)], [1, 4, 3]);
  assert.throws(() => s.append([ent(6, 3)]), /missing log entries/);
  assert.throws(() => s.term(5), UnavailableError);
  assert.equal(s.entries(1, 5, Infinity).length, 4);
  assert.equal(s.entries(1, 5, 1).length, 1, 'at least one entry, even over the size limit');
  assert.equal(s.entries(1, 5, 40).length, 2);
});

test('memory storage: snapshot, compact, and append across the compaction point', () => {
  const s = new MemoryStorage();
  s.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
  assert.throws(() => s.compact(3), /beyond the snapshot/);
  const snap = s.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array([7]));
  assert.deepEqual([snap.metadata.index, snap.metadata.term], [3, 2]);
  s.compact(3);
  assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(3)], [4, 4, 2]);
  assert.throws(() => s.term(2), CompactedError);
  assert.throws(() => s.entries(3, 5, Infinity), CompactedError);
  s.append([ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3)]); // the compacted prefix is skipped
  assert.equal(s.lastIndex(), 5);
  assert.throws(
    () => s.createSnapshot(2, { voters: [1], learners: [] }, new Uint8Array()),
    SnapshotOutOfDateError,
  );
  s.applySnapshot({
    metadata: { index: 10, term: 4, confState: { voters: [1, 2], learners: [] } },
    data: new Uint8Array(),
  });
  assert.deepEqual([s.firstIndex(), s.lastIndex(), s.term(10)], [11, 10, 4]);
  assert.deepEqual(s.initialState().confState.voters, [1, 2]);
});

test('bootstrap: a snapshot at index 1 with the initial voters; refuses non-empty storage', () => {
  const s = new MemoryStorage();
  bootstrapStorage(s, [3, 1]);
  assert.deepEqual(s.initialState(), {
    hardState: { term: 1, vote: 0, commit: 1 },
    confState: { voters: [1, 3], learners: [] },
  });
  assert.throws(() => bootstrapStorage(s, [1]), /non-empty/);
  assert.throws(() => bootstrapStorage(new MemoryStorage(), []), /at least one voter/);
});
