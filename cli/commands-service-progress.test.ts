// The service commands end to end against a scripted stand-in for the daemon's local API (on a unix
// socket in a temp dir): requests as the leader would receive them, the progress display as a user
// would see it (no TTY), and the exit codes. The real control API is tested on its own side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { services } from '../api/rpc.js';
import type { TaskState } from '../api/objects/index.js';
import { iso, nodes, T0, wireService, wireTask } from './service-fixtures.js';
import type { ServiceView, ServiceSpecView } from './objects.js';
import { swarmliteBin } from '../lib/repo.js';
import { PROCESS_DEADLINE_MS } from '../test/support.js';

/** The real launcher (bin/swarmlite.js), as users run it. */
const MAIN = swarmliteBin();
type Handler = (req: Record<string, unknown>) => object;

/** A LocalApi serving `handlers`; any other call is UNIMPLEMENTED. */
async function fakeDaemon(handlers: Record<string, Handler>) {
  const dir = mkdtempSync(join(tmpdir(), 'swl-cli-svc-'));
  const socket = join(dir, 'd.sock');
  const server = new grpc.Server();
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(handlers)) {
    impl[name] = (
      call: grpc.ServerUnaryCall<Record<string, unknown>, object>,
      cb: grpc.sendUnaryData<object>,
    ) => {
      try {
        cb(null, fn(call.request));
      } catch (err) {
        cb({ code: grpc.status.NOT_FOUND, details: (err as Error).message });
      }
    };
  }
  server.addService(services.local().service, impl);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    host: `unix://${socket}`,
    close() {
      server.forceShutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function cli(host: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, '-H', host, ...args],
      { encoding: 'utf8', timeout: PROCESS_DEADLINE_MS },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Tasks walk new → … → running, one state per poll, as a healthy cluster would report them. */
const WALK: TaskState[] = ['new', 'pending', 'assigned', 'accepted', 'preparing', 'starting', 'running'];

test('service create: sends the spec, shows per-slot progress until converged, exit 0', async (t) => {
  let created: ServiceSpecView | undefined;
  let polls = 0;
  let service: ServiceView | undefined;
  const daemon = await fakeDaemon({
    createService: (req) => {
      created = req.spec as ServiceSpecView;
      service = wireService({ id: 'svcnew000000000000000000a', spec: created });
      return { service };
    },
    getService: () => ({ service }),
    listTasks: () => {
      const state = WALK[Math.min(polls++, WALK.length - 1)]!;
      return { tasks: [1, 2].map((slot) => wireTask(service!, { slot, state, id: `task${slot}` })) };
    },
    listNodes: () => ({ nodes }),
  });
  t.after(() => daemon.close());
  const r = await cli(daemon.host, [
    'service',
    'create',
    '--name',
    'web',
    '--replicas',
    '2',
    'host',
    'sh',
    '-c',
    'echo hi',
  ]);
  assert.equal(r.code, 0, r.stderr);
  // The words after the image are its args, as Docker sends them.
  assert.deepEqual([created?.task.command, created?.task.args], [[], ['sh', '-c', 'echo hi']]);
  assert.deepEqual(created?.replicated, { replicas: 2 });
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], 'svcnew000000000000000000a');
  assert.equal(lines[1], 'overall progress: 0 out of 2 tasks');
  assert.ok(lines.includes(`1/2: running   [${'='.repeat(50)}>]`), r.stdout);
  assert.ok(lines.includes('overall progress: 2 out of 2 tasks'));
  assert.equal(lines.at(-1), 'verify: Service converged');
  assert.equal(new Set(lines).size, lines.length, 'without a TTY each line is printed once');
});

test('service update that cannot converge: the paused update message, exit 1', async (t) => {
  const before = wireService({ id: 'svcweb000000000000000000a' });
  let sent: Record<string, unknown> | undefined;
  let after: ServiceView | undefined;
  const daemon = await fakeDaemon({
    getService: () => ({ service: after ?? before }),
    updateService: (req) => {
      sent = req;
      after = { ...before, spec: req.spec as ServiceSpecView, specVersion: 2 };
      return { service: after };
    },
    listTasks: () => {
      after = {
        ...after!,
        updateStatus: {
          state: 'paused',
          startedAt: iso(T0),
          completedAt: '',
          message: 'task 1 failed to start',
        },
      };
      return { tasks: [wireTask(before, { slot: 1 })] };
    },
    listNodes: () => ({ nodes }),
  });
  t.after(() => daemon.close());
  const r = await cli(daemon.host, [
    'service',
    'update',
    '--image',
    'img:2',
    '--env-add',
    'A=1',
    '--force',
    'web',
  ]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error: update paused: task 1 failed to start\n');
  assert.equal(sent?.ref, 'svcweb000000000000000000a');
  assert.equal(sent?.version, before.meta.version);
  assert.equal(sent?.force, true);
  assert.equal((sent?.spec as ServiceSpecView).task.image, 'img:2');
  assert.deepEqual((sent?.spec as ServiceSpecView).task.env, ['A=1']);
});

test('service create/update: --with-registry-auth and --no-resolve-image reach the daemon; warnings go to stderr', async (t) => {
  const sent: Record<string, unknown>[] = [];
  const service = wireService({ id: 'svcimg000000000000000000a' });
  const warning = 'image app:1 could not be accessed on a registry to record its digest. ...';
  const daemon = await fakeDaemon({
    createService: (req) => {
      sent.push(req);
      return { service, warnings: req.resolveImage ? [warning] : [] };
    },
    updateService: (req) => {
      sent.push(req);
      return { service, warnings: req.resolveImage ? [warning] : [] };
    },
    getService: () => ({ service }),
  });
  t.after(() => daemon.close());
  const created = await cli(daemon.host, ['service', 'create', '-d', '--with-registry-auth', 'app:1']);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stderr, `${warning}\n`);
  assert.equal(created.stdout, 'svcimg000000000000000000a\n');
  const quiet = await cli(daemon.host, ['service', 'create', '-d', '--no-resolve-image', 'app:1']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');
  // Only a new --image is resolved again, as Docker does.
  const scaled = await cli(daemon.host, ['service', 'update', '-d', '--replicas', '2', 'web']);
  const imaged = await cli(daemon.host, ['service', 'update', '-d', '--image', 'app:2', 'web']);
  assert.equal(scaled.code + imaged.code, 0, scaled.stderr + imaged.stderr);
  assert.equal(imaged.stderr, `${warning}\n`);
  assert.deepEqual(
    sent.map((r) => [r.resolveImage, r.withRegistryAuth]),
    [
      [true, true],
      [false, false],
      [false, false],
      [true, false],
    ],
  );
});

test('service scale refuses a global service; rm carries on past a missing one, exit 1', async (t) => {
  const global = wireService({ id: 'glob', spec: { ...wireService().spec, replicated: null, global: {} } });
  const removed: string[] = [];
  const daemon = await fakeDaemon({
    getService: () => ({ service: global }),
    removeService: (req) => {
      if (req.ref === 'nope') throw new Error('no such service: nope');
      removed.push(req.ref as string);
      return {};
    },
  });
  t.after(() => daemon.close());
  const scale = await cli(daemon.host, ['service', 'scale', 'agent=3']);
  assert.equal(scale.code, 1);
  assert.match(scale.stderr, /agent: scale can only be used with replicated mode/);
  const rm = await cli(daemon.host, ['service', 'rm', 'a', 'nope', 'b']);
  assert.equal(rm.code, 1);
  assert.equal(rm.stdout, 'a\nb\n');
  assert.equal(rm.stderr, 'Error: no such service: nope\n');
  assert.deepEqual(removed, ['a', 'b']);
});

test('service ls and network prune print docker shapes from the daemon answers', async (t) => {
  const daemon = await fakeDaemon({
    listServices: () => ({
      services: [{ service: wireService({ id: 'abcdefabcdefabcdef' }), running: 1, desired: 3 }],
    }),
    pruneNetworks: () => ({ removed: ['front', 'back'] }),
  });
  t.after(() => daemon.close());
  const ls = await cli(daemon.host, ['service', 'ls']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.equal(
    ls.stdout,
    'ID             NAME   MODE         REPLICAS   IMAGE   PORTS\nabcdefabcdef   web    replicated   1/3        host\n',
  );
  const prune = await cli(daemon.host, ['network', 'prune', '-f']);
  assert.equal(prune.stdout, 'Deleted Networks:\nfront\nback\n');
});
