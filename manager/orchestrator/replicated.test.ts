import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CREATE_PACE, reconcileReplicated } from './replicated.js';
import { RESTART_HOLD_STATE, taskDisplayName } from './tasks.js';
import { T0, ctxAt, node, nodeMap, service, task } from './test-fixtures.js';

const nodes = nodeMap(node('a'), node('b'), node('c'));
const desired = (p: { setDesired: { taskId: string; desiredState: string }[] }) =>
  Object.fromEntries(p.setDesired.map((c) => [c.taskId, c.desiredState]));

test('replicated: a new service gets one task per slot 1..replicas, from its spec, desired running', () => {
  const svc = service('web', { replicas: 3, specVersion: 4 });
  const plan = reconcileReplicated(svc, [], nodes, ctxAt(T0));
  assert.deepEqual(
    plan.create.map((t) => [
      t.id,
      t.slot,
      t.nodeId,
      t.desiredState,
      t.status.state,
      t.specVersion,
      t.serviceName,
    ]),
    [
      ['n1', 1, '', 'running', 'new', 4, 'web'],
      ['n2', 2, '', 'running', 'new', 4, 'web'],
      ['n3', 3, '', 'running', 'new', 4, 'web'],
    ],
  );
  assert.deepEqual(plan.setDesired, []);
});

test('replicated: a settled service plans nothing', () => {
  const svc = service('web', { replicas: 2 });
  const tasks = [task('t1', svc, { slot: 1, nodeId: 'a' }), task('t2', svc, { slot: 2, nodeId: 'b' })];
  const plan = reconcileReplicated(svc, tasks, nodes, ctxAt(T0));
  assert.deepEqual([plan.create, plan.setDesired, plan.remove, plan.wakeAt], [[], [], [], undefined]);
});

test('replicated: scale-up fills the lowest free slots, reusing slots that only hold history', () => {
  const svc = service('web', { replicas: 4 });
  const tasks = [
    task('t2', svc, { slot: 2 }),
    task('old1', svc, { slot: 1, desired: 'shutdown', state: 'shutdown' }),
    task('t5', svc, { slot: 5 }),
  ];
  const plan = reconcileReplicated(svc, tasks, nodes, ctxAt(T0));
  assert.deepEqual(
    plan.create.map((t) => t.slot),
    [1, 3],
  );
});

test('replicated: scale-down empties the highest slots when load is even', () => {
  const svc = service('web', { replicas: 1 });
  const tasks = [
    task('t1', svc, { slot: 1, nodeId: 'a' }),
    task('t2', svc, { slot: 2, nodeId: 'b' }),
    task('t3', svc, { slot: 3, nodeId: 'c' }),
  ];
  assert.deepEqual(desired(reconcileReplicated(svc, tasks, nodes, ctxAt(T0))), {
    t3: 'shutdown',
    t2: 'shutdown',
  });
});

test('replicated: scale-down prefers tasks not running, then the most loaded node, then the highest slot', () => {
  const svc = service('web', { replicas: 3 });
  const tasks = [
    task('t1', svc, { slot: 1, nodeId: 'a' }),
    task('t2', svc, { slot: 2, nodeId: 'a' }),
    task('t3', svc, { slot: 3, nodeId: 'b' }),
    task('t4', svc, { slot: 4, nodeId: 'c' }),
    task('t5', svc, { slot: 5, nodeId: 'c', state: 'pending' }),
  ];
  // t5 is not running (free to drop); then a and c tie... c lost t5 so a (2 tasks) is the heaviest.
  assert.deepEqual(desired(reconcileReplicated(svc, tasks, nodes, ctxAt(T0))), {
    t5: 'shutdown',
    t2: 'shutdown',
  });
});

test('replicated: a slot whose old task is still stopping is not refilled (stop-first gap)', () => {
  const svc = service('web', { replicas: 1 });
  const stopping = task('t1', svc, { slot: 1, nodeId: 'a', desired: 'shutdown', state: 'running' });
  assert.deepEqual(reconcileReplicated(svc, [stopping], nodes, ctxAt(T0)).create, []);
  const stopped = { ...stopping, status: { ...stopping.status, state: 'shutdown' as const } };
  assert.deepEqual(
    reconcileReplicated(svc, [stopped], nodes, ctxAt(T0)).create.map((t) => t.slot),
    [1],
  );
});

test('replicated: a stopping task on a down node no longer holds its slot', () => {
  const svc = service('web', { replicas: 1 });
  const stopping = task('t1', svc, { slot: 1, nodeId: 'x', desired: 'shutdown' });
  const down = nodeMap(node('x', { state: 'down' }));
  assert.deepEqual(
    reconcileReplicated(svc, [stopping], down, ctxAt(T0)).create.map((t) => t.slot),
    [1],
  );
});

for (const [why, n] of [
  ['down', node('a', { state: 'down' })],
  ['drained', node('a', { availability: 'drain' })],
  ['removed', node('a', { removed: true })],
] as const) {
  test(`replicated: a task on a ${why} node is shut down and replaced at once, unassigned, without delay`, () => {
    const svc = service('web', { replicas: 1, restart: { delayMs: 5_000 } });
    const plan = reconcileReplicated(svc, [task('t1', svc, { slot: 1, nodeId: 'a' })], nodeMap(n), ctxAt(T0));
    assert.deepEqual(desired(plan), { t1: 'shutdown' });
    assert.deepEqual(
      plan.create.map((t) => [t.slot, t.nodeId, t.desiredState]),
      [[1, '', 'running']],
    );
  });
}

test('replicated: a task on a vanished node is replaced; on a paused node it stays', () => {
  const svc = service('web', { replicas: 2 });
  const tasks = [task('t1', svc, { slot: 1, nodeId: 'gone' }), task('t2', svc, { slot: 2, nodeId: 'p' })];
  const plan = reconcileReplicated(svc, tasks, nodeMap(node('p', { availability: 'pause' })), ctxAt(T0));
  assert.deepEqual(desired(plan), { t1: 'shutdown' });
  assert.deepEqual(
    plan.create.map((t) => t.slot),
    [1],
  );
});

test('replicated: a failed task is restarted in its slot, held for the restart delay', () => {
  const svc = service('web', { replicas: 1, restart: { delayMs: 5_000 } });
  const failed = task('t1', svc, { slot: 1, state: 'failed', statusAt: T0 + 1_000 });
  const plan = reconcileReplicated(svc, [failed], nodes, ctxAt(T0 + 2_000));
  assert.deepEqual(desired(plan), { t1: 'shutdown' });
  assert.deepEqual(
    plan.create.map((t) => [t.slot, t.desiredState, t.status.message]),
    [[1, RESTART_HOLD_STATE, 'restarting in 5s']],
  );
  assert.equal(plan.wakeAt, T0 + 7_000);
});

test('replicated: two alive tasks of one version in a slot: the most advanced stays', () => {
  const svc = service('web', { replicas: 1 });
  const tasks = [
    task('t1', svc, { slot: 1, state: 'pending' }),
    task('t2', svc, { slot: 1, state: 'running' }),
  ];
  assert.deepEqual(desired(reconcileReplicated(svc, tasks, nodes, ctxAt(T0))), { t1: 'shutdown' });
});

test('task display names: <service>.<slot>, or <service>.<node> for a global task', () => {
  assert.equal(taskDisplayName({ serviceName: 'web', slot: 3, nodeId: 'n1' }), 'web.3');
  assert.equal(taskDisplayName({ serviceName: 'mon', slot: 0, nodeId: 'n1' }), 'mon.n1');
});

test('replicated: scale-up is paced, a batch per pass and a wake-up for the next (issue 18, fault 1)', () => {
  // One plan used to hold every missing task: 1,000,000 of them took the manager past 1.7 GB.
  const svc = service('huge', { replicas: 1_000_000 });
  const first = reconcileReplicated(svc, [], nodes, ctxAt(T0));
  assert.equal(first.create.length, CREATE_PACE.tasks);
  assert.equal(first.wakeAt, T0 + CREATE_PACE.intervalMs);
  // The next pass starts after what the first made (their slots are taken).
  const made = first.create.map((t) => ({ ...t, meta: { version: 1, createdAt: '', updatedAt: '' } }));
  const second = reconcileReplicated(svc, made, nodes, ctxAt(T0 + CREATE_PACE.intervalMs));
  assert.equal(second.create.length, CREATE_PACE.tasks);
  assert.equal(second.create[0]!.slot, CREATE_PACE.tasks + 1);
  // A small scale-up is one pass with no wake-up.
  const small = reconcileReplicated(service('web', { replicas: 3 }), [], nodes, ctxAt(T0));
  assert.equal(small.create.length, 3);
  assert.equal(small.wakeAt, undefined);
});
