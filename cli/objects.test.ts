// What the CLI accepts from the daemon: complete objects pass unchanged (what `--format json` prints
// is what arrived); one with a message missing is one clear error naming it, not a crash later.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { services } from '../api/rpc.js';
import { UserError } from '../lib/errors.js';
import type { GetNodeResponse__Output } from '../api/gen/swarmlite/control/v1/GetNodeResponse.js';
import type { ListNodesResponse__Output } from '../api/gen/swarmlite/control/v1/ListNodesResponse.js';
import type { ListTasksResponse__Output } from '../api/gen/swarmlite/control/v1/ListTasksResponse.js';
import type { ServiceResponse__Output } from '../api/gen/swarmlite/control/v1/ServiceResponse.js';
import { nodeName, nodeView, serviceView, taskView } from './objects.js';
import { nodes, wireService, wireTask } from './service-fixtures.js';

/** `value`, the daemon's answer to `method`, as the CLI's side decodes it. */
function received<Out>(method: string, value: object): Out {
  const m = services.local().service[method]!;
  return m.responseDeserialize(m.responseSerialize(value));
}

test('complete objects pass unchanged, absent oneof members and unset optionals included', () => {
  const { service } = received<ServiceResponse__Output>('GetService', { service: wireService() });
  assert.equal(service?.spec?.global, undefined, 'the oneof member not chosen arrives absent');
  assert.deepEqual(serviceView(service), service);
  const { tasks } = received<ListTasksResponse__Output>('ListTasks', { tasks: [wireTask(wireService())] });
  assert.equal(tasks[0]!.status?.exitCode, undefined, 'an unset optional arrives absent');
  assert.deepEqual(taskView(tasks[0]!), tasks[0]);
});

test('a missing message is refused with one line naming the object', () => {
  const broken = (over: object) =>
    received<ServiceResponse__Output>('GetService', { service: { ...wireService(), ...over } }).service;
  const cases: [string, () => unknown][] = [
    ['no spec', () => serviceView(broken({ spec: null }))],
    ['no task spec', () => serviceView(broken({ spec: { ...wireService().spec, task: null } }))],
    [
      'no restart policy deep inside the spec',
      () => serviceView(broken({ spec: { ...wireService().spec, task: { image: 'host' } } })),
    ],
    ['no service at all', () => serviceView(null)],
    ['a task without status', () => taskView({ ...wireTask(wireService()), status: null })],
    ['a node without description', () => nodeName({ ...nodeView(fullNode()), description: null })],
  ];
  for (const [what, f] of cases)
    assert.throws(f, (err: Error) => err instanceof UserError && /the daemon sent/.test(err.message), what);
});

test('a node name needs only its description; a full node view needs every part', () => {
  const bare = received<ListNodesResponse__Output>('ListNodes', { nodes }).nodes[0]!;
  assert.deepEqual(nodeName(bare), { id: 'node1', description: { hostname: 'alpha' } });
  assert.throws(() => nodeView(bare), /node node1 with a part missing/);
  assert.equal(
    nodeView(received<GetNodeResponse__Output>('GetNode', { node: fullNode() }).node).description.hostname,
    'alpha',
  );
});

function fullNode() {
  return {
    id: 'node1',
    meta: { version: 1, createdAt: '', updatedAt: '' },
    spec: { role: 'worker', availability: 'active', labels: {} },
    role: 'worker',
    status: { state: 'ready', message: '', addr: '198.18.0.2' },
    description: {
      hostname: 'alpha',
      os: 'linux',
      arch: 'x64',
      nanoCpus: 1,
      memoryBytes: 1,
      engineVersion: '',
    },
    managerStatus: null,
  };
}
