import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UpdateStatus } from '../api/objects/index.js';
import { buildCreateSpec } from './service-spec.js';
import { iso, nodes, T0, wireService, wireTask } from './service-fixtures.js';
import {
  progressStep,
  renderFrame,
  stateBar,
  STUCK_PENDING_MS,
  STABLE_SINCE,
  type Goal,
  type ProgressInput,
  type ProgressMemory,
} from './service-progress.js';
import type { ServiceView, TaskView } from './objects.js';

const FULL = `[${'='.repeat(50)}>]`;

function step(
  service: ServiceView,
  tasks: TaskView[],
  o: Partial<ProgressInput> & { memory?: ProgressMemory; goal?: Goal } = {},
) {
  // Unless a test says otherwise, whatever converged did so long ago (the stability wait is its own test).
  return progressStep(
    o.memory ?? new Map([[STABLE_SINCE, T0 - 60_000]]),
    { service, tasks, nodes, globalDesired: 0, baseline: null, now: T0, ...o },
    o.goal ?? 'converge',
  );
}

const status = (state: UpdateStatus['state'], message = '', startedAt = iso(T0)): UpdateStatus => ({
  state,
  startedAt,
  completedAt: '',
  message,
});

test("state bars are docker's: 50 columns, running full", () => {
  assert.equal(stateBar('running'), FULL);
  assert.equal(stateBar('new'), `[=====>${' '.repeat(45)}]`);
  assert.equal(stateBar('pending'), `[${'='.repeat(16)}>${' '.repeat(34)}]`);
  assert.equal(stateBar('complete'), '');
});

test('a converging service: overall count and one bar per slot, still waiting', () => {
  const s = wireService();
  const v = step(s, [wireTask(s, { slot: 1 }), wireTask(s, { slot: 2, state: 'starting' })]);
  assert.deepEqual(v.lines, [
    'overall progress: 1 out of 3 tasks',
    `1/3: running   ${FULL}`,
    `2/3: starting  ${stateBar('starting')}`,
    `3/3: new       ${stateBar('new')}`,
  ]);
  assert.deepEqual(v.verdict, { kind: 'waiting' });
});

test('every slot running the current spec: converged', () => {
  const s = wireService();
  const v = step(
    s,
    [1, 2, 3].map((slot) => wireTask(s, { slot })),
  );
  assert.equal(v.lines[0], 'overall progress: 3 out of 3 tasks');
  assert.equal(v.lines.at(-1), 'verify: Service converged');
  assert.deepEqual(v.verdict, { kind: 'converged' });
});

test('a task pending with an error ends the wait as pending (kept, exit 0) after 5 s by the injected clock, not before', () => {
  const s = wireService();
  const tasks = [
    wireTask(s, { slot: 1 }),
    wireTask(s, {
      slot: 2,
      id: 'stuck',
      nodeId: '',
      state: 'pending',
      err: 'no suitable node (3 nodes full)',
    }),
    wireTask(s, { slot: 3 }),
  ];
  const first = step(s, tasks, { now: T0 + 60_000 });
  assert.equal(first.lines[2], '2/3: no suitable node (3 nodes full)');
  assert.deepEqual(first.verdict, { kind: 'waiting' });
  const almost = step(s, tasks, { memory: first.memory, now: T0 + 60_000 + STUCK_PENDING_MS - 1 });
  assert.deepEqual(almost.verdict, { kind: 'waiting' });
  const late = step(s, tasks, { memory: almost.memory, now: T0 + 60_000 + STUCK_PENDING_MS });
  // Issue 18, fault 10: this was 'failed' (exit 1) with the service left created.
  assert.deepEqual(late.verdict, { kind: 'pending', message: '2/3: no suitable node (3 nodes full)' });
  // The clock restarts when the error clears: a fresh error gets its own five seconds.
  const placed = step(s, [tasks[0]!, wireTask(s, { slot: 2, state: 'assigned' }), tasks[2]!], {
    memory: almost.memory,
    now: T0 + 70_000,
  });
  assert.equal(placed.memory.size, 0);
  assert.deepEqual(step(s, tasks, { memory: placed.memory, now: T0 + 80_000 }).verdict, { kind: 'waiting' });
});

test('a paused update fails with its message; a stale outcome of an earlier update is ignored', () => {
  const s = wireService({ specVersion: 2, updateStatus: status('paused', 'update paused due to failure') });
  const tasks = [1, 2, 3].map((slot) => wireTask(s, { slot }));
  assert.deepEqual(step(s, tasks).verdict, {
    kind: 'failed',
    message: 'update paused: update paused due to failure',
  });
  // The same paused status was already there when our request returned: not ours.
  assert.deepEqual(step(s, tasks, { baseline: status('paused', 'update paused due to failure') }).verdict, {
    kind: 'converged',
  });
  const rolledBack = wireService({ updateStatus: status('rollback_started', 'task failed') });
  assert.deepEqual(step(rolledBack, tasks).verdict, {
    kind: 'failed',
    message: 'update rolled back: task failed',
  });
});

test('a rolling update waits for the old version to be replaced and the update to complete', () => {
  const s = wireService({ specVersion: 2, updateStatus: status('updating') });
  s.spec.task.image = 'new:2';
  const mixed = [
    wireTask(s, { slot: 1 }),
    wireTask(s, { slot: 2, specVersion: 1 }),
    wireTask(s, { slot: 3, specVersion: 1 }),
  ];
  const v = step(s, mixed, { baseline: status('updating') });
  assert.equal(v.lines[0], 'overall progress: 1 out of 3 tasks');
  assert.deepEqual(v.verdict, { kind: 'waiting' });
  const replaced = [1, 2, 3].map((slot) => wireTask(s, { slot }));
  assert.deepEqual(step(s, replaced, { baseline: status('updating') }).verdict, { kind: 'waiting' });
  const done = { ...s, updateStatus: status('completed', 'update completed') };
  assert.deepEqual(step(done, replaced, { baseline: status('updating') }).verdict, { kind: 'converged' });
});

test('an unchanged task spec counts as current (scale bumps the version without replacing tasks)', () => {
  const s = wireService({ specVersion: 5 });
  const tasks = [1, 2, 3].map((slot) => wireTask(s, { slot }));
  for (const t of tasks) t.specVersion = 4;
  assert.deepEqual(step(s, tasks).verdict, { kind: 'converged' });
});

test('scale down: converged once the extra slots are no longer meant to run', () => {
  const s = wireService({
    spec: buildCreateSpec('host', ['sleep', 'infinity'], { name: 'web', replicas: '1' }, {}),
  });
  const stopping = [wireTask(s, { slot: 1 }), wireTask(s, { slot: 2 })];
  const v = step(s, stopping);
  assert.deepEqual(v.lines.slice(0, 2), ['overall progress: 1 out of 1 tasks', `1/1: running   ${FULL}`]);
  assert.deepEqual(v.verdict, { kind: 'waiting' });
  const gone = [wireTask(s, { slot: 1 }), wireTask(s, { slot: 2, desired: 'shutdown' })];
  assert.deepEqual(step(s, gone).verdict, { kind: 'converged' });
  const zero = wireService({ spec: buildCreateSpec('host', [], { name: 'web', replicas: '0' }, {}) });
  assert.deepEqual(step(zero, [wireTask(zero, { slot: 1, desired: 'shutdown', state: 'shutdown' })]).lines, [
    'overall progress: 0 out of 0 tasks',
    'verify: Service converged',
  ]);
});

test('a failed task the restart policy will not restart fails the wait', () => {
  const none = wireService({
    spec: buildCreateSpec('host', ['false'], { name: 'web', replicas: '1', restartCondition: 'none' }, {}),
  });
  const failed = wireTask(none, { slot: 1, state: 'failed', desired: 'shutdown', err: 'exit status 1' });
  assert.deepEqual(step(none, [failed]).verdict, {
    kind: 'failed',
    message: '1/1: task failed (exit status 1); restart condition is none',
  });

  const limited = wireService({
    spec: buildCreateSpec('host', ['false'], { name: 'web', replicas: '1', restartMaxAttempts: '1' }, {}),
  });
  const run1 = wireTask(limited, { slot: 1, state: 'failed', desired: 'shutdown', createdAt: T0 });
  const run2 = wireTask(limited, { slot: 1, state: 'failed', desired: 'shutdown', createdAt: T0 + 1 });
  assert.deepEqual(step(limited, [run1]).verdict, { kind: 'waiting' }, 'one restart is still allowed');
  const v = step(limited, [run1, run2]);
  assert.equal(v.verdict.kind, 'failed');
  assert.match((v.verdict as { message: string }).message, /^1\/1: task failed .* after 1 restart attempts$/);

  const anyCondition = wireService({
    spec: buildCreateSpec('host', ['true'], { name: 'web', replicas: '1' }, {}),
  });
  const exited = wireTask(anyCondition, { slot: 1, state: 'complete', desired: 'shutdown' });
  assert.deepEqual(step(anyCondition, [exited]).verdict, { kind: 'waiting' }, 'condition any restarts it');
});

test('a global service shows one line per node hostname and waits for every node that should run one', () => {
  const s = wireService({ spec: buildCreateSpec('host', [], { name: 'agent', mode: 'global' }, {}) });
  const tasks = [
    wireTask(s, { slot: 0, nodeId: 'node2', state: 'preparing' }),
    wireTask(s, { slot: 0, nodeId: 'node1' }),
  ];
  const v = step(s, tasks, { globalDesired: 3 });
  assert.deepEqual(v.lines, [
    'overall progress: 1 out of 3 tasks',
    `alpha: running   ${FULL}`,
    `beta: preparing ${stateBar('preparing')}`,
  ]);
  assert.deepEqual(v.verdict, { kind: 'waiting' });
  const all = ['node1', 'node2', 'node3'].map((nodeId) => wireTask(s, { slot: 0, nodeId }));
  assert.deepEqual(step(s, all, { globalDesired: 3 }).verdict, { kind: 'converged' });
});

test('rollback: done at rollback_completed; a paused rollback fails', () => {
  const s = wireService({ specVersion: 3, updateStatus: status('rollback_started', 'manually requested') });
  const tasks = [1, 2, 3].map((slot) => wireTask(s, { slot }));
  const baseline = status('rollback_started', 'manually requested');
  const waiting = step(s, tasks, { goal: 'rollback', baseline });
  assert.equal(waiting.lines[0], 'rollback: rolling back update: 3 out of 3 tasks');
  assert.deepEqual(waiting.verdict, { kind: 'waiting' });
  // The old tasks the rollback returns to were told to stop: a slot waiting for its new task says so.
  const stopped = [wireTask(s, { slot: 1, desired: 'shutdown', state: 'shutdown' }), ...tasks.slice(1)];
  assert.equal(
    step(s, stopped, { goal: 'rollback', baseline }).lines[1],
    `1/3: new       ${stateBar('new')}`,
  );
  const done = { ...s, updateStatus: status('rollback_completed', 'rollback completed') };
  assert.deepEqual(step(done, tasks, { goal: 'rollback', baseline }).verdict, { kind: 'converged' });
  const paused = { ...s, updateStatus: status('rollback_paused', 'task failed again') };
  assert.deepEqual(step(paused, tasks, { goal: 'rollback', baseline }).verdict, {
    kind: 'failed',
    message: 'rollback paused: task failed again',
  });
});

test('frames: redrawn in place on a terminal, only new lines elsewhere', () => {
  const printed = new Set<string>();
  assert.equal(renderFrame([], ['a', 'b'], false, printed), 'a\nb\n');
  assert.equal(renderFrame(['a', 'b'], ['a', 'c'], false, printed), 'c\n');
  assert.equal(renderFrame(['a', 'c'], ['a', 'c'], false, printed), '');
  assert.equal(renderFrame([], ['a'], true, new Set()), '\x1b[2Ka\n\x1b[J');
  assert.equal(renderFrame(['a', 'b'], ['x'], true, new Set()), '\x1b[2A\x1b[2Kx\n\x1b[J');
});

test('converged tasks must stay up for the monitor period before the display says so', () => {
  const s = wireService();
  const tasks = [1, 2, 3].map((slot) => wireTask(s, { slot }));
  const first = step(s, tasks, { memory: new Map() });
  assert.deepEqual(first.verdict, { kind: 'waiting' });
  assert.equal(first.lines.at(-1), 'verify: Waiting 5 seconds to verify that tasks are stable...');
  const later = step(s, tasks, { memory: first.memory, now: T0 + 5_000 });
  assert.deepEqual(later.verdict, { kind: 'converged' });
  assert.equal(later.lines.at(-1), 'verify: Service converged');
  // A task dying within the window restarts the wait.
  const broken = step(s, [tasks[0]!, tasks[1]!, wireTask(s, { slot: 3, state: 'failed' })], {
    memory: first.memory,
    now: T0 + 3_000,
  });
  assert.notDeepEqual(broken.verdict, { kind: 'converged' });
  assert.equal(broken.memory.get(STABLE_SINCE), undefined);
});

test('a task that died and will not be restarted (still desired running) fails the display', () => {
  const s = wireService();
  s.spec.task.restartPolicy = { ...s.spec.task.restartPolicy, condition: 'none' };
  const dead = wireTask(s, {
    slot: 1,
    state: 'failed',
    err: 'task: non-zero exit (137): OOM killed (memory limit reached)',
  });
  const v = step(s, [dead, wireTask(s, { slot: 2 }), wireTask(s, { slot: 3 })]);
  assert.equal(v.verdict.kind, 'failed');
  assert.match((v.verdict as { message: string }).message, /OOM killed.*restart condition is none/);
});

test('the same rejection three times in a row is permanent: the wait fails with the reason', () => {
  // Issue 18, fault 3: `service create <image that does not exist>` never returned.
  const s = wireService();
  const err = 'unknown image "nosuch": only the built-in image "host" is available';
  const rejected = (n: number, reason = err) =>
    wireTask(s, {
      slot: 1,
      id: `r${n}`,
      state: 'rejected',
      desired: 'shutdown',
      err: reason,
      createdAt: T0 + n,
    });
  const two = step(s, [rejected(1), rejected(2)]);
  assert.deepEqual(two.verdict, { kind: 'waiting' }, 'two may still be bad luck');
  const three = step(s, [rejected(1), rejected(2), rejected(3)]);
  assert.deepEqual(three.verdict, { kind: 'failed', message: `1/3: task rejected 3 times: ${err}` });
  const mixed = step(s, [rejected(1), rejected(2, 'no such file'), rejected(3)]);
  assert.deepEqual(mixed.verdict, { kind: 'waiting' }, 'different reasons: not clearly permanent');
});
