// Issue 18's security suite, the local socket: only root may talk to the daemon. A non-root user
// (nobody, through setpriv) is refused by the kernel (the socket is 0600 in a 0700 folder), so the
// daemon never sees the request: the CLI exits 1 with one line saying so and prints nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { findTool } from '../lib/exec.js';
import { swarmliteBin } from '../lib/repo.js';
import { PROCESS_DEADLINE_MS } from '../test/support.js';
import { startTestDaemon } from './test-daemon.js';

const MAIN = swarmliteBin();

test('the local socket refuses a non-root user; root is served', async (t) => {
  const { dir, socket } = await startTestDaemon(t, 'sockperm', join('run', 's.sock'));
  assert.equal(statSync(socket).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'run')).mode & 0o777, 0o700);
  // mkdtemp's folder is 0700 too: let nobody reach the socket's folder, which must stop it on its own.
  spawnSync('chmod', ['0755', dir]);
  const r = spawnSync(
    findTool('setpriv'),
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      MAIN,
      '-H',
      `unix://${socket}`,
      'info',
    ],
    { encoding: 'utf8', timeout: PROCESS_DEADLINE_MS },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  // What happened in the user's terms: not "Is the daemon running?" for a daemon that is running.
  assert.match(
    r.stderr,
    /^Error: permission denied on the swarmlite daemon's socket .*: only root may use it/,
  );
  const asRoot = spawnSync(process.execPath, [MAIN, '-H', `unix://${socket}`, 'info', '--format', 'json'], {
    encoding: 'utf8',
    timeout: PROCESS_DEADLINE_MS,
  });
  assert.equal(asRoot.status, 0, asRoot.stderr);
  assert.equal(
    typeof (JSON.parse(asRoot.stdout) as { rejects: object }).rejects,
    'object',
    'info shows the reject counts',
  );
});
