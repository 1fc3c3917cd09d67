// `service` and `network` commands without a daemon: parsing helpers, and bad input as a usage error
// (exit 2, one clear line) before any connection is tried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { UserError } from '../lib/errors.js';
import { parseScaleArgs } from './commands-service.js';
import { filterTasks, parseTaskFilters } from './commands-service-read.js';
import { nodes, wireService, wireTask } from './service-fixtures.js';
import { swarmliteBin } from '../lib/repo.js';
import { PROCESS_DEADLINE_MS } from '../test/support.js';

/** The real launcher (bin/swarmlite.js), as users run it. */
const MAIN = swarmliteBin();
const NO_DAEMON = 'unix:///nonexistent/swarmlite.sock';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SWARMLITE_HOST: NO_DAEMON },
    timeout: PROCESS_DEADLINE_MS,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('service scale arguments: NAME=N pairs, anything else a usage error', () => {
  assert.deepEqual(parseScaleArgs(['web=3', 'api=0']), [
    ['web', 3],
    ['api', 0],
  ]);
  for (const bad of ['web', 'web=', '=3', 'web=three', 'web=-1']) {
    assert.throws(
      () => parseScaleArgs([bad]),
      (e: unknown) => e instanceof UserError && e.exitCode === 2,
      bad,
    );
  }
});

test('service ps filters: parsed, and node (id prefix or hostname), name and id applied', () => {
  assert.throws(() => parseTaskFilters(['colour=red']), /invalid filter 'colour'/);
  assert.throws(() => parseTaskFilters(['desired-state=asleep']), /desired-state is running/);
  assert.throws(() => parseTaskFilters(['node']), /use key=value/);
  const s = wireService();
  const tasks = [
    wireTask(s, { id: 'aaa1', slot: 1, nodeId: 'node1' }),
    wireTask(s, { id: 'bbb2', slot: 2, nodeId: 'node2' }),
    wireTask(s, { id: 'ccc3', slot: 3, nodeId: '' }),
  ];
  const ids = (f: string[]) => filterTasks(tasks, parseTaskFilters(f), nodes).map((t) => t.id);
  assert.deepEqual(ids([]), ['aaa1', 'bbb2', 'ccc3']);
  assert.deepEqual(ids(['node=beta']), ['bbb2']);
  assert.deepEqual(ids(['node=node1', 'node=beta']), ['aaa1', 'bbb2']);
  assert.deepEqual(ids(['name=web.3']), ['ccc3']);
  assert.deepEqual(ids(['id=bb', 'node=alpha']), []);
  assert.deepEqual(parseTaskFilters(['desired-state=running']).desiredStates, ['running']);
});

test('bad service and network input is a usage error (exit 2) before any daemon is contacted', () => {
  for (const [args, pattern] of [
    [['service', 'create'], /missing required argument 'image'/],
    [['service', 'create', '-p', 'bad', 'host'], /invalid --publish 'bad'/],
    [['service', 'create', '--mode', 'global', '--replicas', '2', 'host'], /--replicas can only be used/],
    [['service', 'create', '--limit-memory', '12q', 'host'], /invalid --limit-memory '12q'/],
    [['service', 'update', '--limit-cpu', 'x', 'web'], /invalid --limit-cpu 'x'/],
    [['service', 'update', '--rollback', '--image', 'x', 'web'], /--rollback cannot be combined/],
    [['service', 'scale', 'web'], /invalid scale specifier 'web'/],
    [['service', 'ps', '-f', 'colour=red', 'web'], /invalid filter 'colour'/],
    [['network', 'create', '--attachable', 'n'], /--attachable is for overlay networks/],
  ] as const) {
    const r = cli([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(' '));
    assert.doesNotMatch(r.stderr, /Cannot connect/);
    assert.equal(r.stdout, '');
  }
});

test("flags after the image belong to the task's command, so only the daemon is missing", () => {
  const r = cli(['service', 'create', '--name', 'hi', 'host', 'sh', '-c', 'echo hi', '--bogus']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Cannot connect to the swarmlite daemon/);
});
