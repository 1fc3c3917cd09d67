// The launcher and supervisor against stray signals (a signal meant for a process whose pid, or
// process group, the launcher now holds: this machine's 32768 pids go round in about a minute under
// load), and what start() says when the launcher dies before the container runs.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findTool } from '../../lib/exec.js';
import {
  launchContainer,
  launcherEndMessage,
  launcherEndOf,
  lookAtStart,
  START_HANG_MS,
  startVerdict,
  type LaunchRequest,
  type StartObservation,
  type StartVerdict,
} from './container-launch.js';
import { OciCli } from './oci/runtime.js';
import { SYSTEM_PATH } from './runtime.js';
import { installShims } from './shims.js';
import { TaskFiles, type ProcessRecord } from './task-files.js';
import { collectLogs, hostSpec, launchOf, runTask, testRuntime } from './test-fixtures.js';

const STRAY: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGPIPE'];

test('why a launcher that ended early failed: its words first, then how it ended', () => {
  const table: [Parameters<typeof launcherEndMessage>, string][] = [
    [[{ code: null, signal: 'SIGKILL' }, undefined], 'the launcher was killed by SIGKILL'],
    [[{ code: 1, signal: null }, undefined], 'the launcher exited with status 1 without saying why'],
    [
      [{ code: 125, signal: null }, 'runc create failed: x'],
      'runc create failed: x (the launcher exited with status 125)',
    ],
    [
      [{ code: null, signal: 'SIGTERM' }, 'swarmlite: y'],
      'swarmlite: y (the launcher was killed by SIGTERM)',
    ],
    [
      [{ error: 'spawn /bin/bash EAGAIN' }, undefined],
      'the launcher could not be started: spawn /bin/bash EAGAIN',
    ],
    [[undefined, undefined], 'the launcher could not be started'],
  ];
  for (const [args, want] of table) assert.equal(launcherEndMessage(...args), want);
});

test('a wait status is how the launcher ended: an exit code, or the signal by name', () => {
  assert.deepEqual(launcherEndOf(0), { code: 0, signal: null });
  assert.deepEqual(launcherEndOf(125 << 8), { code: 125, signal: null });
  assert.deepEqual(launcherEndOf(9), { code: null, signal: 'SIGKILL' });
  assert.deepEqual(launcherEndOf(15 | 0x80), { code: null, signal: 'SIGTERM' }); // with a core dump
  assert.equal(launcherEndMessage(launcherEndOf(9), undefined), 'the launcher was killed by SIGKILL');
});

test('a start is waited for while its supervisor runs, however slow; only a record, its end or the hang bound end it', () => {
  const look = (o: Partial<StartObservation>): StartObservation => ({
    created: undefined,
    exitRecorded: false,
    launcherGone: false,
    rechecked: false,
    pastDeadline: false,
    ...o,
  });
  const table: [string, StartObservation, StartVerdict][] = [
    ['nothing recorded yet, supervisor running', look({}), { kind: 'wait' }],
    ['created', look({ created: '4242\n' }), { kind: 'started', initPid: 4242 }],
    [
      'created, and the quick command already exited',
      look({ created: '4242', exitRecorded: true }),
      { kind: 'started', initPid: 4242 },
    ],
    [
      'created, and the launcher already gone',
      look({ created: '7', launcherGone: true }),
      { kind: 'started', initPid: 7 },
    ],
    ['created with no usable pid', look({ created: 'x' }), { kind: 'started' }],
    ['a status without created', look({ exitRecorded: true }), { kind: 'supervisor-failed' }],
    ['an empty created file is not a start', look({ created: '\n' }), { kind: 'wait' }],
    ['launcher gone: read its files once more first', look({ launcherGone: true }), { kind: 'recheck' }],
    [
      'launcher gone, files read again: it failed',
      look({ launcherGone: true, rechecked: true }),
      { kind: 'launcher-ended' },
    ],
    ['past the hang bound, nothing recorded', look({ pastDeadline: true }), { kind: 'hung' }],
    [
      'past the hang bound but created',
      look({ pastDeadline: true, created: '9' }),
      { kind: 'started', initPid: 9 },
    ],
  ];
  for (const [what, o, want] of table) assert.deepEqual(startVerdict(o), want, what);
  // The bound is for a hung create, not a slow one: the 10 s it once was turned starts on a loaded
  // machine into task failures (and restarts with delays).
  assert.ok(START_HANG_MS >= 60_000);
});

test('a quick command whose supervisor writes created and exit between two reads is started, not failed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-look-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const real = new TaskFiles(dir);
  // The supervisor's two writes land right after the look's first read, whichever file that is.
  let reads = 0;
  const racing = {
    created: real.created,
    exit: real.exit,
    readText(path: string) {
      const text = real.readText(path);
      if (reads++ === 0) {
        writeFileSync(real.created, '4242\n');
        writeFileSync(real.exit, '1\n');
      }
      return text;
    },
  };
  const verdict = startVerdict(lookAtStart(racing, false, false, false));
  assert.deepEqual(verdict, { kind: 'started', initPid: 4242 });
});

/**
 * A launch whose OCI runtime `create` waits for a file before it runs: the supervisor is held
 * before the container exists for as long as the test needs.
 */
function heldLaunch(root: string, taskId: string): { req: LaunchRequest; release(): void } {
  const gate = join(root, `${taskId}.gate`);
  class HeldCreate extends OciCli {
    override createCommand(...args: Parameters<OciCli['createCommand']>): string[] {
      const wait = 'until [ -e "$0" ]; do sleep 0.01; done; exec "$@"';
      return [findTool('sh'), '-c', wait, gate, ...super.createCommand(...args)];
    }
  }
  const req: LaunchRequest = {
    taskId,
    files: new TaskFiles(join(root, taskId)),
    runtime: new HeldCreate(join(root, '.runc')),
    shims: installShims(root),
    logMaxBytes: 1 << 20,
    logMaxFiles: 2,
    timeoutMs: 120_000,
    systemPath: SYSTEM_PATH,
  };
  return { req, release: () => writeFileSync(gate, '') };
}

/** The launcher's pid, once oci-start.sh wrote it (after it set what it ignores). */
async function launcherPid(files: TaskFiles): Promise<number> {
  for (let i = 0; i < 3000; i++) {
    const text = files.readText(files.supervisor)?.trim();
    if (text) return Number(text);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no launcher pid in ${files.supervisor}`);
}

test('stray signals to the launcher before the container exists: it starts and reports the exit as if none came', async (t) => {
  const { rt, root } = testRuntime(t);
  const launch = launchOf(hostSpec(['sh', '-c', 'echo out; exit 3']));
  await rt.prepare(launch);
  const { req, release } = heldLaunch(root, launch.taskId);
  const launching = launchContainer(req);
  launching.catch(() => undefined); // awaited below; a rejection must not go unhandled meanwhile
  const pid = await launcherPid(req.files);
  for (const signal of STRAY) process.kill(pid, signal);
  release();
  const proc = await launching;
  assert.equal(proc.outer.pid, pid);
  assert.deepEqual(await rt.wait(launch.taskId), { exitCode: 3, oomKilled: false });
  assert.deepEqual(
    (await collectLogs(rt, launch.taskId)).map((l) => l.line),
    ['out'],
  );
});

test('a launcher SIGKILLed before the container exists: start says so', async (t) => {
  const { rt, root } = testRuntime(t);
  const launch = launchOf(hostSpec(['true']));
  await rt.prepare(launch);
  const { req } = heldLaunch(root, launch.taskId);
  const launching = launchContainer(req);
  launching.catch(() => undefined);
  // Its process group: the supervisor, the writers and the held `create` (never released).
  process.kill(-(await launcherPid(req.files)), 'SIGKILL');
  await assert.rejects(launching, {
    message: `task ${launch.taskId} failed to start: the launcher was killed by SIGKILL`,
  });
  assert.equal(existsSync(req.files.created), false);
  assert.deepEqual(await rt.list(), [
    { taskId: launch.taskId, state: 'exited', exit: { exitCode: 125, oomKilled: false } },
  ]);
});

test("stray signals to a running task's supervisor and writers: the exit is still recorded, the logs still written", async (t) => {
  const { rt, root } = testRuntime(t);
  const { id } = await runTask(
    rt,
    hostSpec(['sh', '-c', 'trap "echo bye; exit 0" TERM; echo up; while :; do sleep 0.05; done']),
  );
  for (let i = 0; i < 500 && (await collectLogs(rt, id)).length === 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  const proc = JSON.parse(readFileSync(join(root, id, 'process.json'), 'utf8')) as ProcessRecord;
  // The supervisor leads the launcher's process group, which holds the writers too (the
  // container's processes have a session of their own): a stray `kill -- -PGID` reaches all three.
  for (const signal of STRAY) process.kill(-proc.outer.pid, signal);
  assert.deepEqual(await rt.list(), [{ taskId: id, state: 'running', pid: proc.init!.pid }]);
  await rt.stop(id, 60_000);
  assert.deepEqual(await rt.wait(id), { exitCode: 0, oomKilled: false });
  assert.deepEqual(
    (await collectLogs(rt, id)).map((l) => l.line),
    ['up', 'bye'],
  );
});

test('pids recorded by a launch whose daemon died before process.json: another process at that pid now is not the task', async (t) => {
  const { rt, root } = testRuntime(t);
  const { id, pid } = await runTask(rt, hostSpec(['sleep', '1000']));
  const files = new TaskFiles(join(root, id));
  rmSync(files.process); // as a daemon killed between `created` and process.json leaves it
  assert.deepEqual(await rt.list(), [{ taskId: id, state: 'running', pid }]);
  // `created` naming a live process that is not the supervisor's child: no pid to report or signal.
  writeFileSync(files.created, `${process.pid}\n`);
  assert.deepEqual(await rt.list(), [{ taskId: id, state: 'running' }]);
  writeFileSync(files.created, `${pid}\n`);
  await rt.stop(id, 1000);
  assert.deepEqual(await rt.wait(id), { exitCode: 143, signal: 'SIGTERM', oomKilled: false });
  // A launch that never got to `created`, whose supervisor pid now runs something else (this test):
  const launch = launchOf(hostSpec(['true']));
  await rt.prepare(launch);
  const other = new TaskFiles(join(root, launch.taskId));
  writeFileSync(other.loggers, '');
  writeFileSync(other.supervisor, `${process.pid}\n`);
  assert.deepEqual(
    (await rt.list()).find((r) => r.taskId === launch.taskId),
    { taskId: launch.taskId, state: 'exited', exit: { exitCode: 125, oomKilled: false } },
  );
});
