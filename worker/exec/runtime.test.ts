// Integration tests of the task runtime on this machine's kernel (root): namespaces, identity,
// stop semantics, cgroup limits and the OOM verdict, and exact cleanup.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isRunning, processRef } from '../../lib/process.js';
import {
  collectLogs,
  hostSpec,
  launchOf,
  leftovers,
  nsInode,
  runTask,
  testRuntime,
} from './test-fixtures.js';

const lines = async (...args: Parameters<typeof collectLogs>) =>
  (await collectLogs(...args)).map((l) => l.line);

test('a task runs its command and reports its exit code', async (t) => {
  const { rt } = testRuntime(t);
  const { id, pid } = await runTask(rt, hostSpec(['sh', '-c', 'echo out; echo err >&2; exit 3']));
  assert.ok(pid > 1);
  assert.deepEqual(await rt.wait(id), { exitCode: 3, oomKilled: false });
  const logs = await collectLogs(rt, id);
  // (Across streams, order is by each writer's timestamp: tested with pauses in runtime-io.test.ts.)
  assert.deepEqual(logs.map((l) => `${l.stream}:${l.line}`).sort(), ['stderr:err', 'stdout:out']);
  assert.match(logs[0]!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.deepEqual(await rt.list(), [
    { taskId: id, state: 'exited', exit: { exitCode: 3, oomKilled: false } },
  ]);
});

test('own network, PID, mount, UTS and IPC namespaces; named netns with lo up; private /proc and /tmp', async (t) => {
  const { rt } = testRuntime(t);
  const probe =
    'hostname; echo pid=$$; ls /proc | grep -c "^[0-9]"; ip -br link show lo; ls -A /tmp | wc -l; sleep 30';
  const { id, pid } = await runTask(rt, hostSpec(['sh', '-c', probe], { hostname: 'web-1' }));
  for (const ns of ['net', 'pid', 'mnt', 'uts', 'ipc'])
    assert.notEqual(nsInode(pid, ns), nsInode('self', ns), ns);
  // PID 1 of the task's PID namespace is the init the runtime reports.
  assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^NSpid:\s+\d+\s+1$/m);
  assert.equal(nsInode(pid, 'net'), `net:[${statSync(rt.netnsPath(id)).ino}]`);
  assert.match(rt.netnsPath(id), new RegExp(`^/run/netns/${rt.prefix}t${id.slice(0, 12)}$`));
  const out = await eventuallyLines(rt, id, 5);
  assert.equal(out[0], 'web-1');
  assert.match(out[1]!, /^pid=[2-9]$/); // one of init's first children, init being 1
  assert.ok(Number(out[2]) <= 5, `only the task's processes in /proc: ${out[2]}`);
  assert.match(out[3]!, /^lo\s+UNKNOWN/);
  assert.equal(out[4], '0'); // a fresh /tmp
  await rt.stop(id, 1000);
});

async function eventuallyLines(
  rt: Parameters<typeof collectLogs>[0],
  id: string,
  n: number,
): Promise<string[]> {
  for (let i = 0; i < 250; i++) {
    const got = await lines(rt, id);
    if (got.length >= n) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`task ${id} did not print ${n} lines: ${JSON.stringify(await lines(rt, id))}`);
}

test('env, workdir and user; swarmlite leads PATH; the task knows who it is', async (t) => {
  const { rt } = testRuntime(t);
  const { id } = await runTask(
    rt,
    hostSpec(
      [
        'sh',
        '-c',
        'id -u; id -g; pwd; echo "$FOO"; echo "$PATH"; echo "$SWARMLITE_TASK_NAME $SWARMLITE_NODE_HOSTNAME"; echo "$HOME"',
      ],
      {
        env: ['FOO=it is "quoted" $not expanded'],
        workdir: '/usr/share',
        user: 'nobody',
      },
    ),
  );
  assert.equal((await rt.wait(id)).exitCode, 0);
  assert.deepEqual(await lines(rt, id), [
    '65534',
    '65534',
    '/usr/share',
    'it is "quoted" $not expanded',
    '/opt/swl-test/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    `svc.1.${id} testnode`,
    '/nonexistent',
  ]);
});

test('stop: SIGTERM reaches the command (even one without a handler); ignored, SIGKILL after the grace period', async (t) => {
  const { rt } = testRuntime(t);
  const handled = await runTask(
    rt,
    hostSpec(['sh', '-c', 'trap "echo bye; exit 0" TERM; echo up; while :; do sleep 0.05; done']),
  );
  const plain = await runTask(rt, hostSpec(['sleep', '1000']));
  const ignored = await runTask(rt, hostSpec(['sh', '-c', 'trap "" TERM; sleep 1000']));
  await eventuallyLines(rt, handled.id, 1); // its trap is set

  // A grace period far longer than any stop: had SIGTERM been lost, the exit would be SIGKILL's, late.
  await rt.stop(handled.id, 60_000);
  assert.deepEqual(await rt.wait(handled.id), { exitCode: 0, oomKilled: false });
  assert.deepEqual(await lines(rt, handled.id), ['up', 'bye']);

  await rt.stop(plain.id, 60_000);
  assert.deepEqual(await rt.wait(plain.id), { exitCode: 143, signal: 'SIGTERM', oomKilled: false });

  const t0 = Date.now();
  await rt.stop(ignored.id, 300);
  const took = Date.now() - t0;
  assert.ok(took >= 300, `ignored SIGTERM: killed after ${took} ms, before its 300 ms grace period`);
  assert.deepEqual(await rt.wait(ignored.id), { exitCode: 137, signal: 'SIGKILL', oomKilled: false });
  await rt.stop(ignored.id, 300); // a stopped task: no-op
});

test('memory limit: a task that allocates past it is OOM-killed and reported so', async (t) => {
  const { rt } = testRuntime(t);
  const grow = 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));';
  const limits = { memoryBytes: 64 << 20, nanoCpus: 0 };
  const { id } = await runTask(
    rt,
    hostSpec([process.execPath, '-e', grow], { resources: { limits, reservations: limits } }),
  );
  assert.deepEqual(await rt.wait(id), { exitCode: 137, signal: 'SIGKILL', oomKilled: true });
});

test('cgroup limits are written where the layout says (cpu quota, pids)', async (t) => {
  const { rt, prefix } = testRuntime(t);
  const limits = { memoryBytes: 32 << 20, nanoCpus: 5e8 };
  const launch = launchOf(hostSpec(['sleep', '1000'], { resources: { limits, reservations: limits } }));
  await rt.prepare(launch);
  await rt.start(launch.taskId); // the OCI runtime makes the cgroup at create
  const v1 = existsSync('/sys/fs/cgroup/memory/cgroup.procs');
  const read = (ctrl: string, file: string) =>
    readFileSync(
      join('/sys/fs/cgroup', v1 ? ctrl : '', 'swarmlite', prefix, launch.taskId, file),
      'utf8',
    ).trim();
  if (v1) {
    assert.equal(read('memory', 'memory.limit_in_bytes'), String(32 << 20));
    assert.equal(read('cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(read('pids', 'pids.max'), '4096');
  } else {
    assert.equal(read('', 'memory.max'), String(32 << 20));
    assert.equal(read('', 'cpu.max'), '50000 100000');
    assert.equal(read('', 'pids.max'), '4096');
  }
  await rt.stop(launch.taskId, 1000);
});

test('remove leaves nothing: processes, netns, mounts, cgroup folders, state and logs', async (t) => {
  const { rt, prefix, root } = testRuntime(t);
  const { id, pid } = await runTask(rt, hostSpec(['sh', '-c', 'sleep 1000 & sleep 1000']));
  const proc = JSON.parse(readFileSync(join(root, id, 'process.json'), 'utf8'));
  const pids = [pid, proc.outer.pid, ...proc.loggers.map((l: { pid: number }) => l.pid)];
  assert.equal(pids.length, 4);
  assert.ok(pids.every((p) => isRunning(processRef(p)!)));
  assert.notDeepEqual(leftovers(prefix, root, pids), []);
  await rt.remove(id);
  assert.deepEqual(leftovers(prefix, root, pids), []);
  assert.deepEqual(await rt.list(), []);
  await rt.remove(id); // again: nothing to do, no error
});

test('removeEverything leaves no process naming the runtime, its own spawner included (its caller removes the folders next)', async (t) => {
  const { rt, prefix, root } = testRuntime(t);
  await runTask(rt, hostSpec(['sleep', '1000']));
  await rt.removeEverything();
  assert.deepEqual(leftovers(prefix, root), []);
  const naming = readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(`${root}/`);
      } catch {
        return false; // gone meanwhile
      }
    });
  assert.deepEqual(naming, []);
});

test('bad input: one clear error, nothing left behind', async (t) => {
  const { rt, prefix, root } = testRuntime(t);
  await assert.rejects(rt.prepare(launchOf(hostSpec(['true'], { image: 'nginx' }))), {
    message: 'unknown image "nginx": only the built-in image "host" is available on this node',
  });
  await assert.rejects(rt.prepare(launchOf(hostSpec([]))), /no command/);
  await assert.rejects(rt.prepare(launchOf(hostSpec(['no-such-cmd-xyz']))), /executable file not found/);
  await assert.rejects(
    rt.prepare(launchOf(hostSpec(['true'], { user: 'no-such-user' }))),
    /unable to find user/,
  );
  assert.deepEqual(leftovers(prefix, root), []);
  await assert.rejects(rt.start('nosuchtask'), /task nosuchtask is not prepared on this node/);
  await assert.rejects(rt.wait('nosuchtask'), /not prepared/);
  await assert.rejects(rt.exec('nosuchtask', ['true'], { tty: false }), /not prepared/);
  await assert.rejects(rt.start('../../etc'), /invalid task id/);
  const launch = launchOf(hostSpec(['true']));
  await rt.prepare(launch);
  await rt.prepare(launch); // idempotent
  await assert.rejects(rt.exec(launch.taskId, ['true'], { tty: false }), /is not running/);
  await rt.stop(launch.taskId, 10); // prepared, never started: nothing to stop
  await rt.remove(launch.taskId);
  assert.deepEqual(leftovers(prefix, root), []);
});
