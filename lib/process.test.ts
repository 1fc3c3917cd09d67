import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  isRunning,
  processCpuSeconds,
  processName,
  processRef,
  processStartTime,
  signalProcess,
} from './process.js';

test('CPU time of a process grows with the work it does', () => {
  const before = processCpuSeconds(process.pid)!;
  assert.ok(before >= 0);
  // Busy until the reading shows 5 USER_HZ ticks more, within a wall-clock bound generous enough for
  // a machine whose cores are taken by others (100 ms of wall time gave 0.0499 s of CPU beside
  // stress-ng): a reading that does not follow the work never gets there.
  const deadline = Date.now() + 30_000;
  let after = before;
  while (after - before < 0.05 && Date.now() < deadline) {
    const until = Date.now() + 10;
    while (Date.now() < until);
    after = processCpuSeconds(process.pid)!;
  }
  assert.ok(after - before >= 0.05, `${before} → ${after}`);
});

test('name and CPU of this process; nothing for a pid that does not exist', () => {
  assert.equal(processName(process.pid), 'node');
  assert.ok(processStartTime(process.pid));
  // Above the kernel's pid_max limit (4194304): never a live process.
  assert.equal(processCpuSeconds(99_999_999), undefined);
  assert.equal(processName(99_999_999), undefined);
});

test('isRunning: the very process, not another with its pid, and not once it has exited', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const ref = processRef(child.pid!)!;
  assert.equal(isRunning(ref), true);
  assert.equal(isRunning({ pid: ref.pid, startTime: String(Number(ref.startTime) + 1) }), false);
  const exited = new Promise((r) => child.once('exit', r));
  assert.equal(signalProcess(ref, 'SIGKILL'), true);
  await exited;
  assert.equal(isRunning(ref), false);
  assert.equal(signalProcess(ref, 'SIGKILL'), false);
});
