import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Service, UpdateConfig, UpdateStatus } from '../../api/objects/index.js';
import { iso } from './tasks.js';
import { isUpToDate, planUpdate, rollbackPatch } from './update.js';
import { T0, ctxAt, node, nodeMap, oldTask, service, serviceSpec, task } from './test-fixtures.js';

const nodes = nodeMap(node('a'), node('b'), node('c'));
const S = (s: number) => T0 + s * 1000;
const status = (state: UpdateStatus['state'], startedS = 0): UpdateStatus => ({
  state,
  startedAt: iso(S(startedS)),
  completedAt: '',
  message: '',
});
const updating = (update: Partial<UpdateConfig> = {}, extra: Partial<Parameters<typeof service>[1]> = {}) =>
  service('web', {
    replicas: 3,
    image: 'img:2',
    specVersion: 2,
    update,
    updateStatus: status('updating'),
    ...extra,
  });
const olds = (svc: Service) =>
  [1, 2, 3].map((slot) => oldTask(`o${slot}`, svc, { slot, nodeId: 'abc'[slot - 1]! }));
const desired = (p: { setDesired: { taskId: string; desiredState: string }[] }) =>
  Object.fromEntries(p.setDesired.map((c) => [c.taskId, c.desiredState]));

test('update: outdated tasks without an update in progress start one (status only)', () => {
  const svc = service('web', { replicas: 3, image: 'img:2', specVersion: 2 });
  const plan = planUpdate(svc, olds(svc), nodes, ctxAt(S(5)));
  assert.equal(plan.service?.updateStatus?.state, 'updating');
  assert.equal(plan.service?.updateStatus?.startedAt, iso(S(5)));
  assert.deepEqual([plan.create, plan.setDesired], [[], []]);
});

test('update: nothing to do for an up-to-date service without an update', () => {
  const svc = service('web', { replicas: 1 });
  const plan = planUpdate(svc, [task('t1', svc)], nodes, ctxAt(S(5)));
  assert.deepEqual(plan, { create: [], setDesired: [], remove: [] });
});

test('update: stop-first shuts down `parallelism` outdated slots, lowest first', () => {
  const svc = updating({ parallelism: 2 });
  const plan = planUpdate(svc, olds(svc), nodes, ctxAt(S(1)));
  assert.deepEqual(desired(plan), { o1: 'shutdown', o2: 'shutdown' });
  assert.deepEqual(plan.create, []);
});

test('update: parallelism 0 takes every outdated slot at once', () => {
  const svc = updating({ parallelism: 0 });
  assert.deepEqual(Object.keys(desired(planUpdate(svc, olds(svc), nodes, ctxAt(S(1))))), ['o1', 'o2', 'o3']);
});

test('update: start-first creates the new task beside the old one, same slot', () => {
  const svc = updating({ order: 'start-first' });
  const plan = planUpdate(svc, olds(svc), nodes, ctxAt(S(1)));
  assert.deepEqual(plan.setDesired, []);
  assert.deepEqual(
    plan.create.map((t) => [t.slot, t.nodeId, t.specVersion, t.spec.image]),
    [[1, '', 2, 'img:2']],
  );
});

test('update: start-first overlap: the old task goes only once the new one runs', () => {
  const svc = updating({ order: 'start-first' });
  const starting = task('n1', svc, { slot: 1, state: 'starting', createdAt: S(1) });
  assert.deepEqual(planUpdate(svc, [...olds(svc), starting], nodes, ctxAt(S(2))), {
    create: [],
    setDesired: [],
    remove: [],
  });
  const running = task('n1', svc, { slot: 1, state: 'running', createdAt: S(1), statusAt: S(2) });
  assert.deepEqual(desired(planUpdate(svc, [...olds(svc), running], nodes, ctxAt(S(3)))), { o1: 'shutdown' });
});

test('update: a batch waits while an updated task is not running yet, or its slot is empty', () => {
  const svc = updating();
  const [, o2, o3] = olds(svc);
  const pending = task('n1', svc, { slot: 1, state: 'pending', createdAt: S(1) });
  assert.deepEqual(planUpdate(svc, [pending, o2!, o3!], nodes, ctxAt(S(9))).setDesired, []);
  const stopping = { ...olds(svc)[0]!, desiredState: 'shutdown' as const };
  assert.deepEqual(planUpdate(svc, [stopping, o2!, o3!], nodes, ctxAt(S(9))).setDesired, []);
});

test('update: the next batch waits delayMs after the last updated task started running', () => {
  const svc = updating({ delayMs: 10_000 });
  const [, o2, o3] = olds(svc);
  const n1 = task('n1', svc, { slot: 1, state: 'running', createdAt: S(1), statusAt: S(2) });
  const early = planUpdate(svc, [n1, o2!, o3!], nodes, ctxAt(S(5)));
  assert.deepEqual([early.setDesired, early.wakeAt], [[], S(12)]);
  assert.deepEqual(desired(planUpdate(svc, [n1, o2!, o3!], nodes, ctxAt(S(12)))), { o2: 'shutdown' });
});

test('update: completes once every slot runs the new spec and the monitor window passed', () => {
  const svc = updating({ monitorMs: 5_000 });
  const done = [1, 2, 3].map((slot) =>
    task(`n${slot}`, svc, { slot, createdAt: S(slot), statusAt: S(slot + 1) }),
  );
  const early = planUpdate(svc, done, nodes, ctxAt(S(6)));
  assert.deepEqual([early.service, early.wakeAt], [undefined, S(9)]);
  const plan = planUpdate(svc, done, nodes, ctxAt(S(9)));
  assert.equal(plan.service?.updateStatus?.state, 'completed');
  assert.equal(plan.service?.updateStatus?.completedAt, iso(S(9)));
});

test('update: a failure within the monitor window pauses the update (failure action pause)', () => {
  const svc = updating({ monitorMs: 5_000 });
  const [, o2, o3] = olds(svc);
  const failed = task('n1', svc, { slot: 1, state: 'failed', createdAt: S(1), statusAt: S(4) });
  const plan = planUpdate(svc, [failed, o2!, o3!], nodes, ctxAt(S(5)));
  assert.equal(plan.service?.updateStatus?.state, 'paused');
  assert.match(plan.service!.updateStatus!.message, /n1 failed/);
  assert.deepEqual(plan.setDesired, []);
});

test('update: a failure that took longer than monitorMs still counts; one from before the update does not', () => {
  const svc = updating({ monitorMs: 2_000 });
  const [, o2, o3] = olds(svc);
  const slowCrash = task('n1', svc, { slot: 1, state: 'failed', createdAt: S(1), statusAt: S(10) });
  const crashed = planUpdate(svc, [slowCrash, o2!, o3!], nodes, ctxAt(S(11)));
  assert.equal(crashed.service?.updateStatus?.state, 'paused');
  const before = task('n1', svc, { slot: 1, state: 'failed', createdAt: S(-1), statusAt: S(0) });
  assert.equal(planUpdate(svc, [before, o2!, o3!], nodes, ctxAt(S(1))).service, undefined);
});

test('update: failures at or below maxFailureRatio do not stop it', () => {
  const tolerant = updating({ maxFailureRatio: 0.5 });
  const [, o2, o3] = olds(tolerant);
  const failed = task('n1', tolerant, { slot: 1, state: 'failed', createdAt: S(1), statusAt: S(2) });
  assert.deepEqual(desired(planUpdate(tolerant, [failed, o2!, o3!], nodes, ctxAt(S(3)))), { o2: 'shutdown' });
});

test('update: failure action continue keeps going', () => {
  const svc = updating({ failureAction: 'continue' });
  const [, o2, o3] = olds(svc);
  const failed = task('n1', svc, { slot: 1, state: 'rejected', createdAt: S(1), statusAt: S(2) });
  assert.deepEqual(desired(planUpdate(svc, [failed, o2!, o3!], nodes, ctxAt(S(3)))), { o2: 'shutdown' });
});

test('update: failure action rollback swaps in the previous spec as a new version', () => {
  const previous = serviceSpec('web', { replicas: 3, image: 'img:0' });
  const svc = updating({ failureAction: 'rollback' }, { previousSpec: previous });
  const [, o2, o3] = olds(svc);
  const failed = task('n1', svc, { slot: 1, state: 'failed', createdAt: S(1), statusAt: S(2) });
  const plan = planUpdate(svc, [failed, o2!, o3!], nodes, ctxAt(S(3)));
  assert.deepEqual(plan.service?.spec, previous);
  assert.equal(plan.service?.previousSpec?.task.image, 'img:2');
  assert.equal(plan.service?.specVersion, 3);
  assert.equal(plan.service?.updateStatus?.state, 'rollback_started');
  // After the rollback only the slot that had been updated is outdated again: o2 and o3 match img:0.
  const rolled: Service = { ...svc, ...plan.service!, meta: svc.meta };
  assert.deepEqual(
    [o2!, o3!].map((t) => isUpToDate(t, rolled)),
    [true, true],
  );
});

test('update: a failure while rolling back pauses the rollback; paused updates do nothing', () => {
  const svc = service('web', {
    replicas: 3,
    image: 'img:0',
    specVersion: 3,
    rollback: { failureAction: 'rollback' },
    updateStatus: status('rollback_started'),
    previousSpec: serviceSpec('web', { image: 'img:2' }),
  });
  const failed = task('n1', svc, { slot: 1, state: 'failed', createdAt: S(1), statusAt: S(2) });
  const others = [2, 3].map((slot) => oldTask(`o${slot}`, svc, { slot, image: 'img:2' }));
  const plan = planUpdate(svc, [failed, ...others], nodes, ctxAt(S(3)));
  assert.equal(plan.service?.updateStatus?.state, 'rollback_paused');
  const paused = { ...svc, updateStatus: status('rollback_paused') };
  assert.deepEqual(planUpdate(paused, [failed, ...others], nodes, ctxAt(S(3))), {
    create: [],
    setDesired: [],
    remove: [],
  });
});

test('update: rollback completes as rollback_completed and uses the rollback config', () => {
  const svc = service('web', {
    replicas: 3,
    specVersion: 3,
    update: { parallelism: 1 },
    rollback: { parallelism: 0 },
    updateStatus: status('rollback_started'),
  });
  const outdated = [1, 2, 3].map((slot) => oldTask(`o${slot}`, svc, { slot }));
  assert.equal(planUpdate(svc, outdated, nodes, ctxAt(S(1))).setDesired.length, 3);
  const done = [1, 2, 3].map((slot) => task(`n${slot}`, svc, { slot, createdAt: S(1), statusAt: S(2) }));
  assert.equal(planUpdate(svc, done, nodes, ctxAt(S(60))).service?.updateStatus?.state, 'rollback_completed');
});

test('rollbackPatch: nothing to roll back to without a previous spec', () => {
  assert.equal(rollbackPatch(service('web'), T0, 'x'), undefined);
});

test('update: global services update node by node', () => {
  const svc = service('mon', {
    replicas: 'global',
    image: 'img:2',
    specVersion: 2,
    updateStatus: status('updating'),
  });
  const tasks = ['b', 'a'].map((n) => oldTask(`o${n}`, svc, { slot: 0, nodeId: n }));
  assert.deepEqual(desired(planUpdate(svc, tasks, nodeMap(node('a'), node('b')), ctxAt(S(1)))), {
    oa: 'shutdown',
  });
  const startFirst = {
    ...svc,
    spec: { ...svc.spec, update: { ...svc.spec.update, order: 'start-first' as const } },
  };
  const plan = planUpdate(startFirst, tasks, nodeMap(node('a'), node('b')), ctxAt(S(1)));
  assert.deepEqual(
    plan.create.map((t) => [t.slot, t.nodeId]),
    [[0, 'a']],
  );
});

test('update: a global slot on a paused or down node is left alone (no new task where none may go)', () => {
  const svc = service('mon', {
    replicas: 'global',
    image: 'img:2',
    specVersion: 2,
    updateStatus: status('updating'),
  });
  const tasks = ['a', 'b'].map((n) => oldTask(`o${n}`, svc, { slot: 0, nodeId: n }));
  const startFirst = {
    ...svc,
    spec: { ...svc.spec, update: { ...svc.spec.update, order: 'start-first' as const, parallelism: 0 } },
  };
  const plan = planUpdate(
    startFirst,
    tasks,
    nodeMap(node('a', { availability: 'pause' }), node('b')),
    ctxAt(S(1)),
  );
  assert.deepEqual(
    plan.create.map((t) => t.nodeId),
    ['b'],
  );
  const ba = task('nb', svc, { slot: 0, nodeId: 'b', createdAt: S(1), statusAt: S(2) });
  const done = planUpdate(
    svc,
    [tasks[0]!, ba],
    nodeMap(node('a', { state: 'down' }), node('b')),
    ctxAt(S(60)),
  );
  assert.equal(done.service?.updateStatus?.state, 'completed');
  const gone = planUpdate(svc, [tasks[0]!, ba], nodeMap(node('b')), ctxAt(S(60)));
  assert.equal(gone.service?.updateStatus?.state, 'completed');
});
