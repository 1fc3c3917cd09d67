// Node references as users type them: id, id prefix, hostname. Issue 18, fault 6: a removed node's
// tombstone kept its hostname "ambiguous (2 nodes)" for good after the host joined again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newTestStore, sampleNode, sampleTask } from '../store/test-fixtures.js';
import { findNode, tasksFor } from './lookup.js';

const withHost = (id: string, hostname: string, removed = false) => {
  const n = sampleNode(id, { removed });
  return { ...n, description: { ...n.description!, hostname } };
};

test('a removed node matches no reference: its hostname and id prefix go to the live node', async () => {
  const { store } = newTestStore();
  await store.update((tx) => {
    tx.create('node', withHost('abc111', 'node2', true));
    tx.create('node', withHost('abc222', 'node2'));
    tx.create('node', withHost('zzz333', 'node3'));
  });
  store.view((tx) => {
    assert.equal(findNode(tx, 'node2').id, 'abc222');
    assert.equal(findNode(tx, 'abc').id, 'abc222', 'the only live node with that prefix');
    assert.equal(findNode(tx, 'abc222').id, 'abc222');
    assert.throws(() => findNode(tx, 'abc111'), /node abc111 not found/);
    assert.throws(() => findNode(tx, 'nosuch'), /node nosuch not found/);
    assert.throws(() => findNode(tx, ''), /required/);
  });
});

test('two live nodes with one hostname stay ambiguous, with the way out in the message', async () => {
  const { store } = newTestStore();
  await store.update((tx) => {
    tx.create('node', withHost('abc111', 'node2'));
    tx.create('node', withHost('abc222', 'node2'));
  });
  store.view((tx) => {
    assert.throws(() => findNode(tx, 'node2'), /hostname node2 is ambiguous \(2 nodes\): use an id/);
    assert.throws(() => findNode(tx, 'abc'), /node abc is ambiguous \(2 matches\): use a longer id/);
  });
});

test('service logs of a name that is neither a service nor a task: "service NAME not found" (issue 18, fault 9)', async () => {
  const { store } = newTestStore();
  await store.update((tx) => {
    tx.create('task', sampleTask('task111', 'n1', 'running'));
  });
  store.view((tx) => {
    assert.throws(() => tasksFor(tx, ['nosuch']), /^GrpcError: service nosuch not found$/);
    assert.deepEqual(
      tasksFor(tx, ['task111']).map((t) => t.id),
      ['task111'],
    );
  });
});
