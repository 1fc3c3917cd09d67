// The CLI's bad-input paths: each is one clear message on stderr and a specific non-zero exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { swarmliteBin } from '../lib/repo.js';
import { PROCESS_DEADLINE_MS } from '../test/support.js';
import { spawnDaemon, waitForDaemon } from './test-daemon.js';

/** The real launcher (bin/swarmlite.js), as users run it. */
const MAIN = swarmliteBin();

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SWARMLITE_HOST: '', ...env },
    timeout: PROCESS_DEADLINE_MS,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('an unknown verb is one line in the CLI style (not commander\'s lowercase "error:") and exits 2', () => {
  const r = cli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "Error: unknown command 'frobnicate' (see 'swarmlite --help')\n");
  assert.equal(r.stdout, '');
});

test('an unknown flag names where to look; a missing argument shows the usage; one line, exit 2', () => {
  const r = cli(['info', '--bogus']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "Error: unknown option '--bogus' (see 'swarmlite info --help')\n");
  const missing = cli(['service', 'create']);
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr,
    "Error: missing required argument 'image' (usage: swarmlite service create [options] <image> [command...])\n",
  );
});

test('an unknown lab verb and a bad --format are usage errors', () => {
  assert.equal(cli(['lab', 'explode']).code, 2);
  const r = cli(['info', '--format', 'yaml'], { SWARMLITE_HOST: 'unix:///nonexistent/swarmlite.sock' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown --format 'yaml'/);
});

test('no daemon at the socket: one line saying so and how to start it, exit 1', () => {
  for (const args of [['info'], ['-H', 'unix:///nonexistent/x.sock', 'info']]) {
    const r = cli(args, { SWARMLITE_HOST: 'unix:///nonexistent/swarmlite.sock' });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /Cannot connect to the swarmlite daemon at unix:\/\/\/nonexistent\/(swarmlite|x)\.sock/,
    );
    assert.match(r.stderr, /swarmlite daemon/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
});

test('a malformed host is a usage error', () => {
  const r = cli(['info'], { SWARMLITE_HOST: 'tcp://1.2.3.4:2375' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /invalid host/);
});

test('daemon flags are validated before anything is created', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-cli-'));
  try {
    for (const [flag, value, pattern] of [
      ['--netns-prefix', 'Bad_Prefix', /--netns-prefix 'Bad_Prefix' is invalid/],
      ['--advertise-addr', '300.1.1.1', /--advertise-addr must be an IPv4 address/],
      ['--log-level', 'loud', /--log-level must be one of/],
      ['--data-root', 'relative/dir', /--data-root must be an absolute path/],
    ] as const) {
      const args = ['daemon', '--data-root', join(dir, 'data'), '--socket', join(dir, 's.sock'), flag, value];
      const r = cli(args);
      assert.equal(r.code, 1, `${flag} ${value}`);
      assert.match(r.stderr, pattern);
    }
    assert.deepEqual(readdirSync(dir), [], 'a refused daemon creates nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second daemon on a locked data root (or a served socket) is refused; the first keeps serving', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-cli-'));
  const socket = join(dir, 'a.sock');
  const first = spawnDaemon(dir, socket, 'warn');
  t.after(() => {
    first.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForDaemon(socket);

  const sameRoot = cli([
    'daemon',
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec2'),
    '--socket',
    join(dir, 'b.sock'),
  ]);
  assert.equal(sameRoot.code, 1);
  assert.match(sameRoot.stderr, /data root .* is in use by another swarmlite daemon \(pid \d+\)/);
  assert.equal(existsSync(join(dir, 'b.sock')), false);

  const sameSocket = cli([
    'daemon',
    '--data-root',
    join(dir, 'other'),
    '--exec-root',
    join(dir, 'exec3'),
    '--socket',
    socket,
  ]);
  assert.equal(sameSocket.code, 1);
  assert.match(sameSocket.stderr, /another daemon is already serving/);
  assert.equal(existsSync(join(dir, 'other')), false, 'nothing created for the refused daemon');

  const info = cli(['info', '--format', 'json'], { SWARMLITE_HOST: `unix://${socket}` });
  assert.equal(info.code, 0, info.stderr);
  assert.equal(JSON.parse(info.stdout).pid, first.pid);

  // A clean stop releases the lock and the socket.
  first.kill('SIGTERM');
  await new Promise((r) => first.once('exit', r));
  assert.equal(existsSync(join(dir, 'data', 'swarmlite.lock')), false);
  assert.equal(existsSync(socket), false);
});

test('a broken swarm state does not stop the daemon: info says why, leave --force resets it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-cli-'));
  const socket = join(dir, 'a.sock');
  // A swarm state whose certificates are gone (e.g. deleted by hand).
  mkdirSync(join(dir, 'data', 'swarm'), { recursive: true });
  writeFileSync(
    join(dir, 'data', 'swarm', 'state.json'),
    JSON.stringify({
      clusterId: 'c',
      nodeId: 'n',
      role: 'worker',
      listenAddr: '0.0.0.0:2377',
      advertiseAddr: '127.0.0.1',
      raftId: 0,
      managers: [],
    }),
  );
  const daemon = spawnDaemon(dir, socket, 'fatal');
  t.after(() => {
    daemon.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForDaemon(socket);
  const env = { SWARMLITE_HOST: `unix://${socket}` };
  const info = JSON.parse(cli(['info', '--format', 'json'], env).stdout);
  assert.equal(info.swarmState, 'error');
  assert.match(info.swarmError, /certificates .* missing or torn/);
  assert.match(
    cli(['join', '--token', `SWMTKN-1-${'a'.repeat(50)}-${'b'.repeat(25)}`, '127.0.0.1'], env).stderr,
    /broken/,
  );
  const refused = cli(['leave'], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /leave --force/);
  assert.equal(cli(['leave', '--force'], env).code, 0);
  assert.equal(JSON.parse(cli(['info', '--format', 'json'], env).stdout).swarmState, 'inactive');
  assert.equal(existsSync(join(dir, 'data', 'swarm')), false);
});
