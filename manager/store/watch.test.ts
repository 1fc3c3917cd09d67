import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WatchOverflowError } from './errors.js';
import type { Node, SwarmObjects } from '../../api/objects/index.js';
import { newTestStore, sampleCluster, sampleNode } from './test-fixtures.js';
import type { StoreEvent } from './watch.js';

type Ev = StoreEvent<SwarmObjects>;
const describe = (e: Ev) =>
  e.type === 'object' ? `${e.index} ${e.op} ${e.kind} ${e.object.id}` : `${e.index} ${e.type}`;

test('events arrive after apply, in commit order, one per action in action order', async () => {
  const { store } = newTestStore('async');
  const sub = store.watch({ commits: true });
  const first = store.update((tx) => {
    tx.create('node', sampleNode('b'));
    tx.create('node', sampleNode('a'));
    tx.create('cluster', sampleCluster('c'));
  });
  const second = store.update((tx) => tx.create('node', sampleNode('d')));
  assert.equal(sub.pending, 0, 'nothing is announced before it is applied');
  await Promise.all([first, second]);
  assert.deepEqual(sub.drain().map(describe), [
    '1 create node b',
    '1 create node a',
    '1 create cluster c',
    '1 commit',
    '2 create node d',
    '2 commit',
  ]);
});

test('update events carry the old object; delete events carry the removed object', async () => {
  const { store } = newTestStore();
  await store.update((tx) => tx.create('node', sampleNode('n1')));
  const sub = store.watch();
  await store.update((tx) => tx.update('node', { ...tx.get('node', 'n1')!, role: 'manager' }));
  await store.update((tx) => tx.delete('node', 'n1'));
  const [upd, del] = sub.drain();
  assert.ok(upd?.type === 'object' && upd.op === 'update' && upd.kind === 'node');
  assert.equal(upd.object.role, 'manager');
  assert.equal(upd.oldObject?.role, 'worker');
  assert.equal(upd.oldObject?.meta.version, 1);
  assert.ok(del?.type === 'object' && del.op === 'delete' && del.kind === 'node');
  assert.equal(del.object.role, 'manager');
  assert.equal(del.object.meta.version, 2);
});

test('filters: by kind, by op, by predicate; commit events only when asked', async () => {
  const { store } = newTestStore();
  const clusters = store.watch({ kinds: ['cluster'] });
  const deletes = store.watch({ ops: ['delete'] });
  const managers = store.watch({
    kinds: ['node'],
    predicate: (e) => e.kind === 'node' && e.object.role === 'manager',
  });
  await store.update((tx) => {
    tx.create('cluster', sampleCluster('c1'));
    tx.create('node', sampleNode('w1'));
    tx.create('node', sampleNode('m1', { role: 'manager' }));
  });
  await store.update((tx) => tx.delete('node', 'w1'));
  assert.deepEqual(clusters.drain().map(describe), ['1 create cluster c1']);
  assert.deepEqual(deletes.drain().map(describe), ['2 delete node w1']);
  assert.deepEqual(managers.drain().map(describe), ['1 create node m1']);
});

test('async iteration delivers events as they commit and ends on close()', async () => {
  const { store } = newTestStore('async');
  const sub = store.watch({ kinds: ['node'] });
  const seen: string[] = [];
  const consumer = (async () => {
    for await (const e of sub) {
      seen.push(describe(e));
      if (seen.length === 3) sub.close();
    }
  })();
  for (const id of ['a', 'b', 'c']) await store.update((tx) => tx.create('node', sampleNode(id)));
  await consumer;
  assert.deepEqual(seen, ['1 create node a', '2 create node b', '3 create node c']);
  assert.equal(sub.closed, true);
  await store.update((tx) => tx.create('node', sampleNode('d')));
  assert.equal(sub.pending, 0, 'a closed subscription receives nothing more');
});

test('a slow subscriber is closed with WatchOverflowError instead of queueing without bound', async () => {
  const { store } = newTestStore();
  const slow = store.watch({ kinds: ['node'] }, { queueLimit: 3 });
  const fast = store.watch({ kinds: ['node'] });
  for (const id of ['a', 'b', 'c']) await store.update((tx) => tx.create('node', sampleNode(id)));
  assert.equal(slow.closed, false);
  await store.update((tx) => tx.create('node', sampleNode('d')));
  assert.equal(slow.closed, true);
  assert.ok(slow.error instanceof WatchOverflowError);
  assert.equal(slow.pending, 0, 'its queue is dropped at once');
  await assert.rejects(slow.next(), WatchOverflowError);
  assert.throws(() => slow.drain(), WatchOverflowError);
  // Other subscribers are unaffected and the store keeps applying.
  assert.equal(fast.drain().length, 4);
  await store.update((tx) => tx.create('node', sampleNode('e')));
  assert.equal(fast.drain().length, 1);
});

test('a consumer that keeps up is never closed, however many events pass', async () => {
  const { store } = newTestStore();
  const sub = store.watch({}, { queueLimit: 2 });
  for (let i = 0; i < 50; i++) {
    await store.update((tx) => tx.create('node', sampleNode(`n${i}`)));
    assert.equal((await sub.next()).done, false);
  }
  assert.equal(sub.closed, false);
});

test('a throwing predicate closes only its own subscription; apply goes on', async () => {
  const { store } = newTestStore();
  const bad = store.watch({
    predicate: () => {
      throw new Error('boom');
    },
  });
  const good = store.watch();
  await store.update((tx) => tx.create('node', sampleNode('n1')));
  assert.equal(bad.closed, true);
  assert.match(bad.error?.message ?? '', /boom/);
  assert.equal(good.drain().length, 1);
  assert.ok(store.view((tx) => tx.get('node', 'n1')));
});

test('viewAndWatch: the state read plus the events that follow is exactly the final state', async () => {
  const { store, log } = newTestStore('manual');
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  // Node availability goes through several versions while watchers start at every point in between.
  const updates: Promise<unknown>[] = ids.map((id) =>
    store.update((tx) => tx.create('node', sampleNode(id))),
  );
  const watchers: { seen: Map<string, Node>; sub: ReturnType<typeof store.watch>; at: number }[] = [];
  const start = () => {
    const { value, subscription } = store.viewAndWatch(
      (tx) => ({ nodes: tx.list('node'), at: store.appliedIndex }),
      { kinds: ['node'] },
    );
    watchers.push({ seen: new Map(value.nodes.map((n) => [n.id, n])), sub: subscription, at: value.at });
  };
  start();
  log.flush();
  for (const id of ids) {
    start();
    updates.push(
      store.update((tx) => {
        const n = tx.get('node', id)!;
        tx.update('node', { ...n, spec: { ...n.spec, availability: 'drain' } });
      }),
    );
    start();
    log.flush();
  }
  start();
  updates.push(store.update((tx) => tx.delete('node', 'c')));
  log.flush();
  start();
  await Promise.all(updates);

  const final = store.view((tx) => new Map(tx.list('node').map((n) => [n.id, n])));
  assert.equal(watchers.length, 15);
  for (const w of watchers) {
    for (const e of w.sub.drain()) {
      assert.ok(e.type === 'object' && e.kind === 'node');
      assert.ok(e.index > w.at, `an event at ${e.index} is not already in a view taken at ${w.at}`);
      if (e.op === 'create') assert.equal(w.seen.has(e.object.id), false, 'no duplicate create');
      else
        assert.equal(
          w.seen.get(e.object.id)?.meta.version,
          e.oldObject?.meta.version ?? e.object.meta.version,
        );
      if (e.op === 'delete') w.seen.delete(e.object.id);
      else w.seen.set(e.object.id, e.object);
    }
    assert.deepEqual(w.seen, final);
  }
});

test('close() keeps what was already queued: it can still be consumed, then iteration ends', async () => {
  const { store } = newTestStore();
  const sub = store.watch({ kinds: ['node'] });
  await store.update((tx) => tx.create('node', sampleNode('a')));
  await store.update((tx) => tx.create('node', sampleNode('b')));
  sub.close();
  await store.update((tx) => tx.create('node', sampleNode('c')));
  const first = await sub.next();
  assert.equal(first.done === false && describe(first.value), '1 create node a');
  assert.deepEqual(sub.drain().map(describe), ['2 create node b']);
  assert.deepEqual(await sub.next(), { done: true, value: undefined });
});
