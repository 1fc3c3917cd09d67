// Docker's default isolation, shown from inside containers on this kernel (root): a busybox image
// built by the test from Debian's busybox-static, and the built-in `host` image, through the same
// runtime. Each test has its own runtime (prefix, root, netns, cgroups) and cleans up after itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContainerOptions } from '../agent/executor.js';
import type { TaskSpec } from '../../api/objects/index.js';
import { busyboxImage, collectLogs, hostSpec, launchOf, leftovers, testRuntime } from './test-fixtures.js';
import type { TaskRuntime } from './runtime.js';

/** Docker's default capability set as /proc/PID/status prints it. */
const DOCKER_CAP_EFF = '00000000a80425fb';

function spec(script: string, over: Partial<TaskSpec> = {}): TaskSpec {
  return hostSpec(['sh', '-c', script], { image: 'busybox', ...over });
}

/** Runs a task to its end; its exit and its output lines (stdout and stderr, in time order). */
async function runToEnd(rt: TaskRuntime, s: TaskSpec, container?: ContainerOptions) {
  const launch = { ...launchOf(s), ...(container ? { container } : {}) };
  await rt.prepare(launch);
  await rt.start(launch.taskId);
  const exit = await rt.wait(launch.taskId);
  return { id: launch.taskId, exit, lines: (await collectLogs(rt, launch.taskId)).map((l) => l.line) };
}

test("inside a busybox container: Docker's capabilities, EPERM for unshare and mount, read-only /proc and /sys, only its own processes and files", async (t) => {
  const { rt, prefix, root } = testRuntime(t, { images: busyboxImage(t) });
  const probe = [
    'grep -E "^Cap(Eff|Bnd)" /proc/self/status',
    'unshare -n true 2>&1; echo unshare=$?',
    'mkdir -p /mnt; mount -t tmpfs none /mnt 2>&1; echo mount=$?',
    // (The shell's own error goes to the stream of the braces: one stream keeps the order.)
    '{ echo h >/proc/sysrq-trigger; } 2>&1; echo sysrq=$?',
    '{ echo 1 >/sys/kernel/profiling; } 2>&1; echo sys=$?',
    // (This kernel has no /proc/kcore or /proc/sysrq-trigger; /proc/keys and /sys/firmware it has.)
    'echo keys=$(wc -c </proc/keys) firmware=$(ls /sys/firmware | wc -l)',
    'echo pids=$(ps -o pid | tail -n +2 | tr "\\n" " ")',
    'test -e /usr/bin/node; echo hostfile=$?',
    'cat /etc/hostname; grep nameserver /etc/resolv.conf',
    'touch /written && echo rootfs=writable',
  ].join('; ');
  const { exit, lines } = await runToEnd(rt, spec(probe, { hostname: 'iso-1' }));
  assert.deepEqual(exit, { exitCode: 0, oomKilled: false });
  const out = lines.join('\n');
  assert.match(out, new RegExp(`^CapEff:\\s+${DOCKER_CAP_EFF}$`, 'm'));
  assert.match(out, new RegExp(`^CapBnd:\\s+${DOCKER_CAP_EFF}$`, 'm'));
  assert.match(out, /unshare.*Operation not permitted[\s\S]*unshare=1/);
  assert.match(out, /Operation not permitted[\s\S]*mount=255|mount=1/);
  assert.doesNotMatch(out, /mount=0/);
  assert.match(out, /sysrq=[1-9]/);
  assert.match(out, /profiling: Read-only file system[\s\S]*sys=[1-9]/);
  assert.match(out, /^keys=0 firmware=0$/m); // masked: /dev/null and an empty tmpfs
  // Only the container's own processes: sh as PID 1 and the few the probe line runs, none of the host's.
  const pids = /^pids=(.*)$/m.exec(out)![1]!.trim().split(' ').map(Number);
  assert.equal(pids[0], 1);
  // (The probe forked a few dozen short-lived processes before: small numbers, never the host's.)
  assert.ok(pids.length <= 6 && pids.every((p) => p < 100), `pids seen: ${pids.join(' ')}`);
  assert.match(out, /hostfile=1/);
  assert.match(out, /^iso-1$/m);
  assert.match(out, /^nameserver 127\.0\.0\.11$/m);
  assert.match(out, /rootfs=writable/);
  assert.deepEqual(
    leftovers(prefix, root).filter((l) => l.startsWith('process')),
    [],
  );
});

test('--read-only refuses writes outside tmpfs; --tmpfs, user by name from the image, memory limit in the cgroup', async (t) => {
  const { rt } = testRuntime(t, { images: busyboxImage(t) });
  const limits = { memoryBytes: 64 << 20, nanoCpus: 0 };
  const { exit, lines } = await runToEnd(
    rt,
    spec(
      [
        'touch /x 2>&1; echo root=$?',
        'touch /scratch/x && echo tmpfs=ok',
        'id -u; id -g',
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
        'grep CapEff /proc/self/status',
      ].join('; '),
      { user: 'nobody', resources: { limits, reservations: limits } },
    ),
    { readOnly: true, mounts: [{ type: 'tmpfs', target: '/scratch', mode: 0o1777 }] },
  );
  assert.deepEqual(exit, { exitCode: 0, oomKilled: false });
  assert.match(lines.join('\n'), /Read-only file system[\s\S]*root=1/);
  assert.ok(lines.includes('tmpfs=ok'), lines.join('\n'));
  assert.deepEqual(lines.slice(-4), ['65534', '65534', String(64 << 20), 'CapEff:\t0000000000000000']);
});

test('exit codes and signals: PID 1 without an init ignores SIGTERM (SIGKILL after the grace), with --init it ends', async (t) => {
  const { rt } = testRuntime(t, { images: busyboxImage(t) });
  assert.deepEqual((await runToEnd(rt, spec('exit 7'))).exit, { exitCode: 7, oomKilled: false }, 'exit 7');
  const bare = launchOf(hostSpec(['sleep', '1000'], { image: 'busybox' }));
  const init = { ...launchOf(hostSpec(['sleep', '1000'], { image: 'busybox' })), container: { init: true } };
  for (const l of [bare, init]) {
    await rt.prepare(l);
    await rt.start(l.taskId);
  }
  // A grace of a minute: ended by SIGTERM (its status says so), not by the SIGKILL after the grace.
  await rt.stop(init.taskId, 60_000);
  assert.deepEqual(
    await rt.wait(init.taskId),
    { exitCode: 143, signal: 'SIGTERM', oomKilled: false },
    'with --init',
  );
  await rt.stop(bare.taskId, 300);
  assert.deepEqual(
    await rt.wait(bare.taskId),
    { exitCode: 137, signal: 'SIGKILL', oomKilled: false },
    'without an init',
  );
});

test('exec in a busybox container: its env, user and isolation; exit codes pass through', async (t) => {
  const { rt } = testRuntime(t, { images: busyboxImage(t) });
  const launch = launchOf(spec('sleep 1000', { env: ['GREETING=hi'] }));
  await rt.prepare(launch);
  await rt.start(launch.taskId);
  const h = await rt.exec(
    launch.taskId,
    ['sh', '-c', 'echo $GREETING; grep CapEff /proc/self/status; unshare -n true 2>/dev/null; exit 3'],
    { tty: false },
  );
  let out = '';
  h.stdout.on('data', (d: Buffer) => (out += d.toString()));
  assert.equal(await h.exit, 3);
  assert.equal(out, `hi\nCapEff:\t${DOCKER_CAP_EFF}\n`);
  await rt.stop(launch.taskId, 100);
});

test('the host image runs with the same isolation: capabilities, seccomp, private /tmp, its own PIDs', async (t) => {
  const { rt } = testRuntime(t);
  const { exit, lines } = await runToEnd(
    rt,
    hostSpec([
      'sh',
      '-c',
      'grep CapEff /proc/self/status; unshare -n true 2>&1; echo unshare=$?; ls -A /tmp | wc -l; ls /proc | grep -c "^[0-9]"',
    ]),
  );
  assert.deepEqual(exit, { exitCode: 0, oomKilled: false });
  assert.equal(lines[0], `CapEff:\t${DOCKER_CAP_EFF}`);
  assert.match(lines.join('\n'), /Operation not permitted[\s\S]*unshare=1/);
  assert.equal(lines.at(-2), '0');
  assert.ok(Number(lines.at(-1)) <= 6, `processes seen: ${lines.at(-1)}`);
});

test("exec failures: a program the kernel cannot run exits 1 saying why (as in Docker); a container runc cannot create fails start with runc's reason and reads as 125; nothing left", async (t) => {
  const { rt, prefix, root } = testRuntime(t, { images: busyboxImage(t) });
  const garbage = await runToEnd(rt, hostSpec(['/bin/garbage'], { image: 'busybox' }));
  assert.deepEqual(garbage.exit, { exitCode: 1, oomKilled: false });
  assert.ok(
    garbage.lines.includes('exec /bin/garbage: exec format error'),
    `runc's reason in the task's log: ${garbage.lines.join(' | ')}`,
  );
  // A file bound over a folder: the runtime refuses it at create.
  const launch = {
    ...launchOf(hostSpec(['sh'], { image: 'busybox' })),
    container: {
      mounts: [{ type: 'bind' as const, source: '/etc/hostname', target: '/bin', readonly: true }],
    },
  };
  await rt.prepare(launch);
  await assert.rejects(rt.start(launch.taskId), /failed to start: .*not a directory/);
  assert.deepEqual(await rt.wait(launch.taskId), { exitCode: 125, oomKilled: false });
  await assert.rejects(rt.prepare(launchOf(hostSpec(['sh'], { image: 'nosuch' }))), /No such image: nosuch/);
  for (const id of [garbage.id, launch.taskId]) await rt.remove(id);
  assert.deepEqual(leftovers(prefix, root), []);
});
