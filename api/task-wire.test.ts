import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AssignmentsMessage } from './gen/swarmlite/dispatcher/v1/AssignmentsMessage.js';
import type { Network as WireNetworkIn } from './gen/swarmlite/objects/v1/Network.js';
import type { Task as WireTaskIn } from './gen/swarmlite/objects/v1/Task.js';
import type { TaskSpec as WireTaskSpecIn } from './gen/swarmlite/objects/v1/TaskSpec.js';
import type { Network, Task } from './objects/index.js';
import { task } from './objects/test-fixtures.js';
import { services } from './rpc.js';
import { networkFromWire, taskFromWire, WireError } from './task-wire.js';

const network: Network = {
  id: 'net0000000000000000000001',
  meta: { version: 7, createdAt: '2026-11-22T00:00:00.000Z', updatedAt: '2026-11-22T00:00:01.000Z' },
  spec: {
    name: 'backend',
    driver: 'overlay',
    ipam: [{ subnet: '10.20.0.0/16', gateway: '', ipRange: '' }],
    attachable: true,
    internal: false,
    ingress: false,
    options: { encrypted: '' },
    labels: { tier: 'db' },
  },
  ipam: [{ subnet: '10.20.0.0/16', gateway: '10.20.0.1', ipRange: '' }],
  vni: 4097,
};

const good: Task = {
  ...task('tsk1', 'svc1', {
    nodeId: 'node-a',
    ports: [
      {
        protocol: 'tcp',
        targetPort: 80,
        publishedPort: 30080,
        publishMode: 'ingress',
        idleTimeoutSeconds: 60,
      },
      { protocol: 'udp', targetPort: 53, publishedPort: 0, publishMode: 'host', preserveClientAddress: true },
    ],
  }),
  status: {
    state: 'failed',
    timestamp: '2026-11-22T00:00:02.000Z',
    message: 'exited',
    err: 'exit 3',
    exitCode: 3,
  },
  networks: [{ networkId: network.id, addresses: ['10.20.0.3/16'], aliases: ['db'] }],
};

/** Through the dispatcher's real codec: what a worker's Assignments stream decodes. */
function overTheWire(tasks: WireTaskIn[], networks: WireNetworkIn[] = []) {
  const method = services.dispatcher().service.Assignments;
  const msg: AssignmentsMessage = { full: true, tasks, removed: [], networks };
  return method.responseDeserialize(method.responseSerialize(msg));
}

test('taskFromWire / networkFromWire: a store object sent by the dispatcher comes back as it was', () => {
  const decoded = overTheWire([good], [network]);
  assert.deepEqual(taskFromWire(decoded.tasks[0]!), good);
  assert.deepEqual(networkFromWire(decoded.networks[0]!), network);
  // Without an exit code or pid, none appears (proto3 `optional`), as in the store.
  const running = task('tsk2', 'svc1', { nodeId: 'node-a' });
  assert.deepEqual(taskFromWire(overTheWire([running]).tasks[0]!), running);
  // --with-registry-auth credentials reach the node that pulls (and stay absent when there are none).
  const registryAuth = { registry: '198.18.0.5:5000', username: 'ci', password: 'pw' };
  const pulling = { ...running, spec: { ...running.spec, registryAuth } };
  assert.deepEqual(taskFromWire(overTheWire([pulling]).tasks[0]!), pulling);
  assert.equal('registryAuth' in taskFromWire(overTheWire([running]).tasks[0]!).spec, false);
});

test("taskFromWire: Docker's container options come back as the store has them (absent when unset)", () => {
  const withOptions: Task = {
    ...good,
    spec: {
      ...good.spec,
      command: ['sh'],
      args: ['-c', 'sleep 1'],
      capAdd: ['CAP_NET_ADMIN'],
      capDrop: ['ALL'],
      readOnly: true,
      init: false,
      noNewPrivileges: true,
      seccomp: 'unconfined',
      mounts: [
        { type: 'bind', source: '/srv', target: '/data', readonly: true, tmpfsSizeBytes: 0, tmpfsMode: 0 },
        { type: 'volume', source: 'v', target: '/v', readonly: false, tmpfsSizeBytes: 0, tmpfsMode: 0 },
        {
          type: 'tmpfs',
          source: '',
          target: '/run',
          readonly: false,
          tmpfsSizeBytes: 4096,
          tmpfsMode: 0o700,
        },
      ],
      stopSignal: 'SIGQUIT',
    },
  };
  assert.deepEqual(taskFromWire(overTheWire([withOptions]).tasks[0]!), withOptions);
  // init=true survives too (proto3 `optional`: true and false are both sent, unset is not).
  const withInit: Task = { ...good, spec: { ...good.spec, init: true } };
  assert.deepEqual(taskFromWire(overTheWire([withInit]).tasks[0]!).spec.init, true);
  const refused: [string, WireTaskSpecIn, string][] = [
    ['unknown mount type', { mounts: [{ type: 'nfs', target: '/x' }] }, 'task.spec.mounts[0].type'],
    ['unknown seccomp', { seccomp: 'custom' }, 'task.spec.seccomp'],
  ];
  for (const [name, spec, path] of refused) {
    const decoded = overTheWire([{ ...good, spec: { ...good.spec, ...spec } }]).tasks[0]!;
    assert.throws(
      () => taskFromWire(decoded),
      (err: unknown) => err instanceof WireError && err.path === path,
      name,
    );
  }
});

test('taskFromWire: a task lacking a part or carrying an unknown enum string is refused, naming it', () => {
  const cases: [string, WireTaskIn, string][] = [
    ['no spec', { ...good, spec: null }, 'task.spec'],
    ['no status', { ...good, status: null }, 'task.status'],
    ['no meta', { ...good, meta: null }, 'task.meta'],
    ['no endpoint', { ...good, endpoint: null }, 'task.endpoint'],
    ['no id', { ...good, id: '' }, 'task.id'],
    [
      'credentials for no registry',
      { ...good, spec: { ...good.spec, registryAuth: { registry: '', username: 'u', password: 'p' } } },
      'task.spec.registryAuth.registry',
    ],
    ['unknown state', { ...good, status: { ...good.status, state: 'exploded' } }, 'task.status.state'],
    ['empty desired state', { ...good, desiredState: '' }, 'task.desiredState'],
    [
      'no restart policy',
      { ...good, spec: { ...good.spec, restartPolicy: null } },
      'task.spec.restartPolicy',
    ],
    [
      'no reservations',
      { ...good, spec: { ...good.spec, resources: { limits: good.spec.resources.limits } } },
      'task.spec.resources.reservations',
    ],
    [
      'unknown restart condition',
      {
        ...good,
        spec: { ...good.spec, restartPolicy: { ...good.spec.restartPolicy, condition: 'sometimes' } },
      },
      'task.spec.restartPolicy.condition',
    ],
    [
      'unknown port protocol',
      { ...good, endpoint: { ...good.endpoint, ports: [{ ...good.endpoint.ports[0]!, protocol: 'sctp' }] } },
      'task.endpoint.ports[0].protocol',
    ],
    [
      'unknown publish mode',
      {
        ...good,
        endpoint: { ...good.endpoint, ports: [{ ...good.endpoint.ports[1]!, publishMode: 'mesh' }] },
      },
      'task.endpoint.ports[0].publishMode',
    ],
  ];
  for (const [name, wire, path] of cases) {
    const decoded = overTheWire([wire]).tasks[0]!;
    assert.throws(
      () => taskFromWire(decoded),
      (err: unknown) => err instanceof WireError && err.path === path,
      name,
    );
  }
});

test('networkFromWire: a network without a spec, or of a driver there is not, is refused', () => {
  const cases: [string, WireNetworkIn, string][] = [
    ['no spec', { ...network, spec: null }, 'network.spec'],
    ['no meta', { ...network, meta: null }, 'network.meta'],
    ['unknown driver', { ...network, spec: { ...network.spec, driver: 'ipvlan' } }, 'network.spec.driver'],
  ];
  for (const [name, wire, path] of cases) {
    const decoded = overTheWire([], [wire]).networks[0]!;
    assert.throws(
      () => networkFromWire(decoded),
      (err: unknown) => err instanceof WireError && err.path === path,
      name,
    );
  }
});
