import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidSnapshotError } from './errors.js';
import { InMemoryLog } from './in-memory-log.js';
import { newStore, newTestStore, sampleCluster, sampleManager, sampleNode } from './test-fixtures.js';

async function busyStore() {
  const t = newTestStore();
  await t.store.update((tx) => {
    tx.create('cluster', sampleCluster('c1'));
    tx.create('node', sampleManager('m1', 1));
  });
  for (const id of ['w3', 'w1', 'w2']) await t.store.update((tx) => tx.create('node', sampleNode(id)));
  await t.store.update((tx) => tx.update('node', { ...tx.get('node', 'w1')!, role: 'manager' }));
  await t.store.update((tx) => tx.delete('node', 'w3'));
  return t;
}

test('snapshot → restore round-trips objects, versions, indexes and the applied index', async () => {
  const { store } = await busyStore();
  const bytes = store.snapshot();
  const other = newTestStore().store;
  const events = other.watch();
  other.restore(bytes);
  assert.deepEqual(other.snapshot(), bytes);
  assert.equal(other.appliedIndex, store.appliedIndex);
  assert.deepEqual(
    other.view((tx) => tx.get('node', 'w1')),
    store.view((tx) => tx.get('node', 'w1')),
  );
  assert.deepEqual(
    other.view((tx) =>
      tx
        .find('node', 'role', 'manager')
        .map((n) => n.id)
        .sort(),
    ),
    ['m1', 'w1'],
  );
  assert.deepEqual(
    other.view((tx) => tx.find('node', 'raftId', 1).map((n) => n.id)),
    ['m1'],
  );
  assert.deepEqual(events.drain(), [{ type: 'restored', index: store.appliedIndex }]);
  // Restored objects are frozen like applied ones.
  assert.throws(() => {
    (other.view((tx) => tx.get('node', 'w1'))!.status as { state: string }).state = 'down';
  }, TypeError);
});

test('snapshot bytes are stable: equal stores give equal bytes whatever the order of writes and keys', () => {
  const a = newTestStore().store;
  const b = newTestStore().store;
  const text = (s: object) => new TextEncoder().encode(JSON.stringify(s));
  const node = (id: string) => ({ kind: 'node', op: 'create', object: sampleNode(id) });
  // The same two objects, created in opposite orders and with their keys in a different order.
  const reversedKeys = (id: string) => {
    const o = sampleNode(id) as unknown as Record<string, unknown>;
    return { kind: 'node', op: 'create', object: Object.fromEntries(Object.entries(o).reverse()) };
  };
  const batch = (actions: object[]) =>
    text({ v: 1, requestId: 'r', at: '2026-11-22T05:00:00.000Z', actions });
  a.applyCommitted(batch([node('x'), node('y')]), 1);
  b.applyCommitted(batch([reversedKeys('y'), reversedKeys('x')]), 1);
  assert.deepEqual(a.snapshot(), b.snapshot());
  const parsed = JSON.parse(Buffer.from(a.snapshot()).toString()) as {
    v: number;
    objects: { node: { id: string }[] };
  };
  assert.equal(parsed.v, 1);
  assert.deepEqual(
    parsed.objects.node.map((n) => n.id),
    ['x', 'y'],
  );
});

test('a restored store goes on applying the log after the snapshot, like its peers', async () => {
  const log = new InMemoryLog('sync');
  const { store: leader } = newStore(log);
  await leader.update((tx) => tx.create('node', sampleNode('n1')));
  const snap = leader.snapshot();
  await leader.update((tx) => tx.create('node', sampleNode('n2')));

  // A follower installed from the snapshot, then fed the entries after it (the earlier ones are ignored).
  const follower = newTestStore().store;
  follower.restore(snap);
  for (const e of log.entries) follower.applyCommitted(e.data, e.index);
  assert.deepEqual(follower.snapshot(), leader.snapshot());
});

test('restore replaces the state: objects absent from the snapshot are gone', async () => {
  const { store } = newTestStore();
  await store.update((tx) => tx.create('node', sampleNode('old')));
  const empty = newTestStore().store.snapshot();
  store.restore(empty);
  assert.equal(
    store.view((tx) => tx.list('node').length),
    0,
  );
  assert.deepEqual(
    store.view((tx) => tx.find('node', 'role', 'worker')),
    [],
  );
  assert.equal(store.appliedIndex, 0);
});

const badSnapshots: { name: string; text: string | Uint8Array; reason: RegExp }[] = [
  { name: 'not JSON', text: 'nope', reason: /not UTF-8 JSON/ },
  { name: 'a future version', text: '{"v":2,"index":1,"objects":{}}', reason: /format version 2/ },
  { name: 'a bad index', text: '{"v":1,"index":-1,"objects":{}}', reason: /index/ },
  {
    name: 'an unknown kind',
    text: '{"v":1,"index":1,"objects":{"widget":[]}}',
    reason: /unknown kind widget/,
  },
  {
    name: 'an object without meta',
    text: '{"v":1,"index":1,"objects":{"node":[{"id":"n"}]}}',
    reason: /meta/,
  },
  {
    name: 'an invalid object',
    text: JSON.stringify({
      v: 1,
      index: 1,
      objects: {
        node: [{ ...sampleNode('n'), role: 'king', meta: { version: 1, createdAt: '', updatedAt: '' } }],
      },
    }),
    reason: /role: must be one of/,
  },
  {
    name: 'a duplicate id',
    text: JSON.stringify({
      v: 1,
      index: 1,
      objects: {
        node: [1, 2].map(() => ({ ...sampleNode('n'), meta: { version: 1, createdAt: '', updatedAt: '' } })),
      },
    }),
    reason: /duplicate id n/,
  },
];

for (const s of badSnapshots) {
  test(`restore refuses a bad snapshot and keeps its state: ${s.name}`, async () => {
    const { store } = newTestStore();
    await store.update((tx) => tx.create('node', sampleNode('keep')));
    const before = store.snapshot();
    const events = store.watch();
    const bytes = typeof s.text === 'string' ? new TextEncoder().encode(s.text) : s.text;
    assert.throws(
      () => store.restore(bytes),
      (err) => err instanceof InvalidSnapshotError && s.reason.test(err.message),
    );
    assert.deepEqual(store.snapshot(), before);
    assert.deepEqual(events.drain(), []);
  });
}

test('a "__proto__" label survives apply, snapshot and restore as a plain key', async () => {
  const { store } = newTestStore();
  const labels = JSON.parse('{"__proto__":"x","zone":"a"}') as Record<string, string>;
  await store.update((tx) =>
    tx.create('node', sampleNode('n1', { spec: { role: 'worker', availability: 'active', labels } })),
  );
  const other = newTestStore().store;
  other.restore(store.snapshot());
  const restored = other.view((tx) => tx.get('node', 'n1'))!.spec.labels;
  assert.deepEqual(Object.entries(restored).sort(), [
    ['__proto__', 'x'],
    ['zone', 'a'],
  ]);
  assert.deepEqual(other.snapshot(), store.snapshot());
});
