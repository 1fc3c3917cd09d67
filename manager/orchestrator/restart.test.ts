import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlanBuilder } from './plan.js';
import {
  REJECTION_BACKOFF_MAX_MS,
  REJECTION_BACKOFF_MIN_MS,
  rejectionBackoffMs,
  releaseHeld,
  restartAllowed,
  superviseDead,
} from './restart.js';
import { RESTART_HOLD_STATE } from './tasks.js';
import { T0, ctxAt, service, task } from './test-fixtures.js';
import type { RestartPolicy, TaskState } from '../../api/objects/index.js';

const svcWith = (restart: Partial<RestartPolicy>) => service('web', { replicas: 1, restart });
const ended = (id: string, state: TaskState, atS: number, restart: Partial<RestartPolicy>) =>
  task(id, svcWith(restart), { slot: 1, state, statusAt: T0 + atS * 1000, createdAt: T0 + atS * 1000 - 500 });

const cases: [string, Partial<RestartPolicy>, TaskState, number[], boolean][] = [
  // name, policy, state of the task that just ended, earlier own-endings (s), allowed?
  ['none never restarts', { condition: 'none' }, 'failed', [], false],
  ['on-failure restarts a failure', { condition: 'on-failure' }, 'failed', [], true],
  ['on-failure restarts a rejection', { condition: 'on-failure' }, 'rejected', [], true],
  ['on-failure leaves a clean exit', { condition: 'on-failure' }, 'complete', [], false],
  ['any restarts a clean exit', { condition: 'any' }, 'complete', [], true],
  ['maxAttempts 0 = unlimited', { maxAttempts: 0 }, 'failed', [1, 2, 3, 4], true],
  ['2 attempts: the 2nd failure still restarts', { maxAttempts: 2 }, 'failed', [1], true],
  ['2 attempts: the 3rd failure does not', { maxAttempts: 2 }, 'failed', [1, 2], false],
  ['window: old failures fall out', { maxAttempts: 1, windowMs: 5_000 }, 'failed', [1], true],
  ['window: recent failures count', { maxAttempts: 1, windowMs: 50_000 }, 'failed', [1], false],
];
for (const [name, policy, state, earlier, allowed] of cases) {
  test(`restartAllowed: ${name}`, () => {
    const history = earlier.map((s, i) => ({
      ...ended(`h${i}`, 'failed', s, policy),
      desiredState: 'shutdown' as const,
    }));
    const dead = ended('dead', state, 10, policy);
    assert.equal(restartAllowed(dead, [...history, dead]), allowed);
  });
}

test('restartAllowed: the verdict does not change as time passes (window ends at the failure)', () => {
  const policy = { maxAttempts: 1, windowMs: 5_000 };
  const prior = { ...ended('h', 'failed', 8, policy), desiredState: 'shutdown' as const };
  const dead = ended('dead', 'failed', 10, policy);
  assert.equal(restartAllowed(dead, [prior, dead]), false); // no `now` involved at all
});

test('restartAllowed: stops we asked for are not attempts', () => {
  const policy = { maxAttempts: 1 };
  const stopped = { ...ended('h', 'shutdown', 5, policy), desiredState: 'shutdown' as const };
  const dead = ended('dead', 'failed', 10, policy);
  assert.equal(restartAllowed(dead, [stopped, dead]), true);
});

test('superviseDead: an unrestartable dead task stays the slot occupant (nothing written)', () => {
  const svc = svcWith({ condition: 'none' });
  const plan = new PlanBuilder();
  superviseDead(plan, svc, [task('t', svc, { state: 'failed' })], { slot: 1, nodeId: '' }, ctxAt(T0));
  assert.deepEqual(plan.build(), { create: [], setDesired: [], remove: [] });
});

test('superviseDead: a dead task next to an alive one is only shut down', () => {
  const svc = svcWith({});
  const plan = new PlanBuilder();
  const tasks = [task('dead', svc, { state: 'failed' }), task('alive', svc, { state: 'starting' })];
  superviseDead(plan, svc, tasks, { slot: 1, nodeId: '' }, ctxAt(T0));
  const p = plan.build();
  assert.deepEqual(
    p.setDesired.map((c) => [c.taskId, c.desiredState]),
    [['dead', 'shutdown']],
  );
  assert.deepEqual(p.create, []);
});

test('superviseDead: without delay the replacement runs at once', () => {
  const svc = svcWith({ delayMs: 0 });
  const plan = new PlanBuilder();
  superviseDead(plan, svc, [task('t', svc, { state: 'failed' })], { slot: 0, nodeId: 'b' }, ctxAt(T0));
  const p = plan.build();
  assert.deepEqual(
    p.create.map((t) => [t.slot, t.nodeId, t.desiredState]),
    [[0, 'b', 'running']],
  );
  assert.equal(p.wakeAt, undefined);
});

test('releaseHeld: the hold ends at createdAt + delay, read from the task itself', () => {
  const svc = svcWith({ delayMs: 3_000 });
  const held = task('h', svc, { desired: RESTART_HOLD_STATE, state: 'assigned', createdAt: T0 });
  const early = new PlanBuilder();
  releaseHeld(early, [held], T0 + 2_999);
  assert.deepEqual([early.build().setDesired, early.build().wakeAt], [[], T0 + 3_000]);
  const due = new PlanBuilder();
  releaseHeld(due, [held], T0 + 3_000);
  assert.deepEqual(
    due.build().setDesired.map((c) => c.desiredState),
    ['running'],
  );
});

test('superviseDead: a rejection waits out the restart delay, doubled for each rejection in a row', () => {
  // Issue 18, fault 3: a replacement was made at once (held tasks are prepared, and the rejection comes
  // from preparing), so an image that does not exist looped as fast as the cluster could write.
  const svc = svcWith({ delayMs: 5_000 });
  const rejectedAt = (id: string, atS: number, desired: TaskState = 'shutdown') => ({
    ...task(id, svc, {
      slot: 1,
      state: 'rejected',
      statusAt: T0 + atS * 1000,
      createdAt: T0 + atS * 1000 - 100,
    }),
    desiredState: desired,
  });
  const first = rejectedAt('r1', 10, 'running');
  const early = new PlanBuilder();
  superviseDead(early, svc, [first], { slot: 1, nodeId: '' }, ctxAt(T0 + 10_000));
  assert.deepEqual(early.build(), { create: [], setDesired: [], remove: [], wakeAt: T0 + 15_000 });
  const due = new PlanBuilder();
  superviseDead(due, svc, [first], { slot: 1, nodeId: '' }, ctxAt(T0 + 15_000));
  const p = due.build();
  assert.deepEqual(
    p.create.map((t) => t.desiredState),
    ['running'],
    'the wait is over: the replacement is not held again',
  );
  assert.deepEqual(
    p.setDesired.map((c) => [c.taskId, c.desiredState]),
    [['r1', 'shutdown']],
  );

  // Three rejections in a row before this one (a clean run earlier does not count): 5 s × 2^3.
  const ran = {
    ...task('ok', svc, { slot: 1, state: 'complete', statusAt: T0 }),
    desiredState: 'shutdown' as const,
  };
  const history = [ran, rejectedAt('r1', 10), rejectedAt('r2', 20), rejectedAt('r3', 40)];
  const fourth = rejectedAt('r4', 80, 'running');
  assert.equal(rejectionBackoffMs(fourth, [...history, fourth]), 40_000);
  const waiting = new PlanBuilder();
  superviseDead(waiting, svc, [...history, fourth], { slot: 1, nodeId: '' }, ctxAt(T0 + 100_000));
  assert.equal(waiting.build().create.length, 0);
  assert.equal(waiting.build().wakeAt, T0 + 120_000);
  // Capped, and never below the minimum even with --restart-delay 0.
  const many = Array.from({ length: 30 }, (_, i) => rejectedAt(`m${i}`, i));
  assert.equal(rejectionBackoffMs(many[29]!, many), REJECTION_BACKOFF_MAX_MS);
  const noDelay = svcWith({ delayMs: 0 });
  const r0 = task('z', noDelay, { slot: 1, state: 'rejected', statusAt: T0 });
  assert.equal(rejectionBackoffMs(r0, [r0]), REJECTION_BACKOFF_MIN_MS);
});
