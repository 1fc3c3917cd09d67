import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processCpuSeconds, processName, processStartTime } from './process.js';

test('CPU time of a process grows with the work it does', () => {
  const before = processCpuSeconds(process.pid)!;
  assert.ok(before >= 0);
  const until = Date.now() + 100;
  while (Date.now() < until); // busy: at least 10 USER_HZ ticks
  const after = processCpuSeconds(process.pid)!;
  assert.ok(after - before >= 0.05, `${before} → ${after}`);
});

test('name and CPU of this process; nothing for a pid that does not exist', () => {
  assert.equal(processName(process.pid), 'node');
  assert.ok(processStartTime(process.pid));
  // Above the kernel's pid_max limit (4194304): never a live process.
  assert.equal(processCpuSeconds(99_999_999), undefined);
  assert.equal(processName(99_999_999), undefined);
});
