import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectLayout, limitWrites, parseOomKills, TaskCgroup } from './cgroups.js';

const V1 = `cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
`;

test('v1 when /sys/fs/cgroup is not cgroup2 (a hybrid unified mount elsewhere does not count)', () => {
  assert.deepEqual(detectLayout(V1), {
    version: 1,
    mounts: { cpu: '/sys/fs/cgroup/cpu', memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids' },
  });
  assert.deepEqual(detectLayout('cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n'), {
    version: 2,
    mounts: { unified: '/sys/fs/cgroup' },
  });
  assert.throws(
    () => detectLayout('cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n'),
    /not mounted: cpu, pids/,
  );
});

test('task folders carry the prefix; every controller folder is joined', () => {
  const cg = new TaskCgroup(detectLayout(V1), 'lab1-n2', 'task1');
  assert.equal(cg.dirs.memory, '/sys/fs/cgroup/memory/swarmlite/lab1-n2/task1');
  assert.deepEqual(cg.procsFiles, [
    '/sys/fs/cgroup/cpu/swarmlite/lab1-n2/task1/cgroup.procs',
    '/sys/fs/cgroup/memory/swarmlite/lab1-n2/task1/cgroup.procs',
    '/sys/fs/cgroup/pids/swarmlite/lab1-n2/task1/cgroup.procs',
  ]);
});

test('limits: memory without swap, CPU as a CFS quota of a 100 ms period, pids always', () => {
  const limits = { memoryBytes: 64 << 20, nanoCpus: 1.5e9, pidsMax: 4096 };
  assert.deepEqual(limitWrites(1, limits), [
    ['pids', 'pids.max', '4096'],
    ['memory', 'memory.limit_in_bytes', '67108864'],
    ['memory', 'memory.memsw.limit_in_bytes', '67108864'],
    ['cpu', 'cpu.cfs_period_us', '100000'],
    ['cpu', 'cpu.cfs_quota_us', '150000'],
  ]);
  assert.deepEqual(limitWrites(2, limits), [
    ['unified', 'pids.max', '4096'],
    ['unified', 'memory.max', '67108864'],
    ['unified', 'memory.swap.max', '0'],
    ['unified', 'cpu.max', '150000 100000'],
  ]);
  assert.deepEqual(limitWrites(2, { memoryBytes: 0, nanoCpus: 0, pidsMax: 10 }), [
    ['unified', 'pids.max', '10'],
  ]);
  // The kernel's smallest quota is 1 ms.
  assert.deepEqual(limitWrites(2, { memoryBytes: 0, nanoCpus: 1e7, pidsMax: 1 })[1], [
    'unified',
    'cpu.max',
    '1000 100000',
  ]);
});

test('oom_kill counters of v1 memory.oom_control and v2 memory.events', () => {
  assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n'), 2);
  assert.equal(parseOomKills('low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n'), 1);
  assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\n'), undefined);
});
