import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectLayout, parseOomKills, TaskCgroup } from './cgroups.js';

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
    // The runtime makes a container's folder in every hierarchy: these are cleaned up too.
    others: ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/unified'],
  });
  assert.deepEqual(detectLayout('cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n'), {
    version: 2,
    mounts: { unified: '/sys/fs/cgroup' },
    others: [],
  });
  assert.throws(
    () => detectLayout('cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n'),
    /not mounted: cpu, pids/,
  );
});

test('task folders carry the prefix; every controller folder is joined', () => {
  const cg = new TaskCgroup(detectLayout(V1), 'lab1-n2', 'task1');
  assert.equal(cg.dirs.memory, '/sys/fs/cgroup/memory/swarmlite/lab1-n2/task1');
  assert.deepEqual(Object.values(cg.dirs).sort(), [
    '/sys/fs/cgroup/cpu,cpuacct/swarmlite/lab1-n2/task1',
    '/sys/fs/cgroup/cpu/swarmlite/lab1-n2/task1',
    '/sys/fs/cgroup/memory/swarmlite/lab1-n2/task1',
    '/sys/fs/cgroup/pids/swarmlite/lab1-n2/task1',
    '/sys/fs/cgroup/unified/swarmlite/lab1-n2/task1',
  ]);
});

test('oom_kill counters of v1 memory.oom_control and v2 memory.events', () => {
  assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 2\n'), 2);
  assert.equal(parseOomKills('low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n'), 1);
  assert.equal(parseOomKills('oom_kill_disable 0\nunder_oom 0\n'), undefined);
});
