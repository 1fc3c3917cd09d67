import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcileGlobal } from './global.js';
import { T0, ctxAt, node, nodeMap, service, task } from './test-fixtures.js';

const svc = service('mon', { replicas: 'global' });
const gtask = (id: string, nodeId: string, o: Parameters<typeof task>[2] = {}) =>
  task(id, svc, { slot: 0, nodeId, ...o });
const desired = (p: { setDesired: { taskId: string; desiredState: string }[] }) =>
  Object.fromEntries(p.setDesired.map((c) => [c.taskId, c.desiredState]));

test('global: one task per ready active node, slot 0, pinned to its node', () => {
  const nodes = nodeMap(
    node('b'),
    node('a'),
    node('c', { state: 'down' }),
    node('d', { availability: 'pause' }),
  );
  const plan = reconcileGlobal(svc, [], nodes, ctxAt(T0));
  assert.deepEqual(
    plan.create.map((t) => [t.slot, t.nodeId, t.desiredState]),
    [
      [0, 'a', 'running'],
      [0, 'b', 'running'],
    ],
  );
});

test('global: nodes already served get nothing; a paused node keeps its task', () => {
  const nodes = nodeMap(node('a'), node('p', { availability: 'pause' }));
  const plan = reconcileGlobal(svc, [gtask('ta', 'a'), gtask('tp', 'p')], nodes, ctxAt(T0));
  assert.deepEqual([plan.create, plan.setDesired], [[], []]);
});

for (const [why, n] of [
  ['drained', node('a', { availability: 'drain' })],
  ['down', node('a', { state: 'down' })],
  ['removed', node('a', { removed: true })],
] as const) {
  test(`global: the task of a ${why} node is shut down and not replaced`, () => {
    const plan = reconcileGlobal(svc, [gtask('ta', 'a')], nodeMap(n), ctxAt(T0));
    assert.deepEqual([desired(plan), plan.create], [{ ta: 'shutdown' }, []]);
  });
}

test('global: a node that left the store has its task shut down', () => {
  const plan = reconcileGlobal(svc, [gtask('tx', 'x')], nodeMap(node('a')), ctxAt(T0));
  assert.deepEqual(desired(plan), { tx: 'shutdown' });
  assert.deepEqual(
    plan.create.map((t) => t.nodeId),
    ['a'],
  );
});

test('global: the placement predicate excludes nodes and evicts tasks on nodes it rejects', () => {
  const nodes = nodeMap(node('a'), node('b'));
  const onlyA = (n: { id: string }) => n.id === 'a';
  const plan = reconcileGlobal(svc, [gtask('tb', 'b')], nodes, ctxAt(T0), onlyA);
  assert.deepEqual(desired(plan), { tb: 'shutdown' });
  assert.deepEqual(
    plan.create.map((t) => t.nodeId),
    ['a'],
  );
});

test('global: a failed task is restarted on the same node; on a paused node it waits', () => {
  const failed = gtask('ta', 'a', { state: 'failed' });
  const plan = reconcileGlobal(svc, [failed], nodeMap(node('a')), ctxAt(T0));
  assert.deepEqual(desired(plan), { ta: 'shutdown' });
  assert.deepEqual(
    plan.create.map((t) => [t.slot, t.nodeId]),
    [[0, 'a']],
  );
  const paused = reconcileGlobal(svc, [failed], nodeMap(node('a', { availability: 'pause' })), ctxAt(T0));
  assert.deepEqual([paused.create, paused.setDesired], [[], []]);
});

test('global: a stopping task holds its node until it reports terminal', () => {
  const stopping = gtask('ta', 'a', { desired: 'shutdown' });
  assert.deepEqual(reconcileGlobal(svc, [stopping], nodeMap(node('a')), ctxAt(T0)).create, []);
});
