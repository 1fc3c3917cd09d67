// The pure parts of the per-task CPU accounting: /proc/PID/stat fields, cgroup deltas, the breakdown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cgroupsDelta, cpuBreakdown, nodeCpu, parseProcStat } from './task-cpu.js';

test('/proc/PID/stat: user+system and the waited-for children, counted after the command name', () => {
  // A command name with spaces and parentheses, as the kernel prints it.
  const line =
    '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 30 20 20 0 11 0 8000 1000000 5000';
  assert.deepEqual(parseProcStat(line), { self: 3, children: 0.5 });
  assert.throws(() => parseProcStat('garbage'), /not a \/proc\/PID\/stat line/);
  assert.throws(() => parseProcStat('1 (x) S 1 2'), /not a \/proc\/PID\/stat line/);
});

test('containers: a folder made during the phase counts whole, an older one only its growth', () => {
  const before = new Map([
    ['old', 1.5],
    ['gone', 9],
  ]);
  const after = new Map([
    ['old', 2],
    ['new1', 0.25],
    ['new2', 0.25],
  ]);
  assert.equal(cgroupsDelta(before, after), 1);
});

test("a node's share: the daemon's folder less the daemon and its reaped tools is the launchers'", () => {
  const a = { daemon: { self: 10, children: 1 }, group: 20, containers: new Map([['t0', 1]]) };
  const b = {
    daemon: { self: 12, children: 1.5 },
    group: 25,
    containers: new Map([
      ['t0', 1],
      ['t1', 0.5],
    ]),
  };
  assert.deepEqual(nodeCpu('n2', a, b), { host: 'n2', daemon: 2, tools: 0.5, launch: 2.5, containers: 0.5 });
});

test('the breakdown: manager and workers apart, every kind summed over the nodes, per task of the service', () => {
  const node = (host: string, daemon: number) => ({ host, daemon, tools: 0.1, launch: 0.2, containers: 0.3 });
  const rows = cpuBreakdown([node('n1', 1), node('n2', 0.5), node('n3', 0.5)], 10, 'n1');
  const by = Object.fromEntries(rows.map((r) => [r.what.split(' ')[0], r]));
  assert.equal(rows.length, 6);
  assert.equal(rows[0]!.seconds, 1);
  assert.equal(rows[1]!.seconds, 1);
  assert.ok(Math.abs(by.tools!.seconds - 0.3) < 1e-9);
  assert.ok(Math.abs(by.total!.seconds - 3.8) < 1e-9);
  assert.ok(Math.abs(by.total!.msPerTask - 380) < 1e-9);
  assert.equal(cpuBreakdown([], 0, 'n1').at(-1)!.msPerTask, 0);
});
