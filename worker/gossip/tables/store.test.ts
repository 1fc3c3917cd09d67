import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryStore, supersedes } from './store.js';
import type { EntryRecord } from './types.js';

const rec = (o: Partial<EntryRecord>): EntryRecord => ({
  table: 't',
  network: 'n',
  key: 'k',
  value: 'dg==',
  owner: 'a',
  ltime: 1,
  deleted: false,
  ...o,
});

test('merge rule: higher Lamport time wins, ties go to the higher owner id', () => {
  const cases: [string, Partial<EntryRecord>, Partial<EntryRecord> | undefined, boolean][] = [
    ['new entry', {}, undefined, true],
    ['newer', { ltime: 5 }, { ltime: 4 }, true],
    ['older', { ltime: 3 }, { ltime: 4 }, false],
    ['same write again', { ltime: 4 }, { ltime: 4 }, false],
    ['tie, higher owner', { ltime: 4, owner: 'b' }, { ltime: 4, owner: 'a' }, true],
    ['tie, lower owner', { ltime: 4, owner: 'a' }, { ltime: 4, owner: 'b' }, false],
    ['stale update vs tombstone', { ltime: 3 }, { ltime: 4, deleted: true }, false],
    ['newer tombstone', { ltime: 5, deleted: true }, { ltime: 4 }, true],
  ];
  for (const [name, inc, cur, want] of cases) {
    assert.equal(supersedes(rec(inc), cur && rec(cur)), want, name);
  }
});

test('store events: create, update, delete; tombstones are silent, kept, then reaped', () => {
  const s = new EntryStore(1000);
  assert.equal(s.apply(rec({ ltime: 1 }), 0).event?.type, 'create');
  assert.equal(s.apply(rec({ ltime: 2, value: 'dw==' }), 0).event?.type, 'update');
  assert.deepEqual(s.apply(rec({ ltime: 3, value: 'dw==' }), 0), { applied: true }, 'same value: no event');
  const del = s.apply(rec({ ltime: 4, deleted: true, value: '' }), 10);
  assert.equal(del.event?.type, 'delete');
  assert.equal(del.event?.value, 'dw==', 'a delete reports the last value');
  assert.deepEqual(s.apply(rec({ ltime: 3 }), 20), { applied: false });
  // A tombstone for an entry never seen is stored (it will beat a late create) but raises nothing.
  const ghost = s.apply(rec({ key: 'g', ltime: 7, deleted: true }), 20);
  assert.equal(ghost.applied, true);
  assert.equal(ghost.event, undefined);
  s.reap(1009);
  assert.equal(s.all().length, 2);
  s.reap(1010);
  assert.equal(s.all().length, 1);
  s.reap(1020);
  assert.equal(s.all().length, 0);
});

test('tombstoning by owner removes only live entries of that owner, with delete events', () => {
  const s = new EntryStore(1000);
  s.apply(rec({ key: 'x', owner: 'a' }), 0);
  s.apply(rec({ key: 'y', owner: 'b' }), 0);
  s.apply(rec({ key: 'z', owner: 'a', deleted: true }), 0);
  const evs = s.tombstoneWhere((e) => e.owner === 'a', 5);
  assert.deepEqual(
    evs.map((e) => [e.type, e.key]),
    [['delete', 'x']],
  );
  assert.equal(s.get('t', 'n', 'y')?.deleted, false);
});
