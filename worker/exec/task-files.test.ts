import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exitFromStatus, readStatusThenLiveness, taskPhase } from './task-files.js';

test('exit status: codes as recorded, 128+N read back as signal N, no record = init SIGKILLed', () => {
  assert.deepEqual(exitFromStatus('0\n', false), { exitCode: 0, oomKilled: false });
  assert.deepEqual(exitFromStatus('3', false), { exitCode: 3, oomKilled: false });
  assert.deepEqual(exitFromStatus('143\n', false), { exitCode: 143, signal: 'SIGTERM', oomKilled: false });
  assert.deepEqual(exitFromStatus('137', true), { exitCode: 137, signal: 'SIGKILL', oomKilled: true });
  assert.deepEqual(exitFromStatus('200', false), { exitCode: 200, oomKilled: false }); // no signal 72
  assert.deepEqual(exitFromStatus('', false), { exitCode: 137, signal: 'SIGKILL', oomKilled: false });
  assert.deepEqual(exitFromStatus(undefined, true), { exitCode: 137, signal: 'SIGKILL', oomKilled: true });
});

test('phase from the facts a restarted daemon can see', () => {
  const f = { launched: true, created: true, exitRecorded: false, supervisorAlive: false };
  assert.equal(taskPhase({ ...f, launched: false, created: false }), 'prepared');
  assert.equal(taskPhase({ ...f, created: false, supervisorAlive: true }), 'starting');
  assert.equal(taskPhase({ ...f, supervisorAlive: true }), 'running');
  assert.equal(taskPhase({ ...f, exitRecorded: true, supervisorAlive: true }), 'exited'); // on its way out
  assert.equal(taskPhase(f), 'exited'); // supervisor killed before recording
  assert.equal(taskPhase({ ...f, created: false }), 'exited'); // never created
});

test('status and liveness: a status written just before the supervisor exits is read, not taken for a SIGKILL', () => {
  // The supervisor's order: the status lands, then it is gone, both between our two looks.
  let written = false;
  const readStatus = () => (written ? '7\n' : '');
  const supervisorGone = () => {
    written = true;
    return false;
  };
  const seen = readStatusThenLiveness(readStatus, supervisorGone);
  assert.deepEqual(seen, { statusText: '7\n', supervisorAlive: false });
  assert.deepEqual(exitFromStatus(seen.statusText, false), { exitCode: 7, oomKilled: false });
  // Still running: no status, and the supervisor is alive.
  assert.deepEqual(
    readStatusThenLiveness(
      () => undefined,
      () => true,
    ),
    { statusText: undefined, supervisorAlive: true },
  );
  // Killed before recording anything: no status on either look.
  assert.deepEqual(
    readStatusThenLiveness(
      () => '',
      () => false,
    ),
    { statusText: '', supervisorAlive: false },
  );
});
