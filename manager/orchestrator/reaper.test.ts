import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reapHistory, reapOrphans } from './reaper.js';
import { T0, node, nodeMap, service, task } from './test-fixtures.js';

const svc = service('web', { replicas: 2 });
const history = (slot: number, n: number) =>
  Array.from({ length: n }, (_, i) =>
    task(`s${slot}h${i}`, svc, { slot, desired: 'shutdown', state: 'failed', createdAt: T0 + i * 1000 }),
  );

test('reapHistory: keeps the 5 newest terminal tasks per slot and deletes the oldest', () => {
  const tasks = [...history(1, 8), task('live1', svc, { slot: 1 }), ...history(2, 5)];
  assert.deepEqual(
    reapHistory(tasks).remove.map((d) => d.taskId),
    ['s1h0', 's1h1', 's1h2'],
  );
});

test('reapHistory: a dead occupant counts towards the limit but is never deleted', () => {
  const dead = task('dead', svc, { slot: 1, state: 'failed', createdAt: T0 - 1 }); // oldest, still desired running
  const tasks = [dead, ...history(1, 5)];
  assert.deepEqual(
    reapHistory(tasks).remove.map((d) => d.taskId),
    ['s1h0'],
  );
});

test('reapHistory: the limit is a parameter; global slots are per node', () => {
  const g = service('mon', { replicas: 'global' });
  const tasks = ['a', 'a', 'b'].map((n, i) =>
    task(`g${i}`, g, { slot: 0, nodeId: n, desired: 'shutdown', state: 'shutdown', createdAt: T0 + i }),
  );
  assert.deepEqual(
    reapHistory(tasks, 1).remove.map((d) => d.taskId),
    ['g0'],
  );
});

test('reapOrphans: running tasks are shut down first; terminal, unscheduled or unreachable ones deleted', () => {
  const nodes = nodeMap(node('a'), node('d', { state: 'down' }));
  const tasks = [
    task('running', svc, { nodeId: 'a' }),
    task('stopping', svc, { nodeId: 'a', desired: 'shutdown' }),
    task('done', svc, { nodeId: 'a', state: 'shutdown', desired: 'shutdown' }),
    task('unscheduled', svc, { nodeId: '', state: 'pending' }),
    task('on-down', svc, { nodeId: 'd' }),
    task('on-gone', svc, { nodeId: 'gone' }),
  ];
  const plan = reapOrphans(tasks, nodes);
  assert.deepEqual(
    plan.setDesired.map((c) => [c.taskId, c.desiredState]),
    [['running', 'shutdown']],
  );
  assert.deepEqual(
    plan.remove.map((d) => d.taskId),
    ['done', 'unscheduled', 'on-down', 'on-gone'],
  );
});
