import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExistsError, NotFoundError, SequenceConflictError, TransactionClosedError } from './errors.js';
import { Table } from './tables.js';
import type { ReadTx } from './tx.js';
import type { SwarmObjects } from '../../api/objects/index.js';
import { newTestStore, sampleCluster, sampleManager, sampleNode } from './test-fixtures.js';

const ids = (objs: { id: string }[]) => objs.map((o) => o.id).sort();

async function populated() {
  const t = newTestStore();
  await t.store.update((tx) => {
    tx.create('cluster', sampleCluster('c1', 'Default'));
    tx.create('node', sampleManager('m1', 1));
    tx.create('node', sampleManager('m2', 2));
    tx.create('node', sampleNode('w1', { description: { ...sampleNode('x').description, hostname: 'Box' } }));
    tx.create('node', sampleNode('w2', { description: { ...sampleNode('x').description, hostname: 'box' } }));
  });
  return t;
}

test('secondary indexes: role, availability, raftId, case-insensitive non-unique hostname', async () => {
  const { store } = await populated();
  store.view((tx) => {
    assert.deepEqual(ids(tx.find('node', 'role', 'manager')), ['m1', 'm2']);
    assert.deepEqual(ids(tx.find('node', 'role', 'worker')), ['w1', 'w2']);
    assert.deepEqual(ids(tx.find('node', 'availability', 'active')), ['m1', 'm2', 'w1', 'w2']);
    assert.deepEqual(ids(tx.find('node', 'raftId', 2)), ['m2']);
    assert.deepEqual(ids(tx.find('node', 'raftId', '1')), ['m1']);
    assert.deepEqual(ids(tx.find('node', 'hostname', 'BOX')), ['w1', 'w2']);
    assert.deepEqual(ids(tx.find('cluster', 'name', 'default')), ['c1']);
    assert.deepEqual(tx.find('node', 'state', 'down'), []);
    assert.throws(() => tx.find('node', 'colour', 'red'), /no index colour/);
  });
});

test('indexes follow updates and deletes', async () => {
  const { store } = await populated();
  await store.update((tx) => {
    const w1 = tx.get('node', 'w1')!;
    tx.update('node', {
      ...w1,
      spec: { ...w1.spec, availability: 'drain' },
      status: { ...w1.status, state: 'down' },
    });
    tx.delete('node', 'm2');
  });
  store.view((tx) => {
    assert.deepEqual(ids(tx.find('node', 'availability', 'drain')), ['w1']);
    assert.deepEqual(ids(tx.find('node', 'availability', 'active')), ['m1', 'w2']);
    assert.deepEqual(ids(tx.find('node', 'state', 'down')), ['w1']);
    assert.deepEqual(tx.find('node', 'raftId', 2), []);
    assert.deepEqual(ids(tx.find('node', 'role', 'manager')), ['m1']);
  });
});

test('findByIdPrefix: exact, unique prefix, none, ambiguity listed', async () => {
  const { store } = newTestStore();
  await store.update((tx) => {
    for (const id of ['3f2a9', '3f2b1', '3f2b17', '7c0']) tx.create('node', sampleNode(id));
  });
  const lookup = (p: string) => store.view((tx: ReadTx<SwarmObjects>) => tx.findByIdPrefix('node', p));
  assert.deepEqual(lookup('3f2'), { status: 'ambiguous', ids: ['3f2a9', '3f2b1', '3f2b17'] });
  assert.equal(lookup('3f2a').status === 'found' && lookup('3f2a').status, 'found');
  const a = lookup('3f2a');
  assert.equal(a.status === 'found' ? a.object.id : undefined, '3f2a9');
  // A full id is found even though a longer id starts with it.
  const exact = lookup('3f2b1');
  assert.equal(exact.status === 'found' ? exact.object.id : undefined, '3f2b1');
  assert.deepEqual(lookup('3f2b'), { status: 'ambiguous', ids: ['3f2b1', '3f2b17'] });
  assert.deepEqual(lookup('9'), { status: 'none' });
  assert.deepEqual(lookup(''), { status: 'none' });
});

test('reads are frozen: callers cannot change the store through them', async () => {
  const { store } = await populated();
  const n = store.view((tx) => tx.get('node', 'w1'))!;
  assert.throws(() => {
    (n.spec as { availability: string }).availability = 'drain';
  }, TypeError);
  assert.throws(() => {
    n.spec.labels.x = 'y';
  }, TypeError);
  assert.equal(store.view((tx) => tx.get('node', 'w1'))!.spec.availability, 'active');
  // list() hands out a fresh array each time: changing it does not change the store either.
  const all = store.view((tx) => tx.list('node'));
  all.length = 0;
  assert.equal(
    store.view((tx) => tx.list('node').length),
    4,
  );
});

test('a write transaction reads its own writes, in get, list, find and prefix lookup', async () => {
  const { store, log } = await populated();
  const before = log.entries.length;
  await store.update((tx) => {
    const created = tx.create('node', sampleNode('w3'));
    assert.equal(created.meta.version, 0);
    assert.equal(tx.get('node', 'w3')?.id, 'w3');
    assert.deepEqual(ids(tx.find('node', 'role', 'worker')), ['w1', 'w2', 'w3']);
    const w1 = tx.get('node', 'w1')!;
    tx.update('node', { ...w1, role: 'manager' });
    assert.deepEqual(ids(tx.find('node', 'role', 'worker')), ['w2', 'w3']);
    assert.deepEqual(ids(tx.find('node', 'role', 'manager')), ['m1', 'm2', 'w1']);
    tx.delete('node', 'm1');
    assert.equal(tx.get('node', 'm1'), undefined);
    assert.deepEqual(ids(tx.list('node')), ['m2', 'w1', 'w2', 'w3']);
    const p = tx.findByIdPrefix('node', 'w');
    assert.deepEqual(p, { status: 'ambiguous', ids: ['w1', 'w2', 'w3'] });
  });
  assert.equal(log.entries.length, before + 1, 'one transaction is one entry');
  assert.deepEqual(ids(store.view((tx) => tx.list('node'))), ['m2', 'w1', 'w2', 'w3']);
});

test('one action per object: create+update is a create, create+delete is nothing, update+update keeps the read version', async () => {
  const { store, log } = await populated();
  const before = log.entries.length;
  await store.update((tx) => {
    const n = tx.create('node', sampleNode('tmp'));
    tx.update('node', { ...n, role: 'manager' });
    tx.delete('node', 'tmp');
  });
  assert.equal(log.entries.length, before, 'a transaction that nets out to nothing proposes nothing');

  const w1Version = store.view((tx) => tx.get('node', 'w1')!.meta.version);
  await store.update((tx) => {
    const a = tx.update('node', { ...tx.get('node', 'w1')!, role: 'manager' });
    tx.update('node', { ...a, spec: { ...a.spec, labels: { zone: 'a' } } });
    const n = tx.create('node', sampleNode('w9'));
    tx.update('node', { ...n, role: 'manager' });
  });
  const batch = JSON.parse(Buffer.from(log.entries.at(-1)!.data).toString()) as {
    actions: { op: string; expectedVersion?: number; object: { id: string; role: string } }[];
  };
  assert.deepEqual(
    batch.actions.map((a) => [a.op, a.object.id, a.expectedVersion, a.object.role]),
    [
      ['update', 'w1', w1Version, 'manager'],
      ['create', 'w9', undefined, 'manager'],
    ],
  );
  const w1 = store.view((tx) => tx.get('node', 'w1'))!;
  assert.deepEqual([w1.role, w1.spec.labels], ['manager', { zone: 'a' }]);
});

test('a write transaction fails early on what apply would refuse', async () => {
  const { store } = await populated();
  await assert.rejects(
    store.update((tx) => tx.create('node', sampleNode('w1'))),
    ExistsError,
  );
  await assert.rejects(
    store.update((tx) => tx.update('node', { ...tx.get('node', 'w1')!, id: 'nope' })),
    NotFoundError,
  );
  await assert.rejects(
    store.update((tx) => tx.delete('node', 'nope')),
    NotFoundError,
  );
  const stale = store.view((tx) => tx.get('node', 'w1'))!;
  await store.update((tx) => tx.update('node', { ...stale, role: 'manager' }));
  await assert.rejects(
    store.update((tx) => tx.update('node', stale)),
    SequenceConflictError,
  );
  await assert.rejects(
    store.update((tx) => tx.delete('node', stale)),
    SequenceConflictError,
  );
  await assert.rejects(
    store.update((tx) => {
      tx.delete('node', 'w1');
      tx.create('node', sampleNode('w1'));
    }),
    /cannot be re-created/,
  );
});

test('a transaction used after its callback returned throws', async () => {
  const { store } = await populated();
  let leaked: ReadTx<SwarmObjects> | undefined;
  store.view((tx) => (leaked = tx));
  assert.throws(() => leaked!.get('node', 'w1'), TransactionClosedError);
  let leakedWrite: ReadTx<SwarmObjects> | undefined;
  await store.update((tx) => (leakedWrite = tx));
  assert.throws(() => leakedWrite!.list('node'), TransactionClosedError);
});

test('a replaced object moves only the index keys that changed, and keeps the ones it shares', () => {
  type Tagged = {
    id: string;
    meta: { version: number; createdAt: string; updatedAt: string };
    tags: string[];
  };
  const table = new Table<Tagged>('tagged', {
    indexes: [{ name: 'tag', keys: (o) => o.tags }],
    validate: () => undefined,
  });
  const tagged = (id: string, tags: string[]): Tagged => ({
    id,
    meta: { version: 1, createdAt: '', updatedAt: '' },
    tags,
  });
  const under = (tag: string) => ids(table.find('tag', tag));
  table.put(tagged('a', ['x', 'y']));
  table.put(tagged('b', ['y']));
  table.put(tagged('a', ['x', 'y'])); // same keys: nothing moves
  assert.deepEqual([under('x'), under('y')], [['a'], ['a', 'b']]);
  table.put(tagged('a', ['y', 'z'])); // x left, y shared with b stays, z new
  assert.deepEqual([under('x'), under('y'), under('z')], [[], ['a', 'b'], ['a']]);
  table.put(tagged('a', ['z', 'y'])); // same keys in another order: still indexed under both
  assert.deepEqual([under('y'), under('z')], [['a', 'b'], ['a']]);
  table.remove('a');
  assert.deepEqual([under('y'), under('z')], [['b'], []]);
});
