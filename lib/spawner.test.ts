import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { CommandError } from './exec.js';
import { isRunning, processRef } from './process.js';
import { Spawner } from './spawner.js';

function spawner(t: TestContext): { sp: Spawner; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'swl-spawner-'));
  const sp = new Spawner(join(dir, 'out'));
  t.after(async () => {
    await sp.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { sp, dir: join(dir, 'out') };
}

test('request and reply lines: any argument passes hex-encoded, anything but a reply is ignored', () => {
  assert.equal(
    Spawner.requestLine(7, ['/bin/echo', 'a b', 'c\nd']),
    'R 7 2f62696e2f6563686f 612062 630a64\n',
  );
  const table: [string, ReturnType<typeof Spawner.parseReply>][] = [
    ['7 0', { id: 7, status: 0 }],
    ['12 768', { id: 12, status: 768 }],
    ['3 F', { id: 3, forkFailed: true }],
    ['x 0', undefined],
    ['7', undefined],
    ['7 0 extra', undefined],
    ['', undefined],
  ];
  for (const [line, want] of table) assert.deepEqual(Spawner.parseReply(line), want, line);
});

test('a tool run by the spawner: its stdout, its exit code and stderr in the error, okCodes, okIfAbsent', async (t) => {
  const { sp, dir } = spawner(t);
  assert.equal(await sp.run('echo', ['a b', 'c\nd', 'é']), 'a b c\nd é\n');
  await assert.rejects(sp.run('sh', ['-c', 'echo out; echo oops >&2; exit 3']), (err: unknown) => {
    assert.ok(err instanceof CommandError);
    assert.equal(err.exitCode, 3);
    assert.equal(err.stderr, 'oops\n');
    assert.match(err.message, /^sh -c .* failed \(exit 3\): oops$/);
    return true;
  });
  assert.equal(await sp.run('sh', ['-c', 'echo fine; exit 2'], { okCodes: [2] }), 'fine\n');
  const absent = ['-c', 'echo "Cannot find device x" >&2; exit 1'];
  assert.equal(await sp.run('sh', absent, { okIfAbsent: true }), '');
  await assert.rejects(sp.run('sh', absent), /Cannot find device/);
  await assert.rejects(sp.run('sh', ['-c', 'kill -9 $$']), /killed by signal 9/);
  assert.deepEqual(readdirSync(dir), []); // every output file read and removed
});

test('many at once each get their own output; a timeout ends the command', async (t) => {
  const { sp } = spawner(t);
  const outs = await Promise.all(
    Array.from({ length: 40 }, (_, i) => sp.run('sh', ['-c', `sleep 0.0$((${i} % 5)); echo ${i}`])),
  );
  assert.deepEqual(
    outs,
    Array.from({ length: 40 }, (_, i) => `${i}\n`),
  );
  await assert.rejects(sp.run('sleep', ['600'], { timeoutMs: 200 }), (err: unknown) => {
    assert.ok(err instanceof CommandError);
    assert.equal(err.exitCode, undefined);
    assert.match(err.stderr, /timed out after 200 ms/);
    return true;
  });
});

test('a helper that died: what waited on it fails, the next call starts a new one', async (t) => {
  const { sp } = spawner(t);
  assert.equal(await sp.run('echo', ['one']), 'one\n');
  const waiting = sp.run('sh', ['-c', 'kill -9 $PPID; sleep 2']);
  await assert.rejects(waiting, /the spawner exited before the command ended/);
  assert.equal(await sp.run('echo', ['two']), 'two\n');
});

test('close: the helper has exited when it resolves; the next call starts a new one', async (t) => {
  const { sp } = spawner(t);
  const helper = Number(await sp.run('sh', ['-c', 'echo $PPID']));
  const ref = processRef(helper)!;
  assert.ok(isRunning(ref));
  await sp.close();
  assert.ok(!isRunning(ref), `helper ${helper} still there after close`);
  await sp.close(); // again: nothing to end
  const next = Number(await sp.run('sh', ['-c', 'echo $PPID']));
  assert.notEqual(next, helper);
});

test('a launch: its own session, cwd /, only PATH and LC_ALL, output appended to its file; its pid, then its end', async (t) => {
  const { sp, dir } = spawner(t);
  const log = join(dir, '..', 'launch.log');
  writeFileSync(log, 'before\n');
  const script = 'echo "sid $(cut -d" " -f6 /proc/$$/stat) pid $$"; pwd; env | sort; echo err >&2; exit 4';
  const { pid, ended } = await sp.launch(['/bin/sh', '-c', script], { logFile: log, path: '/usr/bin:/bin' });
  // A launched process does not hold the event loop (a daemon's runs on anyway): the test holds it.
  const hold = setInterval(() => undefined, 1000);
  const end = await ended.finally(() => clearInterval(hold));
  assert.equal(end.status, 4 << 8);
  const lines = readFileSync(log, 'utf8').split('\n');
  assert.deepEqual(lines.slice(0, 2), ['before', `sid ${pid} pid ${pid}`]);
  assert.equal(lines[2], '/');
  // sh adds PWD (and may add SHLVL); nothing of this process's environment passes.
  const vars = lines.slice(3, -2).map((l) => l.split('=')[0]);
  assert.ok(vars.includes('PATH') && vars.includes('LC_ALL'), vars.join(' '));
  assert.deepEqual(
    vars.filter((v) => !['PATH', 'LC_ALL', 'PWD', 'SHLVL', '_'].includes(v)),
    [],
  );
  assert.equal(lines.at(-2), 'err');
  await assert.rejects(sp.launch([], { logFile: log, path: '/bin' }), /no command/);
});
