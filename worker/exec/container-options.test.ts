// A service's container options reach the container: task specs carrying them (as the dispatcher
// delivers them) go through the agent's mapping (worker/agent/container-options.ts) into the real
// runtime, and what runs inside a busybox container built by the test shows each one. Root only;
// each test has its own runtime (prefix, root, netns, cgroups) and cleans up after itself.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { Mount, TaskSpec } from '../../api/objects/index.js';
import { containerOptions } from '../agent/container-options.js';
import { capabilityMask, effectiveCapabilities } from './oci/capabilities.js';
import type { TaskRuntime } from './runtime.js';
import { busyboxImage, collectLogs, hostSpec, launchOf, testRuntime } from './test-fixtures.js';

/** Docker's default capability set as /proc/PID/status prints it. */
const DOCKER_CAP_EFF = '00000000a80425fb';

function spec(script: string, over: Partial<TaskSpec> = {}): TaskSpec {
  return hostSpec(['sh', '-c', script], { image: 'busybox', ...over });
}

const mount = (over: Partial<Mount> & Pick<Mount, 'type' | 'target'>): Mount => ({
  source: '',
  readonly: false,
  tmpfsSizeBytes: 0,
  tmpfsMode: 0,
  ...over,
});

/** Runs a task of `s` to its end, the spec's options mapped as the agent maps them. */
async function runToEnd(rt: TaskRuntime, s: TaskSpec) {
  const container = containerOptions(s);
  const launch = { ...launchOf(s), ...(container ? { container } : {}) };
  await rt.prepare(launch);
  await rt.start(launch.taskId);
  const exit = await rt.wait(launch.taskId);
  const lines = (await collectLogs(rt, launch.taskId)).map((l) => l.line);
  return { exit, lines, out: lines.join('\n') };
}

function tempDir(t: TestContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `swl-copts-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('--cap-add NET_ADMIN and --cap-drop CHOWN show in CapEff and in what root may do', async (t) => {
  const { rt } = testRuntime(t, { images: busyboxImage(t) });
  const probe = [
    'grep ^CapEff /proc/self/status',
    'touch /f; chown 1 /f 2>&1; echo chown=$?',
    'ip link set lo mtu 1400 2>&1; echo netadmin=$?',
  ].join('; ');
  const plain = await runToEnd(rt, spec(probe));
  assert.match(plain.out, new RegExp(`^CapEff:\\s+${DOCKER_CAP_EFF}$`, 'm'));
  assert.match(plain.out, /chown=0/);
  assert.match(plain.out, /Operation not permitted[\s\S]*netadmin=[1-9]/);
  const changed = await runToEnd(rt, spec(probe, { capAdd: ['CAP_NET_ADMIN'], capDrop: ['CAP_CHOWN'] }));
  assert.deepEqual(changed.exit, { exitCode: 0, oomKilled: false });
  const want = capabilityMask(effectiveCapabilities(['CAP_NET_ADMIN'], ['CAP_CHOWN']));
  assert.equal(want, '00000000a80435fa'); // Docker's set, bit 12 (NET_ADMIN) set and bit 0 (CHOWN) cleared
  assert.match(changed.out, new RegExp(`^CapEff:\\s+${want}$`, 'm'));
  assert.match(changed.out, /Operation not permitted[\s\S]*chown=1/);
  // (The task's own network namespace: its loopback's MTU is the task's to change.)
  assert.match(changed.out, /netadmin=0/);
  const none = await runToEnd(rt, spec('grep ^CapEff /proc/self/status', { capDrop: ['ALL'] }));
  assert.deepEqual(none.lines, ['CapEff:\t0000000000000000']);
});

test('--read-only refuses writes outside the mounts; a tmpfs mount with its size and mode, a read-only bind and a volume are there', async (t) => {
  const shared = tempDir(t, 'bind');
  writeFileSync(join(shared, 'greeting'), 'hello from the node\n');
  const volumesRoot = tempDir(t, 'volumes');
  const { rt } = testRuntime(t, { images: busyboxImage(t), volumesRoot });
  const mounts = [
    mount({ type: 'tmpfs', target: '/scratch', tmpfsSizeBytes: 8 << 20, tmpfsMode: 0o1777 }),
    mount({ type: 'bind', source: shared, target: '/data', readonly: true }),
    mount({ type: 'volume', source: 'notes', target: '/notes' }),
  ];
  const { exit, out } = await runToEnd(
    rt,
    spec(
      [
        'touch /x 2>&1; echo root=$?',
        'touch /scratch/x && echo tmpfs=ok',
        'grep " /scratch " /proc/mounts',
        'stat -c %a /scratch',
        'cat /data/greeting',
        'touch /data/x 2>&1; echo bind=$?',
        'echo written-in-task >/notes/n && echo volume=ok',
      ].join('; '),
      { readOnly: true, mounts },
    ),
  );
  assert.deepEqual(exit, { exitCode: 0, oomKilled: false });
  assert.match(out, /Read-only file system[\s\S]*root=1/);
  assert.match(out, /tmpfs=ok/);
  assert.match(out, /^tmpfs \/scratch tmpfs .*size=8192k/m);
  assert.match(out, /^1777$/m);
  assert.match(out, /^hello from the node$/m);
  assert.match(out, /Read-only file system[\s\S]*bind=1/);
  assert.match(out, /volume=ok/);
  // The named volume is the node's folder, made on first use, and outlives the task.
  assert.equal(readFileSync(join(volumesRoot, 'notes', '_data', 'n'), 'utf8'), 'written-in-task\n');
});

test('--init gives PID 1 = the init, --no-init the command (also on the host image, whose default is an init)', async (t) => {
  const { rt } = testRuntime(t, { images: busyboxImage(t) });
  const probe = 'tr "\\0" " " </proc/1/cmdline; echo';
  const withInit = await runToEnd(rt, spec(probe, { init: true }));
  assert.match(withInit.lines[0]!, /^\/dev\/init -- sh -c /);
  const without = await runToEnd(rt, spec(probe));
  assert.match(without.lines[0]!, /^sh -c /);
  const hostPlain = await runToEnd(rt, hostSpec(['sh', '-c', probe]));
  assert.match(hostPlain.lines[0]!, /^\/dev\/init -- sh -c /);
  const hostNoInit = await runToEnd(rt, hostSpec(['sh', '-c', probe], { init: false }));
  assert.match(hostNoInit.lines[0]!, /^sh -c /);
});

test('--security-opt no-new-privileges shows NoNewPrivs: 1; seccomp=unconfined runs without the filter', async (t) => {
  const { rt } = testRuntime(t, { images: busyboxImage(t) });
  const probe = 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status; unshare -U true 2>&1; echo userns=$?';
  const plain = await runToEnd(rt, spec(probe));
  assert.match(plain.out, /^NoNewPrivs:\s+0$/m);
  assert.match(plain.out, /^Seccomp:\s+2$/m); // a filter
  // Docker's profile refuses new user namespaces to a container without CAP_SYS_ADMIN.
  assert.match(plain.out, /userns=[1-9]/);
  const nnp = await runToEnd(rt, spec(probe, { noNewPrivileges: true }));
  assert.match(nnp.out, /^NoNewPrivs:\s+1$/m);
  const unconfined = await runToEnd(rt, spec(probe, { seccomp: 'unconfined' }));
  assert.match(unconfined.out, /^Seccomp:\s+0$/m);
  assert.match(unconfined.out, /userns=0/);
});

test("--entrypoint replaces the image's entrypoint and its cmd; args alone keep the entrypoint", async (t) => {
  const { rt } = testRuntime(t, {
    images: busyboxImage(t, { entrypoint: ['echo', 'image-entrypoint'], cmd: ['image-cmd'] }),
  });
  const image = hostSpec([], { image: 'busybox' });
  assert.deepEqual((await runToEnd(rt, image)).lines, ['image-entrypoint image-cmd']);
  assert.deepEqual((await runToEnd(rt, { ...image, args: ['given'] })).lines, ['image-entrypoint given']);
  assert.deepEqual((await runToEnd(rt, { ...image, command: ['echo', 'spec-entrypoint'] })).lines, [
    'spec-entrypoint',
  ]);
  assert.deepEqual(
    (await runToEnd(rt, { ...image, command: ['sh', '-c'], args: ['echo $0-$1', 'a', 'b'] })).lines,
    ['a-b'],
  );
});

test("--stop-signal: stop sends the spec's signal first (here SIGUSR1, which the task traps), then SIGKILL after the grace", async (t) => {
  const { rt } = testRuntime(t, { images: busyboxImage(t) });
  const script =
    'trap "echo got-usr1; exit 0" USR1; trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.05; done';
  const launch = launchOf(spec(script, { stopSignal: 'SIGUSR1' }));
  await rt.prepare(launch);
  await rt.start(launch.taskId);
  const deadline = Date.now() + 20_000;
  while (!(await collectLogs(rt, launch.taskId)).some((l) => l.line === 'ready')) {
    assert.ok(Date.now() < deadline, 'the task never said ready');
    await new Promise((r) => setTimeout(r, 50));
  }
  await rt.stop(launch.taskId, 60_000);
  assert.deepEqual(await rt.wait(launch.taskId), { exitCode: 0, oomKilled: false });
  const lines = (await collectLogs(rt, launch.taskId)).map((l) => l.line);
  assert.ok(lines.includes('got-usr1') && !lines.includes('got-term'), lines.join(' | '));
});

test('bad options are refused at prepare with one clear error, nothing left running', async (t) => {
  const { rt } = testRuntime(t, { images: busyboxImage(t) });
  const cases: [Partial<TaskSpec>, RegExp][] = [
    [{ capAdd: ['CAP_NOPE'] }, /invalid capability "CAP_NOPE"/],
    [
      { mounts: [mount({ type: 'bind', source: '/nonexistent-swl-copts', target: '/x' })] },
      /bind source path does not exist/,
    ],
    [{ mounts: [mount({ type: 'tmpfs', target: '/proc' })] }, /mount target "\/proc": it is reserved/],
    [{ stopSignal: 'SIGNOPE' }, /invalid stop signal "SIGNOPE"/],
    [
      { mounts: [mount({ type: 'volume', source: 'v', target: '/v' })] },
      /named volumes are not available on this node/,
    ],
  ];
  for (const [over, message] of cases) {
    const s = spec('true', over);
    const container = containerOptions(s);
    await assert.rejects(rt.prepare({ ...launchOf(s), ...(container ? { container } : {}) }), message);
  }
  assert.deepEqual(await rt.list(), []);
});
