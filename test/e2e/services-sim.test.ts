// Services on a real cluster (3 managers + 3 workers, real Raft, mTLS, dispatcher sessions) whose
// agents run the simulated executor: the control plane end to end without processes. Create, scale,
// rolling update, rollback, leader failover in the middle of an update, drain, node loss, global
// services following nodes, removal. The real runtime's e2e is test/e2e/tasks.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withDaemon, type LocalCalls } from '../../daemon/client.js';
import { labSignal, labStart } from '../../deploy/lab/lab.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import { serviceView, taskView, type TaskView } from '../../cli/objects.js';
import { createTestLab, isRoot, swl, waitFor } from './harness.js';

/** Each call's deadline. */
const T = 15_000;
const api = <R>(h: LabHostState, fn: (c: LocalCalls) => Promise<R>): Promise<R> =>
  withDaemon(`unix://${h.socket}`, fn);

const tasksOf = async (h: LabHostState, service: string) =>
  (await api(h, (c) => c.listTasks({ service }, T))).tasks.map(taskView);
const running = (tasks: TaskView[]) =>
  tasks.filter((t) => t.status.state === 'running' && t.desiredState === 'running');
const getService = async (h: LabHostState, ref: string) =>
  serviceView((await api(h, (c) => c.getService({ ref }, T))).service);

async function leaderHost(hosts: LabHostState[]): Promise<LabHostState | undefined> {
  for (const h of hosts) {
    const i = await withDaemon(`unix://${h.socket}`, (c) => c.info({}, 2_000)).catch(() => undefined);
    if (i?.isLeader) return h;
  }
  return undefined;
}

/** Every slot 1..n holds exactly one running task of the current spec, and nothing else runs. */
function slotsConverged(tasks: TaskView[], n: number, env?: string): boolean {
  const r = running(tasks);
  const slots = r.map((t) => t.slot).sort((a, b) => a - b);
  return (
    r.length === n &&
    slots.every((s, i) => s === i + 1) &&
    (env === undefined || r.every((t) => t.spec.env.includes(env)))
  );
}

test(
  'services on 3 managers + 3 workers with simulated agents',
  { skip: !isRoot && 'needs root' },
  async (t) => {
    const lab = await createTestLab(t, 6, 3, ['--executor', 'simulated']);
    const [n1, n2, n3, , n5, n6] = lab.hosts as [
      LabHostState,
      LabHostState,
      LabHostState,
      LabHostState,
      LabHostState,
      LabHostState,
    ];

    await t.test('create on an overlay network with a published port: 6 running, one per node', async () => {
      const { network } = await api(n2, (c) =>
        c.createNetwork({ spec: { name: 'appnet', driver: 'overlay' } }, T),
      );
      assert.equal(network?.spec?.name, 'appnet');
      await api(n3, (c) =>
        c.createService(
          {
            spec: {
              name: 'web',
              task: { image: 'host', command: ['sleep', 'infinity'], networks: [{ target: 'appnet' }] },
              replicated: { replicas: 6 },
              update: {
                parallelism: 2,
                delayMs: 300,
                order: 'stop-first',
                failureAction: 'pause',
                monitorMs: 500,
              },
              endpoint: {
                mode: 'vip',
                ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 5000, publishMode: 'ingress' }],
              },
            },
          },
          T,
        ),
      );
      const tasks = await waitFor('6 running', 60_000, async () => {
        const ts = await tasksOf(n1, 'web');
        return slotsConverged(ts, 6) ? ts : undefined;
      });
      assert.equal(new Set(running(tasks).map((x) => x.nodeId)).size, 6, 'spread over all six nodes');
      const svc = await getService(n1, 'web');
      assert.equal(svc.endpoint?.ports[0]?.publishedPort, 5000);
      assert.equal(svc.endpoint?.virtualIps.length, 2, 'a VIP on appnet and on ingress');
      for (const task of running(tasks)) assert.equal(task.networks.length, 2);
    });

    await t.test('bad input changes nothing', async () => {
      const conflict = api(n1, (c) =>
        c.createService(
          {
            spec: {
              name: 'other',
              task: { image: 'host', command: ['true'] },
              replicated: { replicas: 1 },
              endpoint: {
                ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 5000, publishMode: 'ingress' }],
              },
            },
          },
          T,
        ),
      );
      await assert.rejects(conflict, /5000.*already published by service web/);
      await assert.rejects(
        api(n1, (c) => c.removeNetwork({ ref: 'appnet' }, T)),
        /in use by service web/,
      );
      const { services } = await api(n1, (c) => c.listServices({}, T));
      assert.deepEqual(
        services.map((s) => serviceView(s.service).spec.name),
        ['web'],
      );
    });

    await t.test('scale 6 → 12 → 3', async () => {
      for (const replicas of [12, 3]) {
        const svc = await getService(n2, 'web');
        await api(n2, (c) =>
          c.updateService(
            {
              ref: 'web',
              version: svc.meta.version,
              spec: { ...svc.spec, replicated: { replicas } },
            },
            T,
          ),
        );
        await waitFor(`${replicas} running`, 60_000, async () =>
          slotsConverged(await tasksOf(n2, 'web'), replicas),
        );
      }
    });

    await t.test('a rolling update survives the leader being killed half-way, then rollback', async () => {
      let svc = await getService(n1, 'web');
      await api(n1, (c) =>
        c.updateService(
          {
            ref: 'web',
            version: svc.meta.version,
            spec: { ...svc.spec, replicated: { replicas: 9 } },
          },
          T,
        ),
      );
      await waitFor('9 running', 60_000, async () => slotsConverged(await tasksOf(n1, 'web'), 9));
      svc = await getService(n1, 'web');
      await api(n1, (c) =>
        c.updateService(
          {
            ref: 'web',
            version: svc.meta.version,
            spec: { ...svc.spec, task: { ...svc.spec.task, env: ['V=2'] } },
          },
          T,
        ),
      );
      // Kill the leader once the update is under way but not done.
      await waitFor('the update under way', 60_000, async () => {
        const r = running(await tasksOf(n1, 'web'));
        const updated = r.filter((x) => x.spec.env.includes('V=2')).length;
        return updated > 0 && updated < 9 ? true : undefined;
      });
      const leader = (await leaderHost([n1, n2, n3]))!;
      const survivor = [n1, n2, n3].find((h) => h !== leader)!;
      await labSignal(lab.name, leader.hostname, 'SIGKILL');
      const converged = await waitFor('the update to finish under the new leader', 40_000, async () => {
        const s = await getService(survivor, 'web').catch(() => undefined);
        const ts = await tasksOf(survivor, 'web').catch(() => undefined);
        return s?.updateStatus?.state === 'completed' && ts && slotsConverged(ts, 9, 'V=2') ? ts : undefined;
      });
      assert.ok(
        running(converged).every((x) => x.nodeId !== ''),
        'every slot placed',
      );
      await labStart(lab.name, leader.hostname);

      await api(survivor, (c) => c.rollbackService({ ref: 'web' }, T));
      await waitFor('rolled back to the old spec', 60_000, async () => {
        const s = await getService(survivor, 'web');
        const ts = await tasksOf(survivor, 'web');
        const old = running(ts).every((x) => !x.spec.env.includes('V=2'));
        return s.updateStatus?.state === 'rollback_completed' && slotsConverged(ts, 9) && old;
      });
    });

    await t.test('drain empties a node; a killed worker loses its tasks to the others', async () => {
      await swl(n1, ['node', 'update', '--availability', 'drain', 'node4']);
      const node4 = (await api(n1, (c) => c.getNode({ ref: 'node4' }, T))).node?.id;
      await waitFor('nothing on node4', 60_000, async () => {
        const ts = await tasksOf(n1, 'web');
        return slotsConverged(ts, 9) && running(ts).every((x) => x.nodeId !== node4);
      });
      await swl(n1, ['node', 'update', '--availability', 'active', 'node4']);

      const node5 = (await api(n1, (c) => c.getNode({ ref: 'node5' }, T))).node?.id;
      await labSignal(lab.name, n5.hostname, 'SIGKILL');
      await waitFor('node5 down and its tasks running elsewhere', 60_000, async () => {
        const ts = await tasksOf(n1, 'web');
        return slotsConverged(ts, 9) && running(ts).every((x) => x.nodeId !== node5);
      });
      await labStart(lab.name, n5.hostname);
    });

    await t.test('a global service follows nodes leaving and joining', async () => {
      await api(n1, (c) =>
        c.createService(
          {
            spec: { name: 'mon', task: { image: 'host', command: ['sleep', 'infinity'] }, global: {} },
          },
          T,
        ),
      );
      await waitFor('one per node', 60_000, async () => running(await tasksOf(n1, 'mon')).length === 6);
      const token = (await swl(n1, ['join-token', '-q', 'worker'])).stdout.trim();
      await swl(n6, ['leave']);
      await waitFor('five left', 60_000, async () => running(await tasksOf(n1, 'mon')).length === 5);
      await swl(n6, ['join', '--token', token, `${n1.address}:2377`]);
      await waitFor('six again', 60_000, async () => running(await tasksOf(n1, 'mon')).length === 6);
    });

    await t.test('rm removes every task', async () => {
      await api(n2, (c) => c.removeService({ ref: 'web' }, T));
      await api(n2, (c) => c.removeService({ ref: 'mon' }, T));
      await waitFor('no tasks', 60_000, async () => (await tasksOf(n2, '')).length === 0);
      await api(n2, (c) => c.removeNetwork({ ref: 'appnet' }, T));
    });
  },
);
