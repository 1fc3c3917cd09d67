import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newTestStore, sampleNetwork } from './test-fixtures.js';
import { InvalidObjectError, NameConflictError } from './errors.js';
import type { NewObject } from '../../api/objects/index.js';
import type { Network, Service, Task, TaskSpec } from '../../api/objects/index.js';
import { defaultTaskSpec, defaultUpdateConfig } from '../../api/objects/index.js';

const taskSpec = (): TaskSpec => defaultTaskSpec('host', ['swarmlite', 'whoami']);
const update = defaultUpdateConfig();

const network = (id: string, name: string, vni: number): NewObject<Network> =>
  sampleNetwork(id, name, { vni, allocated: [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1', ipRange: '' }] });

const service = (id: string, name: string, replicas = 2): NewObject<Service> => ({
  id,
  spec: {
    name,
    labels: {},
    task: taskSpec(),
    mode: { replicated: { replicas } },
    update,
    rollback: update,
    endpoint: { mode: 'vip', ports: [] },
  },
  specVersion: 1,
  endpoint: { ports: [], virtualIps: [] },
});

const task = (id: string, serviceId: string, slot: number, nodeId: string): NewObject<Task> => ({
  id,
  serviceId,
  slot,
  nodeId,
  spec: taskSpec(),
  specVersion: 1,
  serviceName: 'web',
  desiredState: 'running',
  status: { state: 'new', timestamp: '2026-11-22T05:00:00Z', message: 'created', err: '' },
  networks: [],
  endpoint: { ports: [], virtualIps: [] },
});

test('networks, services and tasks are stored with their indexes', async () => {
  const { store } = newTestStore();
  await store.update((tx) => {
    tx.create('network', network('n1', 'appnet', 4097));
    tx.create('service', service('s1', 'web'));
    tx.create('task', task('t1', 's1', 1, 'nodeA'));
    tx.create('task', task('t2', 's1', 2, 'nodeB'));
    tx.create('task', task('t3', 's1', 0, 'nodeB'));
  });
  store.view((tx) => {
    assert.equal(tx.find('network', 'name', 'APPNET')[0]?.id, 'n1', 'names are case-insensitive');
    assert.equal(tx.find('network', 'vni', '4097')[0]?.id, 'n1');
    assert.deepEqual(
      tx
        .find('task', 'service', 's1')
        .map((t) => t.id)
        .sort(),
      ['t1', 't2', 't3'],
    );
    assert.deepEqual(
      tx
        .find('task', 'node', 'nodeB')
        .map((t) => t.id)
        .sort(),
      ['t2', 't3'],
    );
    assert.equal(tx.find('task', 'slot', 's1/2')[0]?.id, 't2');
    assert.equal(tx.find('task', 'slot', 's1/nodeB')[0]?.id, 't3', 'global tasks are keyed by node');
  });
});

test('names and VNIs are unique; malformed objects are refused at apply', async () => {
  const { store } = newTestStore();
  await store.update((tx) => {
    tx.create('network', network('n1', 'appnet', 4097));
    tx.create('service', service('s1', 'web'));
  });
  await assert.rejects(
    store.update((tx) => tx.create('network', network('n2', 'AppNet', 4098))),
    NameConflictError,
  );
  await assert.rejects(
    store.update((tx) => tx.create('network', network('n3', 'other', 4097))),
    NameConflictError,
  );
  await assert.rejects(
    store.update((tx) => tx.create('service', service('s2', 'web'))),
    NameConflictError,
  );
  const bad = {
    ...service('s3', 'api'),
    spec: { ...service('s3', 'api').spec, mode: { replicated: { replicas: -1 } } },
  };
  await assert.rejects(
    store.update((tx) => tx.create('service', bad as NewObject<Service>)),
    InvalidObjectError,
  );
  const badTask = { ...task('t9', 's1', 1, ''), desiredState: 'sleeping' };
  await assert.rejects(
    store.update((tx) => tx.create('task', badTask as unknown as NewObject<Task>)),
    InvalidObjectError,
  );
  store.view((tx) => assert.equal(tx.list('service').length, 1));
});

test('a network attachment is the one task without a service; others still need theirs', async () => {
  const { store } = newTestStore();
  const attachment = { ...task('a1', '', 0, 'nodeA'), attachment: { containerId: 'c'.repeat(64) } };
  await store.update((tx) => tx.create('task', attachment));
  assert.equal(store.view((tx) => tx.get('task', 'a1'))?.attachment?.containerId, 'c'.repeat(64));
  const refused = async (t: NewObject<Task>, message: RegExp) =>
    assert.rejects(
      store.update((tx) => tx.create('task', t)),
      (err: unknown) => err instanceof InvalidObjectError && message.test(err.message),
    );
  await refused(task('t1', '', 1, 'nodeA'), /serviceId: /);
  await refused({ ...task('t2', 's1', 0, 'nodeA'), attachment: { containerId: 'c' } }, /has no service/);
  await refused(
    { ...task('t3', '', 0, 'nodeA'), attachment: { containerId: '' } },
    /attachment\.containerId: /,
  );
});
