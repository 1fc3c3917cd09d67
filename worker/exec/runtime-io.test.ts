// Integration tests of the task runtime's outside surface: logs (tail, follow, rotation), exec,
// and tasks that outlive the daemon that started them (adopted by the next one).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ExecHandle, LogLine } from '../agent/executor.js';
import { isRunning, processRef, waitForExit } from '../../lib/process.js';
import type { ProcessRecord } from './task-files.js';
import { collectLogs, hostSpec, launchOf, leftovers, runTask, testRuntime } from './test-fixtures.js';

async function finish(h: ExecHandle): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  h.stdout.on('data', (d: Buffer) => (out += d.toString()));
  h.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await h.exit;
  return { code, out, err };
}

test('logs: tail, then follow new lines until aborted', async (t) => {
  const { rt } = testRuntime(t);
  // Pauses between the streams: the two streams' writers stamp lines independently (as Docker's
  // do), so only lines further apart than a writer's lag keep their order across streams. The
  // follow must begin in the 2 s pause, which a loaded machine needs.
  const script =
    'for i in 1 2 3 4 5; do echo line$i; done; sleep 0.1; echo warn >&2; sleep 2; echo later1; sleep 0.1; echo later2 >&2; sleep 1000';
  const { id } = await runTask(rt, hostSpec(['sh', '-c', script]));
  for (let i = 0; i < 500 && (await collectLogs(rt, id)).length < 6; i++)
    await new Promise((r) => setTimeout(r, 10));
  const abort = new AbortController();
  // Lines that never come fail the assertions below instead of hanging the test process.
  const guard = setTimeout(() => abort.abort(), 20_000);
  t.after(() => clearTimeout(guard));
  const seen: LogLine[] = [];
  const following = (async () => {
    for await (const l of rt.logs(id, { tail: 2, follow: true, signal: abort.signal })) {
      seen.push(l);
      if (seen.length === 4) abort.abort();
    }
  })();
  await following;
  assert.deepEqual(
    seen.map((l) => `${l.stream}:${l.line}`),
    ['stdout:line5', 'stderr:warn', 'stdout:later1', 'stderr:later2'],
  );
  assert.deepEqual(
    (await collectLogs(rt, id, { tail: 3 })).map((l) => l.line),
    ['warn', 'later1', 'later2'],
  );
  // A follow ends when the task is removed.
  const follower = collectLogs(rt, id, { follow: true, tail: 0 });
  await rt.remove(id);
  assert.deepEqual(await follower, []);
});

test('logs rotate at the size limit and keep the newest files', async (t) => {
  const { rt, root } = testRuntime(t, { logMaxBytes: 4096, logMaxFiles: 2 });
  const { id } = await runTask(
    rt,
    hostSpec(['sh', '-c', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done']),
  );
  assert.equal((await rt.wait(id)).exitCode, 0);
  // The writers end just after the task, once they have written its last lines.
  const proc = JSON.parse(readFileSync(join(root, id, 'process.json'), 'utf8')) as ProcessRecord;
  for (const ref of proc.loggers) assert.ok(await waitForExit(ref, 5000));
  const logs = join(root, id, 'logs');
  const all = await collectLogs(rt, id);
  assert.deepEqual(readdirSync(logs).sort(), ['stderr.log', 'stdout.log', 'stdout.log.1']);
  const first = Number(all[0]!.line.split(' ')[1]);
  assert.ok(first > 1000, `old lines rotated away (first kept: ${first})`);
  assert.deepEqual(
    all.map((l) => l.line),
    Array.from({ length: 2000 - first }, (_, i) => `line ${first + i}`),
  );
});

test('exec: inside the namespaces, with the task env, exit codes and signals pass through, stdin works', async (t) => {
  const { rt } = testRuntime(t);
  const { id } = await runTask(
    rt,
    hostSpec(['sleep', '1000'], { hostname: 'exec-host', env: ['GREETING=hi there'], workdir: '/usr' }),
  );
  const r1 = await finish(
    await rt.exec(
      id,
      [
        'sh',
        '-c',
        'hostname; echo "$GREETING"; pwd; cat /proc/1/cmdline | tr "\\0" " "; echo; echo oops >&2; exit 3',
      ],
      { tty: false },
    ),
  );
  assert.equal(r1.code, 3);
  const [host, greeting, cwd, init] = r1.out.split('\n');
  assert.deepEqual([host, greeting, cwd], ['exec-host', 'hi there', '/usr']);
  assert.match(init!, /^\/dev\/init -- sleep 1000/); // PID 1 of the task's namespace: the init of `host`
  assert.equal(r1.err, 'oops\n');

  const { Readable } = await import('node:stream');
  const r2 = await finish(
    await rt.exec(id, ['cat'], { tty: false, stdin: Readable.from(['from ', 'stdin']) }),
  );
  assert.deepEqual([r2.code, r2.out], [0, 'from stdin']);

  const h = await rt.exec(id, ['sleep', '1000'], { tty: true }); // tty: approximated with pipes
  setTimeout(() => h.kill('SIGTERM'), 100);
  assert.equal((await finish(h)).code, 143);
  // Once it ended, its pid (its process group's id) may be anyone's: a late kill() signals nothing.
  const kill = t.mock.method(process, 'kill', () => true);
  h.kill('SIGKILL');
  kill.mock.restore();
  assert.equal(kill.mock.callCount(), 0);
  await assert.rejects(rt.exec(id, [], { tty: false }), /no command/);
  await rt.stop(id, 1000);
  await assert.rejects(rt.exec(id, ['true'], { tty: false }), /is not running/);
});

test('a task outlives its daemon (kill -9) and the next daemon adopts it: list, wait, stop, remove', async (t) => {
  const { prefix, root, make } = testRuntime(t);
  const spec = hostSpec(['sh', '-c', 'echo started; sleep 1.5; echo done; exit 7']);
  const launch = launchOf(spec);
  // A separate process plays the daemon, so it can die the hard way.
  const runtimeJs = fileURLToPath(new URL('./runtime.js', import.meta.url));
  const daemon = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { TaskRuntime } from ${JSON.stringify(runtimeJs)};
       const rt = new TaskRuntime(${JSON.stringify({ root, prefix, nodeHostname: 'n', swarmliteBinDir: '/opt/b' })});
       const launch = ${JSON.stringify(launch)};
       await rt.prepare(launch);
       const { pid } = await rt.start(launch.taskId);
       process.stdout.write(pid + '\\n');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => daemon.kill('SIGKILL'));
  const pid = await new Promise<number>((resolve, reject) => {
    daemon.stdout.once('data', (d: Buffer) => resolve(Number(d.toString())));
    daemon.once('exit', (code) => reject(new Error(`the stand-in daemon exited ${code}`)));
  });
  daemon.kill('SIGKILL');
  await new Promise((r) => daemon.once('exit', r));
  assert.ok(isRunning(processRef(pid)!), 'the task died with its daemon');

  const rt = make(); // the restarted daemon
  assert.deepEqual(await rt.list(), [{ taskId: launch.taskId, state: 'running', pid }]);
  assert.deepEqual(await rt.wait(launch.taskId), { exitCode: 7, oomKilled: false });
  assert.deepEqual(
    (await collectLogs(rt, launch.taskId)).map((l) => l.line),
    ['started', 'done'],
  );
  assert.deepEqual(await rt.list(), [
    { taskId: launch.taskId, state: 'exited', exit: { exitCode: 7, oomKilled: false } },
  ]);

  // An adopted running task can be stopped too.
  const other = await runTask(make(), hostSpec(['sleep', '1000']));
  const again = make();
  await again.stop(other.id, 1000);
  assert.equal((await again.wait(other.id)).exitCode, 143);
  for (const r of await again.list()) await again.remove(r.taskId);
  assert.deepEqual(leftovers(prefix, root, [pid, other.pid]), []);
});

test('whoami in a task names the task, its hostname and node; swarmlite is first on PATH', async (t) => {
  const binDir = fileURLToPath(new URL('../../../bin', import.meta.url));
  const { rt } = testRuntime(t, { swarmliteBinDir: binDir });
  const whoamiJs = fileURLToPath(new URL('./whoami.js', import.meta.url));
  const serve = `import { startWhoami } from ${JSON.stringify(whoamiJs)}; await startWhoami(8080); console.log('up');`;
  const { id } = await runTask(
    rt,
    hostSpec([process.execPath, '--input-type=module', '-e', serve], { hostname: 'who-1' }),
  );
  for (let i = 0; i < 250 && (await collectLogs(rt, id)).length === 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  const ask = `fetch('http://127.0.0.1:8080/?format=json').then((r) => r.text()).then((t) => process.stdout.write(t))`;
  const r = await finish(await rt.exec(id, [process.execPath, '-e', ask], { tty: false }));
  assert.equal(r.code, 0, r.err);
  const answer = JSON.parse(r.out) as Record<string, unknown>;
  assert.deepEqual(
    [answer.name, answer.hostname, answer.node, answer.ips],
    [`svc.1.${id}`, 'who-1', 'testnode', []],
  );
  assert.match(String(answer.remoteAddr), /^127\.0\.0\.1:\d+$/);
  const which = await finish(await rt.exec(id, ['sh', '-c', 'command -v swarmlite'], { tty: false }));
  assert.equal(which.out.trim(), join(binDir, 'swarmlite'));
});
