// Standalone containers end to end: the CLI binary against a real daemon running busybox containers
// on the real runtime (runc, overlayfs, namespaces, cgroups). run -d / foreground / --rm, ps, logs,
// exec, stop, start, restart, restart policies after a process exit, rm (-f), rename, prune,
// --network none and host, Docker's refusals with nothing changed, and containers that outlive a
// daemon restart (adopted, or restarted by their policy). Needs root. Everything the test made (the
// daemon, its containers, mounts, cgroups, namespaces) is removed also when it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerRuntime } from '../daemon/executor.js';
import { eventually, PROCESS_DEADLINE_MS } from '../test/support.js';
import { leftovers } from '../worker/exec/test-fixtures.js';
import { dockerSaveTar } from '../worker/images/test-images.js';
import { spawnDaemon, waitForDaemon } from './test-daemon.js';
import { busyboxTestImage, cli, ok, refused, stopped } from './test-cli.js';

const PREFIX = 'swltctr';
const IMAGE = 'busybox:ctr';
const APPLETS = ['sh', 'sleep', 'cat', 'echo', 'true', 'false', 'id', 'hostname', 'ls'];

/** Interface names of a /proc/net/dev text. */
const interfaces = (procNetDev: string) =>
  procNetDev
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]!.trim())
    .filter(Boolean)
    .sort();

test('standalone containers through the CLI: run, ps, logs, exec, stop, start, policies, rm, networks, daemon restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-ctr-'));
  const socket = join(dir, 's.sock');
  const daemonArgs = ['--netns-prefix', PREFIX];
  let daemon = spawnDaemon(dir, socket, 'warn', daemonArgs);
  t.after(async () => {
    await stopped(daemon);
    // Containers outlive their daemon by design: the test takes them along.
    await containerRuntime(join(dir, 'data'), join(dir, 'exec'), PREFIX, hostname()).removeEverything();
    rmSync(dir, { recursive: true, force: true });
  });
  await waitForDaemon(socket);
  writeFileSync(
    join(dir, 'image.tar'),
    await dockerSaveTar(await busyboxTestImage(APPLETS, { Env: ['PATH=/bin', 'FROM=image'] }), [IMAGE]),
  );
  await ok(socket, ['image', 'load', '-q', '-i', join(dir, 'image.tar')]);

  // run -d: the id, and ps shows it up
  const webId = (await ok(socket, ['run', '-d', '--name', 'web', IMAGE, 'sleep', '3600'])).trim();
  assert.match(webId, /^[0-9a-f]{64}$/);
  const ps = await ok(socket, ['ps']);
  assert.match(ps, /^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$/m);
  assert.match(ps, new RegExp(`^${webId.slice(0, 12)} +busybox:ctr +"sleep 3600" +.+ ago +Up .+ +web$`, 'm'));
  assert.equal((await ok(socket, ['container', 'ls', '-q'])).trim(), webId.slice(0, 12));
  assert.equal(
    await ok(socket, ['inspect', '-f', '{{.Id}} {{.Name}} {{.State.Status}}', 'web']),
    `${webId} /web running\n`,
  );

  // flags: env (-e, --env-file), workdir, user, hostname, entrypoint; logs of both streams
  writeFileSync(join(dir, 'env'), '# comment\nB=from-file\n\n');
  await ok(socket, [
    'run',
    '-d',
    '--name',
    'flags',
    '-e',
    'A=1',
    '--env-file',
    join(dir, 'env'),
    '-w',
    '/tmp',
    '-u',
    '1000:1000',
    '--hostname',
    'h1',
    '--memory',
    '64m',
    '--cpus',
    '0.5',
    '--entrypoint',
    'sh',
    IMAGE,
    '-c',
    'echo out $A $B $FROM; pwd; id -u; hostname; echo err >&2',
  ]);
  assert.equal(await ok(socket, ['container', 'wait', 'flags']), '0\n');
  const logs = await cli(socket, ['logs', 'flags']);
  assert.equal(logs.stdout, 'out 1 from-file image\n/tmp\n1000\nh1\n');
  assert.equal(logs.stderr, 'err\n');
  assert.equal(
    await ok(socket, [
      'inspect',
      '-f',
      '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{json .Config.Entrypoint}}',
      'flags',
    ]),
    `${64 * 1024 * 1024} 500000000 ["sh"]\n`,
  );

  // foreground run: its output, its exit code; --rm leaves nothing
  const fg = await cli(socket, [
    'run',
    '--rm',
    '--name',
    'fg',
    IMAGE,
    'sh',
    '-c',
    'echo hello; echo oops >&2; exit 3',
  ]);
  assert.deepEqual([fg.code, fg.stdout, fg.stderr], [3, 'hello\n', 'oops\n']);
  assert.doesNotMatch(await ok(socket, ['ps', '-a']), / fg$/m);

  // exec in a running container, with its exit code
  const ex = await cli(socket, ['exec', 'web', 'sh', '-c', 'echo in $HOSTNAME; exit 4']);
  assert.deepEqual([ex.code, ex.stdout], [4, `in ${webId.slice(0, 12)}\n`]);
  await refused(socket, ['exec', 'flags', 'true'], /is not running/);

  // stop (sleep as PID 1 ignores SIGTERM: killed after -t), start again in the same root filesystem,
  // rm refuses a running one
  await ok(socket, ['exec', 'web', 'sh', '-c', 'echo kept > /tmp/mark']);
  assert.equal(await ok(socket, ['stop', '-t', '1', 'web']), 'web\n');
  assert.match(await ok(socket, ['ps', '-a']), /Exited \(137\) .+ web$/m);
  assert.equal(await ok(socket, ['start', 'web']), 'web\n');
  assert.equal(
    await ok(socket, ['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', 'web']),
    'running 0\n',
  );
  assert.equal(await ok(socket, ['exec', 'web', 'cat', '/tmp/mark']), 'kept\n');
  await refused(socket, ['rm', 'web'], /cannot remove container "\/web": container is running/);
  const beforeRestart = await ok(socket, ['inspect', '-f', '{{.State.Pid}}', 'web']);
  assert.equal(await ok(socket, ['restart', '-t', '0', 'web']), 'web\n');
  assert.notEqual(await ok(socket, ['inspect', '-f', '{{.State.Pid}}', 'web']), beforeRestart);

  // restart policies after the process exits by itself
  await ok(socket, [
    'run',
    '-d',
    '--name',
    'flaky',
    '--restart',
    'on-failure:2',
    IMAGE,
    'sh',
    '-c',
    'echo run; exit 1',
  ]);
  await eventually(
    'on-failure:2 gives up after two restarts',
    async () => {
      const s = await ok(socket, [
        'inspect',
        '-f',
        '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}',
        'flaky',
      ]);
      return s === 'exited 2 1\n' ? s : undefined;
    },
    PROCESS_DEADLINE_MS,
    200,
  );
  assert.equal(await ok(socket, ['logs', 'flaky']), 'run\nrun\nrun\n');
  await ok(socket, ['run', '-d', '--name', 'nopolicy', IMAGE, 'true']);
  assert.equal(await ok(socket, ['container', 'wait', 'nopolicy']), '0\n');
  assert.equal(
    await ok(socket, ['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', 'nopolicy']),
    'exited 0\n',
  );

  // networks: none has only lo; host sees the node's interfaces
  const none = await cli(socket, ['run', '--rm', '--network', 'none', IMAGE, 'cat', '/proc/net/dev']);
  assert.equal(none.code, 0, none.stderr);
  assert.deepEqual(interfaces(none.stdout), ['lo']);
  const host = await cli(socket, ['run', '--rm', '--network', 'host', IMAGE, 'cat', '/proc/net/dev']);
  assert.equal(host.code, 0, host.stderr);
  const ours = interfaces(readFileSync('/proc/net/dev', 'utf8'));
  const seen = interfaces(host.stdout);
  // (other work on the machine adds and removes interfaces meanwhile: most must be the same)
  assert.ok(
    seen.filter((n) => ours.includes(n)).length >= Math.min(ours.length, seen.length) - 2,
    `${seen} vs ${ours}`,
  );
  assert.ok(
    seen.some((n) => n !== 'lo'),
    `${seen}`,
  );

  // bad input: one clear error, nothing changed
  const all = await ok(socket, ['ps', '-a', '-q', '--no-trunc']);
  await refused(socket, ['run', '-d', '--pull', 'never', 'nosuch:1'], /No such image: nosuch:1/);
  await refused(
    socket,
    ['run', '-d', '--name', 'web', IMAGE, 'true'],
    /The container name "\/web" is already in use by container "[0-9a-f]{64}"/,
  );
  await refused(
    socket,
    ['run', '-d', '--restart', 'sometimes', IMAGE],
    /invalid restart policy 'sometimes'/,
    2,
  );
  await refused(socket, ['run', '-d', '--memory', '1k', IMAGE], /Minimum memory limit allowed is 6MB/, 2);
  await refused(socket, ['run', '-d', '--memory', 'lots', IMAGE], /invalid --memory 'lots'/, 2);
  await refused(
    socket,
    ['run', '-d', '--rm', '--restart', 'always', IMAGE],
    /cannot specify both --restart and --rm/,
    2,
  );
  await refused(socket, ['run', '-d', '--network', 'bridge', IMAGE], /network bridge not found/);
  await refused(socket, ['run', '-d', '--name', 'bad/name', IMAGE], /invalid container name "bad\/name"/);
  await refused(socket, ['run', '-d', IMAGE, 'nosuchcmd'], /executable file not found/);
  await refused(socket, ['start', 'ghost'], /No such container: ghost/);
  await refused(socket, ['rename', 'web', 'flaky'], /The container name "\/flaky" is already in use/);
  assert.equal(await ok(socket, ['ps', '-a', '-q', '--no-trunc']), all);

  // rename
  await ok(socket, ['rename', 'nopolicy', 'renamed']);
  assert.equal(await ok(socket, ['inspect', '-f', '{{.Name}}', 'renamed']), '/renamed\n');

  // a daemon restart: running containers are adopted (same process), a policy brings back one that
  // died while no daemon watched, a container stopped by hand under unless-stopped stays stopped
  await ok(socket, ['run', '-d', '--name', 'always', '--restart', 'always', IMAGE, 'sleep', '3600']);
  await ok(socket, ['run', '-d', '--name', 'manual', '--restart', 'unless-stopped', IMAGE, 'sleep', '3600']);
  await ok(socket, ['stop', '-t', '0', 'manual']);
  const webPid = Number(await ok(socket, ['inspect', '-f', '{{.State.Pid}}', 'web']));
  const alwaysPid = Number(await ok(socket, ['inspect', '-f', '{{.State.Pid}}', 'always']));
  await stopped(daemon);
  process.kill(alwaysPid, 'SIGKILL');
  daemon = spawnDaemon(dir, socket, 'warn', daemonArgs);
  await waitForDaemon(socket);
  assert.equal(
    await ok(socket, ['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'web']),
    `running ${webPid}\n`,
  );
  const back = await ok(socket, ['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'always']);
  assert.match(back, /^running \d+\n$/);
  assert.notEqual(back, `running ${alwaysPid}\n`);
  assert.equal(await ok(socket, ['inspect', '-f', '{{.State.Status}}', 'manual']), 'exited\n');
  assert.equal((await cli(socket, ['exec', 'web', 'true'])).code, 0);

  // prune takes the stopped ones, rm -f the running ones; nothing is left on the machine
  const pruned = await ok(socket, ['container', 'prune', '-f']);
  assert.match(pruned, /^Deleted Containers:\n([0-9a-f]{64}\n){4}\nTotal reclaimed space: 0B\n$/);
  assert.equal((await ok(socket, ['ps', '-a', '-q'])).trim().split('\n').length, 2);
  assert.equal(await ok(socket, ['rm', '-f', 'web', 'always']), 'web\nalways\n');
  assert.equal(await ok(socket, ['ps', '-a', '-q']), '');
  assert.deepEqual(leftovers(`${PREFIX}c`, join(dir, 'data', 'containers', 'run'), [webPid]), []);
});
