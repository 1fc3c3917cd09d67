// Services on images against real registries (Debian's docker-registry in a namespace of this test:
// one HTTPS with basic auth, one plain HTTP marked insecure), with images built from busybox-static:
// the control API pins a tag to its digest through the daemon's resolver (its node's image service),
// and a node's agent pulls a task's missing image while the task is `preparing`, with the task's
// credentials, then runs it with the real runtime; an unknown image or a refused login is the task's
// error. Needs root, runc and docker-registry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createLogger } from '../../lib/log.js';
import { newId } from '../../lib/ids.js';
import { services } from '../../api/rpc.js';
import type { RegistryAuth, Task, TaskState, TaskStatus } from '../../api/objects/index.js';
import {
  AllocatorController,
  InMemoryLog,
  serviceHandlers,
  Store,
  swarmSchema,
} from '../../manager/testing.js';
import { TaskRunner } from '../../worker/agent/task-runner.js';
import { ImageService } from '../../worker/images/images.js';
import { RegistryLab } from '../../worker/images/registry/test-registry.js';
import { buildBusyboxImage, dockerSaveTar, imageOf } from '../../worker/images/test-images.js';
import { collectLogs, hostSpec, testRuntime } from '../../worker/exec/test-fixtures.js';
import { eventually } from '../../test/support.js';
import { runnableImages } from '../images.js';
import { nodeImageResolver } from '../service-images.js';
import { CLUSTER_ID, initSwarmObjects } from './cluster.js';

const lab = new RegistryLab();
const USER = { username: 'swlt', password: 'pa55-word' };
const log = createLogger('silent');
let base = '';
let secure = ''; // HTTPS + basic auth
let plain = ''; // HTTP, anonymous, insecure
let plainDigest = '';
let secureDigest = '';
let nodes = 0;

/** A fresh node's image service: the registries' CA in its certs.d, the plain one insecure. */
async function nodeImages(): Promise<ImageService> {
  const dataRoot = join(base, `node${nodes++}`);
  await mkdir(dataRoot);
  return ImageService.open({ dataRoot, insecureRegistries: [plain], certsDir: join(base, 'certs.d') });
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'swlt-img-svc-'));
  try {
    await lab.create();
    const tls = await lab.makeTls();
    await mkdir(join(base, 'certs.d', `${lab.address}:5000`), { recursive: true });
    await writeFile(join(base, 'certs.d', `${lab.address}:5000`, 'ca.crt'), tls.caPem);
    secure = await lab.startRegistry('secure', {
      port: 5000,
      tls,
      basicAuth: { user: USER.username, password: USER.password },
    });
    plain = await lab.startRegistry('plain', { port: 5001 });
    // A user fills both registries from another node.
    const image = await buildBusyboxImage({ marker: 'from-a-registry' });
    const pusher = await nodeImages();
    await pusher.load(
      Readable.from([await dockerSaveTar(image, [`${plain}/app:1`, `${secure}/private/app:1`])]),
    );
    await pusher.login(secure, USER);
    plainDigest = (await pusher.push(`${plain}/app:1`)).digest;
    secureDigest = (await pusher.push(`${secure}/private/app:1`)).digest;
  } catch (err) {
    await lab.destroy();
    throw err;
  }
});

after(async () => {
  await lab.destroy();
  await rm(base, { recursive: true, force: true });
});

test("the control API pins a tag to its registry's digest through the node's resolver", async (t) => {
  const log2 = new InMemoryLog('async');
  const store = new Store({ schema: swarmSchema, proposer: log2 });
  log2.attach(store);
  await initSwarmObjects(store);
  const allocator = new AllocatorController({ store, clusterId: CLUSTER_ID, log });
  allocator.start();
  t.after(() => allocator.stop());
  const manager = await nodeImages();
  await manager.login(secure, USER);
  const anonymous = await nodeImages();
  const create = services.control().service.CreateService!;
  // Requests as the leader decodes them; the resolver is the daemon's, over a real image service.
  const call = async (images: ImageService, name: string, image: string, registryAuth?: RegistryAuth) => {
    const handlers = serviceHandlers({
      store,
      allocation: () => allocator.allocation(),
      resolveImage: nodeImageResolver(images, log, 10_000),
    });
    const req = create.requestDeserialize(
      create.requestSerialize({
        spec: { name, task: { image, command: ['true'], ...(registryAuth ? { registryAuth } : {}) } },
        resolveImage: true,
      }),
    );
    const res = await handlers.CreateService(req);
    const stored = store.view((tx) => tx.find('service', 'name', name)[0]!);
    return { image: stored.spec.task.image, warnings: res.warnings };
  };
  const digestWarning = (image: string) =>
    `image ${image} could not be accessed on a registry to record its digest. Each node will access ` +
    `${image} independently, possibly leading to different nodes running different versions of the image.`;

  assert.deepEqual(await call(manager, 'open', `${plain}/app:1`), {
    image: `${plain}/app:1@${plainDigest}`,
    warnings: [],
  });
  assert.deepEqual(await call(manager, 'latest', `${plain}/app`), {
    image: `${plain}/app`, // kept as sent: the registry has no `latest`
    warnings: [digestWarning(`${plain}/app`)],
  });
  // The manager's own login, or the credentials the request carries (--with-registry-auth).
  assert.deepEqual(await call(manager, 'private', `${secure}/private/app:1`), {
    image: `${secure}/private/app:1@${secureDigest}`,
    warnings: [],
  });
  const auth = { registry: secure, ...USER };
  assert.deepEqual(await call(anonymous, 'handed', `${secure}/private/app:1`, auth), {
    image: `${secure}/private/app:1@${secureDigest}`,
    warnings: [],
  });
  // Refused by the registry, or no registry there at all: the tag is kept, with Docker's warning.
  assert.deepEqual(await call(anonymous, 'refused', `${secure}/private/app:1`), {
    image: `${secure}/private/app:1`,
    warnings: [digestWarning(`${secure}/private/app:1`)],
  });
  const nowhere = `${lab.address}:5009/app:1`;
  assert.deepEqual(await call(manager, 'nowhere', nowhere), {
    image: nowhere,
    warnings: [digestWarning(nowhere)],
  });
});

function taskOf(image: string, registryAuth?: RegistryAuth): Task {
  const id = newId();
  const now = new Date().toISOString();
  const spec = hostSpec([], { image, command: [], args: [], ...(registryAuth ? { registryAuth } : {}) });
  return {
    id,
    meta: { version: 1, createdAt: now, updatedAt: now },
    serviceId: 'svcimg',
    slot: 1,
    nodeId: 'node1',
    spec,
    specVersion: 1,
    serviceName: 'app',
    desiredState: 'running',
    status: { state: 'assigned', timestamp: now, message: 'assigned', err: '' },
    networks: [],
    endpoint: { ports: [], virtualIps: [] },
  };
}

test('a node pulls a missing image while the task is preparing, once for concurrent tasks, then runs it', async (t) => {
  const images = await nodeImages(); // no login of its own: the task's credentials are needed
  let pulls = 0;
  const pull = images.pull.bind(images);
  images.pull = (ref, opts) => {
    pulls++;
    return pull(ref, opts);
  };
  const { rt } = testRuntime(t, { images: runnableImages(images) });
  const reports = new Map<string, TaskStatus[]>();
  const run = (task: Task) => {
    reports.set(task.id, []);
    const runner = new TaskRunner(task, {
      executor: rt,
      report: (id, status) => reports.get(id)!.push(status),
      node: { id: 'node1', hostname: 'node1' },
      log,
    });
    t.after(() => runner.remove());
    return runner;
  };
  const states = (id: string) => reports.get(id)!.map((s) => s.state);
  const ended = (id: string) =>
    eventually(
      `task ${id} to end`,
      () => {
        const last = reports.get(id)!.at(-1);
        return last && ['complete', 'failed', 'rejected'].includes(last.state) ? last : undefined;
      },
      120_000,
    );

  const pinned = `${secure}/private/app:1@${secureDigest}`;
  const auth = { registry: secure, ...USER };
  const [a, b] = [taskOf(pinned, auth), taskOf(pinned, auth)];
  run(a);
  run(b);
  for (const task of [a, b]) {
    const last = await ended(task.id);
    assert.equal(last.state, 'complete', `${last.err}`);
    const walk: TaskState[] = ['accepted', 'preparing', 'starting', 'running', 'complete'];
    assert.deepEqual(states(task.id), walk);
    // The image's entrypoint and cmd ran: its layers, as pulled.
    assert.deepEqual(
      (await collectLogs(rt, task.id)).map((l) => l.line),
      ['from-a-registry'],
    );
  }
  assert.equal(pulls, 1, 'two tasks on one image pull it once');
  assert.ok(images.store.byReference({ domain: secure, path: 'private/app', digest: secureDigest }));

  // Without credentials the registry refuses; an unknown tag is Docker's No such image.
  const refused = taskOf(`${secure}/private/app:1`);
  const unknown = taskOf(`${plain}/app:nope`);
  const elsewhere = taskOf(`${secure}/private/app:1`, { registry: plain, ...USER }); // not for this registry
  for (const task of [refused, unknown, elsewhere]) run(task);
  const errors = await Promise.all(
    [refused, unknown, elsewhere].map(async (task) => {
      const last = await ended(task.id);
      assert.deepEqual(states(task.id), ['accepted', 'preparing', 'rejected']);
      return last.err;
    }),
  );
  assert.deepEqual(errors, [
    'unauthorized: authentication required',
    `No such image: ${plain}/app:nope`,
    'unauthorized: authentication required',
  ]);
});

test('an image the node has runs without a pull', async (t) => {
  const images = await nodeImages();
  let pulls = 0;
  const pull = images.pull.bind(images);
  images.pull = (ref, opts) => {
    pulls++;
    return pull(ref, opts);
  };
  const { layers } = await buildBusyboxImage();
  const local = imageOf(layers, { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo loaded-here'] });
  // Named as if from a registry that does not exist: a pull attempt would fail the task.
  await images.load(Readable.from([await dockerSaveTar(local, [`${lab.address}:5009/local:1`])]));
  const { rt } = testRuntime(t, { images: runnableImages(images) });
  const task = taskOf(`${lab.address}:5009/local:1`);
  const launch = {
    taskId: task.id,
    name: `app.1.${task.id}`,
    serviceId: 'svcimg',
    serviceName: 'app',
    slot: 1,
    spec: task.spec,
  };
  await rt.prepare(launch);
  await rt.start(task.id);
  assert.deepEqual(await rt.wait(task.id), { exitCode: 0, oomKilled: false });
  assert.deepEqual(
    (await collectLogs(rt, task.id)).map((l) => l.line),
    ['loaded-here'],
  );
  assert.equal(pulls, 0);
});
