import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planService } from './service.js';
import { RESTART_HOLD_STATE } from './tasks.js';
import { T0, ctxAt, node, nodeMap, oldTask, service, task } from './test-fixtures.js';

const nodes = nodeMap(node('a'), node('b'));

test('planService: reconcile goes first; the update waits for a pass where reconcile writes nothing', () => {
  const svc = service('web', { replicas: 2, image: 'img:2', specVersion: 2 });
  const tasks = [oldTask('o1', svc, { slot: 1 }), oldTask('o2', svc, { slot: 2, state: 'failed' })];
  const plan = planService(svc, tasks, nodes, ctxAt(T0));
  assert.equal(plan.service, undefined);
  assert.deepEqual(
    plan.setDesired.map((c) => c.taskId),
    ['o2'],
  );
  assert.deepEqual(
    plan.create.map((t) => [t.slot, t.spec.image]),
    [[2, 'img:2']],
  );
});

test('planService: only the service own tasks count', () => {
  const svc = service('web', { replicas: 1 });
  const other = service('other', { replicas: 1 });
  const plan = planService(svc, [task('x', other)], nodes, ctxAt(T0));
  assert.deepEqual(
    plan.create.map((t) => t.serviceId),
    ['web'],
  );
});

test('planService: a held restart keeps its wake time when the update writes', () => {
  const svc = service('web', { replicas: 2, image: 'img:2', specVersion: 2, restart: { delayMs: 10_000 } });
  const held = task('h1', svc, { slot: 1, desired: RESTART_HOLD_STATE, state: 'assigned', createdAt: T0 });
  const plan = planService(svc, [held, oldTask('o2', svc, { slot: 2 })], nodes, ctxAt(T0 + 1_000));
  assert.equal(plan.service?.updateStatus?.state, 'updating');
  assert.equal(plan.wakeAt, T0 + 10_000);
});

test('planService: a quiet service gets its history reaped', () => {
  const svc = service('web', { replicas: 1 });
  const history = Array.from({ length: 7 }, (_, i) =>
    task(`h${i}`, svc, { slot: 1, desired: 'shutdown', state: 'failed', createdAt: T0 + i }),
  );
  const plan = planService(svc, [task('t', svc, { createdAt: T0 + 100 }), ...history], nodes, ctxAt(T0));
  assert.deepEqual(
    plan.remove.map((d) => d.taskId),
    ['h0', 'h1'],
  );
});
