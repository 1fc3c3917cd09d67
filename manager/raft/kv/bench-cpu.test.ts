import { test } from 'node:test';
import assert from 'node:assert/strict';
import { processCpuMs, statCpuMs } from './bench-cpu.js';

test('statCpuMs reads utime and stime after a name with spaces and parentheses', () => {
  const line = '4242 (kv server (1)) S 1 4242 4242 0 -1 4194560 2000 0 0 0 123 45 0 0 20 0 11 0 100 0 0';
  assert.equal(statCpuMs(line), (123 + 45) * 10);
});

test('statCpuMs refuses a line that is not a stat line', () => {
  assert.throws(() => statCpuMs('garbage'), /not a \/proc stat line/);
});

test('processCpuMs of this process grows with work, and a missing pid reads undefined', () => {
  const before = processCpuMs(process.pid)!;
  // Burn 50 ms of CPU as this process itself counts it (wall time would vary with the machine's load).
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= 50_000) break;
  }
  assert.ok(processCpuMs(process.pid)! >= before + 30);
  assert.equal(processCpuMs(2 ** 30), undefined);
});
