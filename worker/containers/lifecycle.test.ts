import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  exited,
  NEW_STATE,
  refusal,
  restarting,
  started,
  startFailed,
  stopRequested,
  type ContainerRecord,
  type ContainerState,
  type UserAction,
} from './lifecycle.js';
import { NO_RESTART } from './restart-policy.js';

const T0 = '2026-12-07T06:00:00.000Z';
const T1 = '2026-12-07T06:00:05.000Z';

export function record(state: Partial<ContainerState> = {}): ContainerRecord {
  return {
    id: 'a'.repeat(64),
    name: 'web',
    created: T0,
    config: { image: 'busybox', cmd: ['sleep', '60'], env: [], workdir: '', user: '', hostname: '' },
    hostConfig: {
      restartPolicy: NO_RESTART,
      autoRemove: false,
      memoryBytes: 0,
      nanoCpus: 0,
      networkMode: 'none',
    },
    state: { ...NEW_STATE, ...state },
  };
}

test('a life: created → running → exited → restarting → running, and a user start resets the policy', () => {
  let s = NEW_STATE;
  s = started(s, T0, 42, true);
  assert.deepEqual([s.status, s.pid, s.startedAt], ['running', 42, T0]);
  s = exited(s, T1, { exitCode: 3, oomKilled: false });
  assert.deepEqual([s.status, s.pid, s.exitCode, s.finishedAt], ['exited', 0, 3, T1]);
  s = restarting(s, 100);
  assert.deepEqual([s.status, s.restartCount, s.restartDelayMs], ['restarting', 1, 100]);
  s = started(s, T1, 43, false);
  assert.deepEqual([s.status, s.restartCount, s.exitCode], ['running', 1, 0]);
  s = stopRequested(s);
  assert.equal(s.manuallyStopped, true);
  s = exited(s, T1, { exitCode: 137, oomKilled: true });
  assert.deepEqual([s.exitCode, s.oomKilled, s.manuallyStopped], [137, true, true]);
  s = started(s, T1, 44, true);
  assert.deepEqual([s.restartCount, s.manuallyStopped, s.restartDelayMs, s.oomKilled], [0, false, 0, false]);
});

test('a failed start keeps a never-run container created, a run one exited, with the error', () => {
  const never = startFailed(NEW_STATE, T1, 'exec: "nope": executable file not found in $PATH');
  assert.deepEqual([never.status, never.exitCode, never.finishedAt], ['created', 128, '']);
  assert.match(never.error, /executable file not found/);
  const ran = startFailed(
    exited(started(NEW_STATE, T0, 1, true), T0, { exitCode: 0, oomKilled: false }),
    T1,
    'x',
  );
  assert.deepEqual([ran.status, ran.finishedAt], ['exited', T1]);
});

test('refusal: what each state allows', () => {
  const rows: [Partial<ContainerState>, UserAction, boolean, RegExp | undefined][] = [
    [
      { status: 'running' },
      'remove',
      false,
      /cannot remove container "\/web": container is running: stop the container before removing or force remove/,
    ],
    [{ status: 'restarting' }, 'remove', false, /container is running/],
    [{ status: 'running' }, 'remove', true, undefined],
    [{ status: 'exited' }, 'remove', false, undefined],
    [{ status: 'created' }, 'remove', false, undefined],
    [{ status: 'exited' }, 'exec', false, /is not running/],
    [{ status: 'created' }, 'exec', false, /is not running/],
    [{ status: 'running' }, 'exec', false, undefined],
    [{ status: 'running' }, 'start', false, undefined],
    [{ status: 'exited' }, 'stop', false, undefined],
    [{ status: 'removing' }, 'start', false, /marked for removal/],
    [{ status: 'removing' }, 'remove', true, undefined],
  ];
  for (const [state, action, force, want] of rows) {
    const got = refusal(record(state), action, force);
    if (want) assert.match(got ?? '', want, `${state.status} ${action}`);
    else assert.equal(got, undefined, `${state.status} ${action}`);
  }
});
