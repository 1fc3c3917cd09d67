import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../rng.js';
import { Tables } from './tables.js';
import { defaultTablesConfig, type TableEvent } from './types.js';

function tables(alive = new Set(['x', 'y'])) {
  const syncs: [string, string[]][] = [];
  const events: TableEvent[] = [];
  const t = new Tables(
    'me',
    defaultTablesConfig,
    new Rng(1),
    { send: () => undefined, bulkSync: (to, nets) => syncs.push([to, nets]), event: (e) => events.push(e) },
    { isAlive: (n) => alive.has(n), clusterSize: () => alive.size + 1 },
    0,
  );
  return { t, syncs, events };
}

test('a node back from the dead regains its attachments and gets a bulk sync of shared networks', () => {
  const { t, syncs, events } = tables();
  t.joinNetwork('N', 0);
  t.joinNetwork('M', 0);
  t.receive({ t: 'net', node: 'x', network: 'N', joined: true, ltime: 5 }, 0);
  t.receive({ t: 'net', node: 'x', network: 'O', joined: true, ltime: 6 }, 0);
  t.receive(
    { t: 'entry', table: 'p', network: 'N', key: 'k', value: 'dg==', owner: 'x', ltime: 7, deleted: false },
    0,
  );
  t.nodeGone('x', 10);
  assert.deepEqual(t.peersOf('N'), []);
  assert.deepEqual(
    events.map((e) => e.type),
    ['create', 'delete'],
  );
  t.nodeBack('x', 20);
  assert.deepEqual(t.peersOf('N'), ['x']);
  assert.deepEqual(syncs.at(-1), ['x', ['N']]);
});

test('the owner defends its entry against a tombstone and retracts entries it does not hold', () => {
  const { t } = tables();
  t.joinNetwork('N', 0);
  t.setEntry('p', 'N', 'mine', 'dg==', 0);
  const mine = t.store.get('p', 'N', 'mine')!;
  // Peers tombstoned it when they thought we were dead; their bulk sync brings the tombstone back.
  t.mergeBulk([{ network: 'N', entries: [{ ...mine, deleted: true }] }], 1);
  const after = t.store.get('p', 'N', 'mine')!;
  assert.equal(after.deleted, false);
  assert.ok(after.ltime > mine.ltime);
  // An entry of ours from a previous life: retracted with a newer tombstone.
  t.mergeBulk(
    [
      {
        network: 'N',
        entries: [
          { table: 'p', network: 'N', key: 'old', value: 'eA==', owner: 'me', ltime: 40, deleted: false },
        ],
      },
    ],
    2,
  );
  const old = t.store.get('p', 'N', 'old')!;
  assert.equal(old.deleted, true);
  assert.ok(old.ltime > 40);
  assert.ok(t.lamport > 40, 'the Lamport clock witnessed the remote time');
});

test('entries of networks this node is not in are ignored; writes to them are refused', () => {
  const { t, events } = tables();
  t.receive(
    { t: 'entry', table: 'p', network: 'Z', key: 'k', value: 'dg==', owner: 'x', ltime: 1, deleted: false },
    0,
  );
  assert.equal(t.store.all().length, 0);
  assert.equal(events.length, 0);
  assert.throws(() => t.setEntry('p', 'Z', 'k', 'dg==', 0), /not attached/);
  t.joinNetwork('Z', 0);
  t.receive(
    { t: 'entry', table: 'p', network: 'Z', key: 'k', value: 'dg==', owner: 'x', ltime: 1, deleted: false },
    0,
  );
  assert.throws(() => t.deleteEntry('p', 'Z', 'k', 0), /owned by x/);
});
