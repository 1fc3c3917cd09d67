import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { Service } from '../../api/objects/index.js';
import {
  addTask,
  assertRefused,
  assertUnsendable,
  fixture,
  wireSpec,
  type Fixture,
} from './service-test-fixtures.js';

const S = grpc.status;
const stored = (f: Fixture, name: string): Service =>
  f.store.view((tx) => tx.find('service', 'name', name)[0]!);
const ids = (res: { tasks: { id: string }[] }) => res.tasks.map((t) => t.id);

async function withTasks(): Promise<Fixture> {
  const f = await fixture();
  await f.call('CreateService', { spec: wireSpec('web', { replicated: { replicas: 2 } }) });
  await f.call('CreateService', { spec: wireSpec('agent', { global: {} }) });
  const web = stored(f, 'web');
  // Slot 2 was restarted: the old task failed and was shut down, its replacement runs.
  await addTask(f.store, web, 'web-1', { slot: 1, nodeId: 'node-a' });
  await addTask(f.store, web, 'web-2-old', {
    slot: 2,
    nodeId: 'node-b',
    state: 'failed',
    desired: 'shutdown',
  });
  await addTask(f.store, web, 'web-2-new', { slot: 2, nodeId: 'node-a' });
  await addTask(f.store, stored(f, 'agent'), 'agent-a', { slot: 0, nodeId: 'node-a' });
  return f;
}

test('task ls: all, by service, by node, by desired state, in service ps order', async () => {
  const f = await withTasks();
  assert.deepEqual(ids(await f.call('ListTasks', {})), ['agent-a', 'web-1', 'web-2-new', 'web-2-old']);
  assert.deepEqual(ids(await f.call('ListTasks', { service: 'web' })), ['web-1', 'web-2-new', 'web-2-old']);
  assert.deepEqual(ids(await f.call('ListTasks', { node: 'node-b' })), ['web-2-old']);
  assert.deepEqual(ids(await f.call('ListTasks', { service: 'web', node: 'host-node-a' })), [
    'web-1',
    'web-2-new',
  ]);
  assert.deepEqual(ids(await f.call('ListTasks', { service: 'web', desiredStates: ['running'] })), [
    'web-1',
    'web-2-new',
  ]);
  // What proto-loader gives for an unset repeated/string field.
  assert.equal((await f.call('ListTasks', { service: '', node: '', desiredStates: [] })).tasks.length, 4);
});

test('task ls: unknown filters are refused', async () => {
  const f = await withTasks();
  await assertRefused(f, 'ListTasks', { service: 'nope' }, S.NOT_FOUND, /service nope not found/);
  await assertRefused(f, 'ListTasks', { node: 'nope' }, S.NOT_FOUND, /node nope not found/);
  await assertRefused(
    f,
    'ListTasks',
    { desiredStates: ['sleeping'] },
    S.INVALID_ARGUMENT,
    /unknown desired state "sleeping"/,
  );
  assertUnsendable('ListTasks', { desiredStates: 'running' }, /desiredStates: array expected/);
});

test('task inspect: by id, id prefix, slot name (its current task) and global name', async () => {
  const f = await withTasks();
  const get = async (ref: string) => (await f.call('GetTask', { ref })).task.id;
  assert.equal(await get('web-1'), 'web-1');
  assert.equal(await get('web-2-o'), 'web-2-old');
  assert.equal(await get('web.2'), 'web-2-new');
  assert.equal(await get('agent.node-a'), 'agent-a');
  const task = (await f.call('GetTask', { ref: 'web.1' })).task;
  assert.equal(task.serviceName, 'web');
  assert.equal(task.status.state, 'running');
  await assertRefused(f, 'GetTask', { ref: 'web-2' }, S.INVALID_ARGUMENT, /ambiguous/);
  await assertRefused(f, 'GetTask', { ref: 'web.9' }, S.NOT_FOUND, /task web\.9 not found/);
});
