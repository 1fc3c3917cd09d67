// The leader's controllers, its real dispatcher and real agents (simulated executor, each on its own
// dispatcher session over gRPC with mutual TLS) converging services: create, scale, update, rollback,
// node down (found by missed heartbeats), drain, global services, service removal. In-process
// (cluster.ts); the same flows run on a lab cluster in test/e2e/services-sim.test.ts.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { InMemoryLog, sampleNetwork, Store, swarmSchema } from '../../manager/testing.js';
import { type Service } from '../../api/objects/index.js';
import { eventually } from '../../test/support.js';
import { InProcessCluster, serviceSpec } from './cluster.js';

async function cluster(t: TestContext, nodes = 3): Promise<InProcessCluster> {
  const log = new InMemoryLog('async');
  const store = new Store({ schema: swarmSchema, proposer: log });
  log.attach(store);
  const c = new InProcessCluster(store);
  t.after(() => c.stop());
  await c.init();
  await c.addNodes(
    Array.from({ length: nodes }, (_, i) => `node${i + 1}`),
    true,
  );
  c.startControllers();
  return c;
}

const perNode = (c: InProcessCluster, serviceId: string) => {
  const counts = new Map<string, number>();
  for (const t of c.running(serviceId)) counts.set(t.nodeId, (counts.get(t.nodeId) ?? 0) + 1);
  return counts;
};

async function updateService(c: InProcessCluster, id: string, edit: (s: Service) => Service): Promise<void> {
  await c.store.update((tx) => tx.update('service', edit(tx.get('service', id)!)));
}

test('a replicated service converges, spreads, scales up and down, and is removed', async (t) => {
  const c = await cluster(t);
  await c.store.update((tx) => tx.create('network', sampleNetwork('net1', 'appnet')));
  const spec = serviceSpec('web', 6);
  spec.task.networks = [{ target: 'net1', aliases: [] }];
  spec.endpoint.ports = [{ protocol: 'tcp', targetPort: 80, publishedPort: 5000, publishMode: 'ingress' }];
  const svc = await c.createService(spec);
  await eventually('6 running tasks', () => c.running(svc.id).length === 6, 30_000);
  assert.deepEqual([...perNode(c, svc.id).values()], [2, 2, 2]);
  // Every task has an address on appnet and on ingress; the service has a VIP on both.
  const s = c.store.view((tx) => tx.get('service', svc.id))!;
  assert.equal(s.endpoint.virtualIps.length, 2);
  assert.equal(s.endpoint.ports[0]!.publishedPort, 5000);
  const addrs = new Set<string>();
  for (const task of c.running(svc.id)) {
    assert.equal(task.networks.length, 2);
    for (const n of task.networks) addrs.add(n.addresses[0]!);
    assert.deepEqual(task.endpoint, s.endpoint);
  }
  assert.equal(addrs.size, 12, 'no address is given twice');
  const net = c.store.view((tx) => tx.get('network', 'net1'))!;
  assert.equal(net.vni, 4097);
  assert.equal(c.store.view((tx) => tx.get('network', 'ingress0'))!.vni, 4096);

  await updateService(c, svc.id, (x) => ({
    ...x,
    spec: { ...x.spec, mode: { replicated: { replicas: 12 } } },
  }));
  await eventually('12 running', () => c.running(svc.id).length === 12, 30_000);
  assert.deepEqual([...perNode(c, svc.id).values()], [4, 4, 4]);

  await updateService(c, svc.id, (x) => ({
    ...x,
    spec: { ...x.spec, mode: { replicated: { replicas: 2 } } },
  }));
  await eventually(
    '2 running and nothing else alive',
    () => {
      const alive = [...c.nodes.values()].flatMap((n) => n.executor.running());
      return c.running(svc.id).length === 2 && alive.length === 2;
    },
    30_000,
  );

  await c.store.update((tx) => tx.delete('service', svc.id));
  await eventually(
    'no tasks left in the store or on any node',
    () => {
      const alive = [...c.nodes.values()].flatMap((n) => n.executor.running());
      return c.tasks().length === 0 && alive.length === 0;
    },
    30_000,
  );
});

test('a node going down moves its tasks; drain empties a node', async (t) => {
  const c = await cluster(t, 4);
  const svc = await c.createService(serviceSpec('api', 4));
  await eventually('4 running', () => c.running(svc.id).length === 4, 30_000);
  const victim = c.running(svc.id)[0]!.nodeId;
  // The node goes silent: the dispatcher misses its heartbeats and marks it down.
  c.nodes.get(victim)!.session.stop();
  await eventually(
    '4 running, none on the down node',
    () => {
      const r = c.running(svc.id);
      return r.length === 4 && r.every((x) => x.nodeId !== victim);
    },
    30_000,
  );

  const drained = c.running(svc.id)[0]!.nodeId;
  await c.store.update((tx) => {
    const n = tx.get('node', drained)!;
    tx.update('node', { ...n, spec: { ...n.spec, availability: 'drain' } });
  });
  await eventually(
    '4 running, none on the drained node, its processes stopped',
    () => {
      const r = c.running(svc.id);
      return (
        r.length === 4 &&
        r.every((x) => x.nodeId !== drained) &&
        c.nodes.get(drained)!.executor.running().length === 0
      );
    },
    30_000,
  );
});

test('a global service follows nodes joining and leaving', async (t) => {
  const c = await cluster(t, 2);
  const svc = await c.createService(serviceSpec('agent', 'global'));
  await eventually('one task per node', () => c.running(svc.id).length === 2, 30_000);
  await c.addNodes(['node3'], true);
  await eventually(
    'a task on the new node',
    () => c.running(svc.id).some((x) => x.nodeId === 'node3'),
    30_000,
  );
  await c.store.update((tx) => {
    const n = tx.get('node', 'node1')!;
    tx.update('node', { ...n, spec: { ...n.spec, availability: 'drain' } });
  });
  await eventually(
    'node1 no longer runs it',
    () => {
      const r = c.running(svc.id);
      return r.length === 2 && r.every((x) => x.nodeId !== 'node1');
    },
    30_000,
  );
});

test('a rolling update replaces every task; a failing one rolls back automatically', async (t) => {
  const c = await cluster(t);
  const spec = serviceSpec('web', 3);
  spec.update = { ...spec.update, parallelism: 1, monitorMs: 200, failureAction: 'rollback' };
  spec.rollback = { ...spec.rollback, parallelism: 0, monitorMs: 200 };
  const svc = await c.createService(spec);
  await eventually('3 running', () => c.running(svc.id).length === 3, 30_000);

  await updateService(c, svc.id, (x) => ({
    ...x,
    previousSpec: x.spec,
    specVersion: x.specVersion + 1,
    spec: { ...x.spec, task: { ...x.spec.task, env: ['V=2'] } },
  }));
  await eventually(
    'all 3 on the new spec and the update completed',
    () => {
      const s = c.store.view((tx) => tx.get('service', svc.id))!;
      const r = c.running(svc.id);
      return (
        s.updateStatus?.state === 'completed' && r.length === 3 && r.every((x) => x.spec.env[0] === 'V=2')
      );
    },
    30_000,
  );

  // A spec whose tasks die at once: the update fails and rolls back to V=2.
  await updateService(c, svc.id, (x) => ({
    ...x,
    previousSpec: x.spec,
    specVersion: x.specVersion + 1,
    spec: {
      ...x.spec,
      task: {
        ...x.spec.task,
        env: ['V=3', 'SIM_EXIT_AFTER_MS=10', 'SIM_EXIT_CODE=1'],
        restartPolicy: { ...x.spec.task.restartPolicy, delayMs: 50 },
      },
    },
  }));
  await eventually(
    'rolled back to V=2 everywhere',
    () => {
      const s = c.store.view((tx) => tx.get('service', svc.id))!;
      const r = c.running(svc.id);
      return (
        s.updateStatus?.state === 'rollback_completed' &&
        r.length === 3 &&
        r.every((x) => x.spec.env[0] === 'V=2')
      );
    },
    30_000,
  );
});

test('exhausted addresses leave tasks pending with the reason, and they start once addresses are freed', async (t) => {
  const c = await cluster(t);
  await c.store.update((tx) =>
    tx.create('network', sampleNetwork('tiny', 'tiny', { subnets: ['10.9.0.0/29'] })),
  );
  // A /29 has 5 usable addresses after the gateway: one VIP and four tasks.
  const spec = serviceSpec('big', 6);
  spec.task.networks = [{ target: 'tiny', aliases: [] }];
  const svc = await c.createService(spec);
  await eventually(
    '4 running, 2 waiting with the pool named',
    () => {
      const waiting = c
        .tasks(svc.id)
        .filter((x) => x.status.state === 'new' && /exhausted/.test(x.status.err));
      return c.running(svc.id).length === 4 && waiting.length === 2;
    },
    30_000,
  );
  await updateService(c, svc.id, (x) => ({
    ...x,
    spec: { ...x.spec, mode: { replicated: { replicas: 4 } } },
  }));
  await eventually(
    'the waiting tasks are gone and 4 run',
    () => c.running(svc.id).length === 4 && c.tasks(svc.id).every((x) => x.status.err === ''),
    30_000,
  );
});

test('a forced update (the task spec counter bumped) redeploys every task', async (t) => {
  const c = await cluster(t);
  const spec = serviceSpec('web', 3);
  spec.update = { ...spec.update, parallelism: 0, monitorMs: 100 };
  const svc = await c.createService(spec);
  await eventually('3 running', () => c.running(svc.id).length === 3, 30_000);
  const before = new Set(c.running(svc.id).map((x) => x.id));
  await updateService(c, svc.id, (x) => ({
    ...x,
    specVersion: x.specVersion + 1,
    spec: { ...x.spec, task: { ...x.spec.task, forceUpdate: x.spec.task.forceUpdate + 1 } },
  }));
  await eventually(
    'three new tasks running',
    () => {
      const r = c.running(svc.id);
      return r.length === 3 && r.every((x) => !before.has(x.id));
    },
    30_000,
  );
});
