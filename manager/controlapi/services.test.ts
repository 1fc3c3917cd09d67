import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { defaultUpdateConfig, defaultRestartPolicy, type Service } from '../../api/objects/index.js';
import { sampleCluster, sampleNode } from '../store/test-fixtures.js';
import type { ServiceSpec } from '../../api/gen/swarmlite/objects/v1/ServiceSpec.js';
import type { TaskSpec } from '../../api/gen/swarmlite/objects/v1/TaskSpec.js';
import {
  addTask,
  assertRefused,
  assertUnsendable,
  FIXED_NOW,
  fixture,
  wireSpec,
  type Fixture,
} from './service-test-fixtures.js';

const S = grpc.status;
const storedService = (f: Fixture, name: string): Service =>
  f.store.view((tx) => tx.find('service', 'name', name)[0]!);

test('service create: defaults filled, networks resolved to ids, version 1, empty endpoint', async () => {
  const f = await fixture();
  const { network } = await f.call('CreateNetwork', { spec: { name: 'appnet' } });
  const { service } = await f.call('CreateService', {
    spec: wireSpec('web', {
      task: { image: 'host', networks: [{ target: 'appnet', aliases: ['www'] }] },
      replicated: { replicas: 3 },
      endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] },
    }),
  });
  assert.equal(service.specVersion, 1);
  assert.deepEqual(service.endpoint, { ports: [], virtualIps: [] });
  assert.equal(service.previousSpec, null);
  assert.equal(service.updateStatus, null);
  assert.equal(service.spec.mode, 'replicated');
  assert.deepEqual(service.spec.replicated, { replicas: 3 });
  const stored = storedService(f, 'web');
  assert.deepEqual(stored.spec.mode, { replicated: { replicas: 3 } });
  assert.deepEqual(stored.spec.task.networks, [{ target: network.id, aliases: ['www'] }]);
  assert.deepEqual(stored.spec.update, defaultUpdateConfig());
  assert.deepEqual(stored.spec.rollback, defaultUpdateConfig());
  assert.deepEqual(stored.spec.task.restartPolicy, defaultRestartPolicy());
  assert.equal(stored.spec.task.stopGracePeriodMs, 10_000);
  assert.deepEqual(stored.spec.endpoint, {
    mode: 'vip',
    ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: 'ingress' }],
  });
  // The per-port mesh options are stored when asked for; false and 0 (proto3's unset) are not.
  await f.call('CreateService', {
    spec: wireSpec('edge', {
      endpoint: {
        ports: [
          { targetPort: 80, publishedPort: 8081, preserveClientAddress: true, idleTimeoutSeconds: 3600 },
          { targetPort: 81, publishedPort: 8082, preserveClientAddress: false, idleTimeoutSeconds: 0 },
        ],
      },
    }),
  });
  assert.deepEqual(storedService(f, 'edge').spec.endpoint.ports, [
    {
      protocol: 'tcp',
      targetPort: 80,
      publishedPort: 8081,
      publishMode: 'ingress',
      preserveClientAddress: true,
      idleTimeoutSeconds: 3600,
    },
    { protocol: 'tcp', targetPort: 81, publishedPort: 8082, publishMode: 'ingress' },
  ]);
  // No mode at all: one replica, as Docker.
  await f.call('CreateService', { spec: wireSpec('one') });
  assert.deepEqual(storedService(f, 'one').spec.mode, { replicated: { replicas: 1 } });
  await f.call('CreateService', { spec: wireSpec('agent', { global: {} }) });
  assert.deepEqual(storedService(f, 'agent').spec.mode, { global: {} });
});

test('service create: every invalid spec is refused with its code and changes nothing', async () => {
  const f = await fixture();
  await f.call('CreateNetwork', { spec: { name: 'appnet' } });
  await f.call('CreateService', {
    spec: wireSpec('web', { endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] } }),
  });
  const task = (extra: TaskSpec) => ({ task: { image: 'host', ...extra } });
  const cases: [ServiceSpec | null, number, RegExp][] = [
    [null, S.INVALID_ARGUMENT, /service spec is required/],
    [wireSpec('web!'), S.INVALID_ARGUMENT, /invalid service name "web!"/],
    [wireSpec('x'.repeat(64)), S.INVALID_ARGUMENT, /longer than 63/],
    [{ name: 'api', task: { image: '' } }, S.INVALID_ARGUMENT, /service api needs an image/],
    [{ name: 'api' }, S.INVALID_ARGUMENT, /service api needs an image/],
    // Issue 18, fault 3: both were accepted, then every task was rejected on its node, in a loop.
    // Any reference Docker accepts may name an image now; one it refuses is refused here.
    [{ name: 'api', task: { image: 'NoSuch' } }, S.INVALID_ARGUMENT, /invalid image: .*must be lowercase/],
    [{ name: 'api', task: { image: 'busybox:a b' } }, S.INVALID_ARGUMENT, /invalid image: .*invalid tag/],
    [{ name: 'api', task: { image: 'busybox@sha256:00' } }, S.INVALID_ARGUMENT, /invalid image: .*digest/],
    [
      wireSpec('api', task({ hostname: '{{.Bad' })),
      S.INVALID_ARGUMENT,
      /invalid --hostname template "\{\{\.Bad"/,
    ],
    [
      wireSpec('api', task({ hostname: '{{.Node.Name}}' })),
      S.INVALID_ARGUMENT,
      /unknown field \{\{\.Node\.Name\}\}/,
    ],
    [wireSpec('api', task({ env: ['A={{.Task.Slot}'] })), S.INVALID_ARGUMENT, /invalid --env template/],
    // Issue 18, fault 1: `--replicas 1000000` was accepted and took the manager down.
    [
      wireSpec('api', { replicated: { replicas: 1_000_000 } }),
      S.INVALID_ARGUMENT,
      /^1000000 replicas is more than this swarm allows per service \(10000\): ask for fewer/,
    ],
    [wireSpec('web'), S.ALREADY_EXISTS, /service web already exists/],
    [wireSpec('WEB'), S.ALREADY_EXISTS, /service web already exists/],
    // A uint64 beyond what a number holds exactly, and one above the store's bound.
    [
      wireSpec('api', { replicated: { replicas: '18446744073709551615' } }),
      S.INVALID_ARGUMENT,
      /replicated\.replicas must be a whole number/,
    ],
    [
      wireSpec('api', { replicated: { replicas: 1_000_001 } }),
      S.INVALID_ARGUMENT,
      /replicated\.replicas must be a whole number/,
    ],
    [
      wireSpec('api', { replicated: { replicas: 1 }, global: {} }),
      S.INVALID_ARGUMENT,
      /either replicated or global/,
    ],
    [
      wireSpec('api', task({ placement: { constraints: ['node.colour==red'] } })),
      S.INVALID_ARGUMENT,
      /invalid constraint "node\.colour==red"/,
    ],
    [wireSpec('api', task({ networks: [{ target: 'nonet' }] })), S.NOT_FOUND, /network nonet not found/],
    [
      wireSpec('api', task({ networks: [{ target: 'ingress' }] })),
      S.INVALID_ARGUMENT,
      /cannot attach to the ingress network/,
    ],
    [
      wireSpec('api', task({ networks: [{ target: 'appnet' }, { target: 'appnet' }] })),
      S.INVALID_ARGUMENT,
      /network appnet is attached more than once/,
    ],
    [wireSpec('api', task({ env: ['=x'] })), S.INVALID_ARGUMENT, /invalid environment variable "=x"/],
    [
      wireSpec(
        'api',
        task({ resources: { limits: { memoryBytes: 100 }, reservations: { memoryBytes: 200 } } }),
      ),
      S.INVALID_ARGUMENT,
      /memory reservation \(200\) is more than its limit \(100\)/,
    ],
    [
      wireSpec('api', task({ restartPolicy: { condition: 'always' } })),
      S.INVALID_ARGUMENT,
      /invalid task\.restartPolicy\.condition "always"/,
    ],
    [wireSpec('api', { update: { order: 'random' } }), S.INVALID_ARGUMENT, /invalid update\.order "random"/],
    [
      wireSpec('api', { rollback: { maxFailureRatio: 2 } }),
      S.INVALID_ARGUMENT,
      /rollback\.maxFailureRatio must be a number between 0 and 1/,
    ],
    [
      wireSpec('api', { update: { delayMs: -5 } }),
      S.INVALID_ARGUMENT,
      /update\.delayMs must be a whole number/,
    ],
    // Bad port specs.
    [
      wireSpec('api', { endpoint: { ports: [{ targetPort: 0 }] } }),
      S.INVALID_ARGUMENT,
      /target port 0 is not between 1 and 65535/,
    ],
    [
      wireSpec('api', { endpoint: { ports: [{ targetPort: 80, publishedPort: 70000 }] } }),
      S.INVALID_ARGUMENT,
      /published port 70000/,
    ],
    [
      wireSpec('api', { endpoint: { ports: [{ targetPort: 80, protocol: 'sctp' }] } }),
      S.INVALID_ARGUMENT,
      /endpoint\.ports\[0\]\.protocol "sctp"/,
    ],
    [
      wireSpec('api', {
        endpoint: {
          ports: [
            { targetPort: 80, publishedPort: 81 },
            { targetPort: 90, publishedPort: 81 },
          ],
        },
      }),
      S.INVALID_ARGUMENT,
      /port 81\/tcp is published more than once/,
    ],
    [
      wireSpec('api', { endpoint: { mode: 'dnsrr', ports: [{ targetPort: 80, publishedPort: 81 }] } }),
      S.INVALID_ARGUMENT,
      /dnsrr service cannot use/,
    ],
    // DNS settings a task's resolv.conf or resolver could not use: refused up front, not per task.
    [
      wireSpec('api', { task: { image: 'host', dns: { search: ['bad domain'] } } }),
      S.INVALID_ARGUMENT,
      /invalid DNS search domain "bad domain"/,
    ],
    [
      wireSpec('api', { task: { image: 'host', dns: { options: ['ndots:2\nnameserver 1.2.3.4'] } } }),
      S.INVALID_ARGUMENT,
      /invalid DNS option/,
    ],
    [
      wireSpec('api', { task: { image: 'host', dns: { nameservers: ['dns.example.com'] } } }),
      S.INVALID_ARGUMENT,
      /invalid DNS server "dns.example.com"/,
    ],
    [
      wireSpec('api', { task: { image: 'host', networks: [{ target: 'n', aliases: ['not ok'] }] } }),
      S.INVALID_ARGUMENT,
      /invalid network alias "not ok"/,
    ],
    // Bad per-port mesh options.
    [
      wireSpec('api', {
        endpoint: {
          ports: [{ targetPort: 80, publishedPort: 81, publishMode: 'host', preserveClientAddress: true }],
        },
      }),
      S.INVALID_ARGUMENT,
      /port 81\/tcp is published in host mode.*client address preservation is for ingress mode/,
    ],
    [
      wireSpec('api', {
        endpoint: { ports: [{ targetPort: 80, publishedPort: 81, idleTimeoutSeconds: 2_073_601 }] },
      }),
      S.INVALID_ARGUMENT,
      /port 81\/tcp: idle timeout 2073601 is not a whole number of seconds between 1 and 2073600/,
    ],
    // -5 in a uint32 arrives as 4294967291.
    [
      wireSpec('api', { endpoint: { ports: [{ targetPort: 80, idleTimeoutSeconds: -5 }] } }),
      S.INVALID_ARGUMENT,
      /idle timeout 4294967291 is not a whole number of seconds between 1 and 2073600/,
    ],
    // A port another service publishes.
    [
      wireSpec('api', { endpoint: { ports: [{ targetPort: 80, publishedPort: 8080 }] } }),
      S.FAILED_PRECONDITION,
      /port 8080\/tcp is already published by service web/,
    ],
    // An enum string outside its set (a number is encoded as its decimal string).
    [wireSpec('api', { endpoint: { mode: '7' } }), S.INVALID_ARGUMENT, /invalid endpoint\.mode "7"/],
  ];
  for (const [req, code, message] of cases) {
    await assertRefused(f, 'CreateService', { spec: req }, code, message);
  }
  // Malformed shapes never reach the handler: the client's encoder refuses them, naming the field.
  const malformed: [Record<string, unknown>, RegExp][] = [
    [{ spec: 'web' }, /spec: object expected/],
    [{ spec: { name: 'api', task: 'host' } }, /task: object expected/],
    [{ spec: { name: 'api', task: { image: 'host', command: 'ls -l' } } }, /command: array expected/],
    [{ spec: { name: 'api', task: { image: 'host', networks: ['appnet'] } } }, /networks: object expected/],
  ];
  for (const [req, message] of malformed) assertUnsendable('CreateService', req, message);
});

test('service create: a port taken by a service the allocator has not seen yet is still refused', async () => {
  const f = await fixture({ allocation: 'stale' });
  await f.call('CreateService', {
    spec: wireSpec('web', { endpoint: { ports: [{ targetPort: 80, publishedPort: 80 }] } }),
  });
  await assertRefused(
    f,
    'CreateService',
    { spec: wireSpec('api', { endpoint: { ports: [{ targetPort: 8080, publishedPort: 80 }] } }) },
    S.FAILED_PRECONDITION,
    /port 80\/tcp is already published by service web/,
  );
  // Host mode binds per node: the scheduler's business, not a cluster-wide conflict.
  await f.call('CreateService', {
    spec: wireSpec('api', {
      endpoint: { ports: [{ targetPort: 8080, publishedPort: 80, publishMode: 'host' }] },
    }),
  });
});

test('service create: concurrent creates of one name or port: exactly one wins', async () => {
  const f = await fixture({ allocation: 'stale' });
  const port = { endpoint: { ports: [{ targetPort: 80, publishedPort: 80 }] } };
  const results = await Promise.allSettled([
    f.call('CreateService', { spec: wireSpec('web', port) }),
    f.call('CreateService', { spec: wireSpec('api', port) }),
    f.call('CreateService', { spec: wireSpec('WEB') }),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'rejected'],
  );
  assert.equal(
    f.store.view((tx) => tx.list('service').length),
    1,
  );
});

test('service update: new spec, previous spec kept, version bumped, update status cleared', async () => {
  const f = await fixture();
  const { service } = await f.call('CreateService', {
    spec: wireSpec('web', { replicated: { replicas: 2 } }),
  });
  // The orchestrator paused an earlier update: updating again resumes (SwarmKit clears the status).
  await f.store.update((tx) => {
    const s = tx.get('service', service.id)!;
    tx.update('service', {
      ...s,
      updateStatus: { state: 'paused', startedAt: '', completedAt: '', message: 'x' },
    });
  });
  const current = storedService(f, 'web');
  const edited = { ...service.spec, task: { ...service.spec.task, env: ['V=2'] } };
  const { service: updated } = await f.call('UpdateService', {
    ref: 'web',
    version: current.meta.version,
    spec: edited,
  });
  assert.equal(updated.specVersion, 2);
  assert.deepEqual(updated.spec.task.env, ['V=2']);
  assert.deepEqual(updated.previousSpec.task.env, []);
  assert.equal(updated.updateStatus, null);

  // Unchanged and not forced: nothing is written.
  const again = await f.call('UpdateService', { ref: 'web', spec: updated.spec });
  assert.equal(again.service.meta.version, updated.meta.version);
  // Forced: a new spec version, the previous spec stays the real previous one.
  const forced = await f.call('UpdateService', { ref: 'web', spec: updated.spec, force: true });
  assert.equal(forced.service.specVersion, 3);
  assert.deepEqual(forced.service.previousSpec.task.env, []);
  // ... and every task is outdated: the task spec's counter moved (the orchestrator compares specs).
  assert.equal(forced.service.spec.task.forceUpdate, updated.spec.task.forceUpdate + 1);
});

test('service update: stale version, rename, mode change and bad specs are refused and change nothing', async () => {
  const f = await fixture();
  const { service } = await f.call('CreateService', { spec: wireSpec('web') });
  await f.call('CreateService', {
    spec: wireSpec('api', { endpoint: { ports: [{ targetPort: 80, publishedPort: 9000 }] } }),
  });
  const spec = service.spec;
  const cases: [Record<string, unknown>, number, RegExp][] = [
    [{ ref: 'web', version: service.meta.version - 1, spec }, S.ABORTED, /service web changed since version/],
    [
      { ref: 'web', spec: { ...spec, name: 'web2' } },
      S.INVALID_ARGUMENT,
      /service web cannot be renamed \(to web2\)/,
    ],
    [
      { ref: 'web', spec: { ...spec, replicated: null, global: {} } },
      S.INVALID_ARGUMENT,
      /is replicated: its mode cannot change to global/,
    ],
    [{ ref: 'web' }, S.INVALID_ARGUMENT, /needs the complete new spec/],
    [
      { ref: 'web', version: '18446744073709551615', spec },
      S.INVALID_ARGUMENT,
      /version must be a whole number/,
    ],
    [{ ref: 'nope', spec }, S.NOT_FOUND, /service nope not found/],
    [
      { ref: 'web', spec: { ...spec, endpoint: { ports: [{ targetPort: 80, publishedPort: 9000 }] } } },
      S.FAILED_PRECONDITION,
      /port 9000\/tcp is already published by service api/,
    ],
    [
      {
        ref: 'web',
        spec: { ...spec, task: { ...spec.task, placement: { constraints: ['node.role=manager'] } } },
      },
      S.INVALID_ARGUMENT,
      /invalid constraint/,
    ],
  ];
  for (const [req, code, message] of cases) await assertRefused(f, 'UpdateService', req, code, message);
  // Its own published port is no conflict.
  const ports = { endpoint: { ports: [{ targetPort: 80, publishedPort: 9000 }] } };
  await f.call('UpdateService', { ref: 'api', spec: { ...wireSpec('api'), ...ports } });
});

test('service rollback: to the previous spec as a new version; refused without one', async () => {
  const f = await fixture();
  const { service } = await f.call('CreateService', { spec: wireSpec('web') });
  await assertRefused(
    f,
    'RollbackService',
    { ref: 'web' },
    S.FAILED_PRECONDITION,
    /^service web has no previous spec to roll back to$/,
  );
  await f.call('UpdateService', {
    ref: 'web',
    spec: { ...service.spec, task: { ...service.spec.task, env: ['V=2'] } },
  });
  const { service: back } = await f.call('RollbackService', { ref: service.id });
  assert.deepEqual(back.spec.task.env, []);
  assert.deepEqual(back.previousSpec.task.env, ['V=2']);
  assert.equal(back.specVersion, 3);
  assert.deepEqual(back.updateStatus, {
    state: 'rollback_started',
    startedAt: new Date(FIXED_NOW).toISOString(),
    completedAt: '',
    message: 'manually requested rollback',
  });
});

test('service rollback: refused when the previous spec names a network removed since', async () => {
  const f = await fixture();
  await f.call('CreateNetwork', { spec: { name: 'appnet' } });
  const { service } = await f.call('CreateService', {
    spec: wireSpec('web', { task: { image: 'host', networks: [{ target: 'appnet' }] } }),
  });
  await f.call('UpdateService', {
    ref: 'web',
    spec: { ...service.spec, task: { ...service.spec.task, networks: [] } },
  });
  await f.call('RemoveNetwork', { ref: 'appnet' });
  await assertRefused(
    f,
    'RollbackService',
    { ref: 'web' },
    S.FAILED_PRECONDITION,
    /network .* of its previous spec was removed/,
  );
});

test('service rm: the service goes, its tasks are left to the reaper', async () => {
  const f = await fixture();
  await f.call('CreateService', { spec: wireSpec('web') });
  await addTask(f.store, storedService(f, 'web'), 't1', { slot: 1, nodeId: 'node-a' });
  assert.deepEqual(await f.call('RemoveService', { ref: 'web' }), {});
  assert.equal(
    f.store.view((tx) => tx.list('service').length),
    0,
  );
  assert.equal(
    f.store.view((tx) => tx.get('task', 't1')?.desiredState),
    'running',
  );
  await assertRefused(f, 'RemoveService', { ref: 'web' }, S.NOT_FOUND, /service web not found/);
});

test('service ls: running and desired, for replicated and global services', async () => {
  const nodes = [
    sampleNode('node-a', { spec: { role: 'worker', availability: 'active', labels: { zone: 'eu' } } }),
    sampleNode('node-b', { spec: { role: 'worker', availability: 'active', labels: { zone: 'eu' } } }),
    sampleNode('node-c', { spec: { role: 'worker', availability: 'drain', labels: { zone: 'eu' } } }),
    sampleNode('node-d', { spec: { role: 'worker', availability: 'active', labels: { zone: 'us' } } }),
    sampleNode('node-e', { status: { state: 'down', message: '', addr: '' } }),
  ];
  const f = await fixture({ nodes });
  await f.call('CreateService', { spec: wireSpec('web', { replicated: { replicas: 3 } }) });
  await f.call('CreateService', {
    spec: wireSpec('agent', {
      global: {},
      task: { image: 'host', placement: { constraints: ['node.labels.zone==eu'] } },
    }),
  });
  const web = storedService(f, 'web');
  await addTask(f.store, web, 't1', { slot: 1, nodeId: 'node-a' });
  await addTask(f.store, web, 't2', { slot: 2, nodeId: 'node-b', state: 'starting' });
  await addTask(f.store, web, 't3', { slot: 3, nodeId: 'node-a', desired: 'shutdown' });
  await addTask(f.store, storedService(f, 'agent'), 't4', { slot: 0, nodeId: 'node-a' });
  const { services } = await f.call('ListServices', {});
  assert.deepEqual(
    services.map((e: { service: { spec: { name: string } }; running: number; desired: number }) => [
      e.service.spec.name,
      e.running,
      e.desired,
    ]),
    [
      ['agent', 1, 2], // ready + active + zone eu: node-a and node-b (node-c drained)
      ['web', 1, 3],
    ],
  );
});

test('service inspect: by id, unique id prefix and name', async () => {
  const f = await fixture();
  const { service } = await f.call('CreateService', { spec: wireSpec('web') });
  for (const ref of [service.id, service.id.slice(0, 4), 'web', 'WEB']) {
    assert.equal((await f.call('GetService', { ref })).service.id, service.id, ref);
  }
  await assertRefused(f, 'GetService', { ref: 'zzz' }, S.NOT_FOUND, /service zzz not found/);
});

test('service create without a name gets a generated one, as Docker does', async () => {
  const f = await fixture();
  const { service } = await f.call('CreateService', { spec: { task: { image: 'host', command: ['true'] } } });
  assert.match(service.spec.name, /^[a-z]+_[a-z]+\d?$/);
});

test('service scale/update: the cap is the swarm setting (init --max-replicas), checked on every write', async () => {
  const f = await fixture();
  await f.store.update((tx) => {
    const c = sampleCluster('c1');
    tx.create('cluster', {
      ...c,
      spec: { ...c.spec, orchestration: { maxReplicas: 5, maxTasksPerNode: 9 } },
    });
  });
  const { service } = await f.call('CreateService', {
    spec: wireSpec('web', { replicated: { replicas: 5 } }),
  });
  await assertRefused(
    f,
    'UpdateService',
    { ref: 'web', spec: { ...service.spec, replicated: { replicas: 6 } } },
    S.INVALID_ARGUMENT,
    /^6 replicas is more than this swarm allows per service \(5\)/,
  );
});
