// The dispatcher over real mutual TLS: worker certificates from a real swarm CA open sessions and
// report task status (issue 18, fault 7: a worker reporting another node's task was answered OK).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { unaryCalls } from '../../api/calls.js';
import { services, type DispatcherClient } from '../../api/rpc.js';
import { createLogger } from '../../lib/log.js';
import { rejectCounts, startRejectLogging } from '../../lib/rejects.js';
import { GrpcError } from '../ca/authz.js';
import { createRootCA } from '../ca/certs.js';
import { clientCredentials, managerServerCredentials, TlsMaterialProvider } from '../ca/credentials.js';
import { issueDirect, TEST_CHANNEL_OPTIONS } from '../ca/test-harness.js';
import {
  newTestStore,
  sampleCluster,
  sampleNetwork,
  sampleNode,
  sampleTask,
} from '../store/test-fixtures.js';
import { AllocatorController } from '../allocator/controller.js';
import { Dispatcher } from './dispatcher.js';
import { KeyManager } from '../keymanager.js';
import { eventually } from '../../test/support.js';
import type { SessionMessage__Output } from '../../api/gen/swarmlite/dispatcher/v1/SessionMessage.js';

const CLUSTER = 'dispatchertest';

/** A leader's dispatcher on a 127.0.0.1 port with its own CA; `as(node)` dials it with that node's certificate. */
async function startDispatcher(t: { after(fn: () => unknown): void }) {
  const { store } = newTestStore();
  const ca = await createRootCA(CLUSTER);
  await store.update((tx) => {
    tx.create('cluster', sampleCluster(CLUSTER));
    for (const id of ['w1', 'w2']) tx.create('node', sampleNode(id));
    tx.create('task', sampleTask('task-of-w1', 'w1', 'running'));
    tx.create('task', sampleTask('task-of-w2', 'w2', 'running'));
  });
  const self = await issueDirect(ca, CLUSTER, 'm0', 'manager');
  const server = new grpc.Server();
  let addr = '';
  const dispatcher = new Dispatcher({
    store,
    leader: { isLeader: () => true, leaderAddr: () => addr },
    caCertPem: () => ca.certPem,
    isRemoved: () => false,
    heartbeatPeriodMs: () => 60_000,
    exec: () => {
      throw new GrpcError(grpc.status.UNIMPLEMENTED, 'no exec here');
    },
    log: createLogger('silent'),
  });
  server.addService(services.dispatcher().service, dispatcher.handlers());
  const tls = new TlsMaterialProvider({ caCertPem: ca.certPem, certPem: self.certPem, keyPem: self.keyPem });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', managerServerCredentials(tls), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  addr = `127.0.0.1:${port}`;
  dispatcher.startLeading();
  const clients: DispatcherClient[] = [];
  t.after(() => {
    for (const c of clients) c.close();
    dispatcher.stopLeading();
    server.forceShutdown();
  });

  /** A node's client with a live session (its id from the first session message). */
  const as = async (nodeId: string) => {
    const cert = await issueDirect(ca, CLUSTER, nodeId, 'worker');
    const Dispatcher = services.dispatcher();
    const client = new Dispatcher(
      addr,
      clientCredentials({ caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem }),
      TEST_CHANNEL_OPTIONS,
    );
    clients.push(client);
    const stream = client.session({ addr: '198.18.0.1' });
    const messages: SessionMessage__Output[] = [];
    stream.on('data', (msg: SessionMessage__Output) => messages.push(msg));
    const sessionId = await new Promise<string>((resolve, reject) => {
      stream.once('data', (msg: { sessionId: string }) => resolve(msg.sessionId));
      stream.once('error', reject);
    });
    const report = (taskId: string, state: string) =>
      unaryCalls(client, Dispatcher.service).updateTaskStatus(
        { sessionId, updates: [{ taskId, status: { state, timestamp: '', message: 'reported', err: '' } }] },
        10_000,
      );
    const call = unaryCalls(client, Dispatcher.service);
    const attach = (network: string, containerId: string, aliases: string[] = []) =>
      call.attachNetwork({ sessionId, network, containerId, aliases }, 60_000);
    const detach = (attachmentId: string) => call.detachNetwork({ sessionId, attachmentId }, 10_000);
    return { report, attach, detach, messages };
  };
  return { store, as };
}

test("a worker reporting another node's task is refused with PERMISSION_DENIED and logged", async (t) => {
  const { store, as } = await startDispatcher(t);
  const lines: string[] = [];
  const stopLogging = startRejectLogging({ warn: (_fields, msg) => lines.push(msg) }, 60_000);
  t.after(stopLogging);
  const before = rejectCounts()['grpc:foreign-task-status'] ?? 0;
  const w1 = await as('w1');

  await assert.rejects(w1.report('task-of-w2', 'failed'), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.PERMISSION_DENIED, err.details);
    assert.match(
      err.details,
      /^node w1 may report only its own tasks: task task-of-w2 is not assigned to it$/,
    );
    return true;
  });
  const victim = store.view((tx) => tx.get('task', 'task-of-w2'));
  assert.equal(victim?.status.state, 'running', 'the forged report changed nothing');
  assert.equal(rejectCounts()['grpc:foreign-task-status'], before + 1);
  stopLogging();
  assert.ok(
    lines.some((l) =>
      /^rejected 1 grpc:foreign-task-status input from 127\.0\.0\.1 in the last 60 s: node w1 may report/.test(
        l,
      ),
    ),
    JSON.stringify(lines),
  );

  // Its own task is still the node's to report, and a task removed meanwhile is not an attack.
  await w1.report('task-of-w1', 'failed');
  assert.equal(store.view((tx) => tx.get('task', 'task-of-w1'))?.status.state, 'failed');
  await w1.report('task-gone', 'failed');
  assert.equal(rejectCounts()['grpc:foreign-task-status'], before + 1);
});

test('network attachments: an address from the allocator on an attachable overlay, refused elsewhere, given back on detach, only by their node', async (t) => {
  const { store, as } = await startDispatcher(t);
  const allocator = new AllocatorController({ store, clusterId: CLUSTER, log: createLogger('silent') });
  allocator.start();
  t.after(() => allocator.stop());
  await store.update((tx) => {
    const app = sampleNetwork('net-app', 'app', { subnets: ['10.0.9.0/24'] });
    tx.create('network', { ...app, spec: { ...app.spec, attachable: true } });
    tx.create('network', sampleNetwork('net-plain', 'plain', { subnets: ['10.0.8.0/24'] }));
  });
  const w1 = await as('w1');
  const w2 = await as('w2');
  const c1 = '1'.repeat(64);

  const a = await w1.attach('app', c1, ['db']);
  assert.equal(a.address, '10.0.9.2/24', 'the lowest free address after the gateway');
  assert.equal(a.network?.id, 'net-app');
  assert.ok((a.network?.vni ?? 0) > 0, 'the network comes allocated, for the overlay');
  const task = store.view((tx) => tx.get('task', a.attachmentId));
  assert.deepEqual(task?.attachment, { containerId: c1 });
  assert.equal(task?.nodeId, 'w1');
  assert.equal(task?.status.state, 'assigned');
  assert.deepEqual(task?.networks[0]?.aliases, ['db']);
  const again = await w1.attach('app', c1);
  assert.equal(again.attachmentId, a.attachmentId, 'a retried attach finds the same attachment');

  const code = (c: grpc.status, re: RegExp) => (err: grpc.ServiceError) => {
    assert.equal(err.code, c, err.details);
    assert.match(err.details, re);
    return true;
  };
  await assert.rejects(
    w1.attach('plain', c1),
    code(grpc.status.FAILED_PRECONDITION, /network plain is not manually attachable/),
  );
  await assert.rejects(w1.attach('nope', c1), code(grpc.status.NOT_FOUND, /network nope not found/));
  await assert.rejects(w1.attach('app', 'xyz'), code(grpc.status.INVALID_ARGUMENT, /invalid container id/));
  await assert.rejects(
    w2.detach(a.attachmentId),
    code(grpc.status.PERMISSION_DENIED, /only its own network attachments/),
  );

  const b = await w2.attach('app', '2'.repeat(64));
  assert.equal(b.address, '10.0.9.3/24');
  await w1.detach(a.attachmentId);
  assert.equal(
    store.view((tx) => tx.get('task', a.attachmentId)),
    undefined,
  );
  await w1.detach(a.attachmentId); // a retried detach: already gone
  const c = await w1.attach('app', '3'.repeat(64));
  assert.equal(c.address, '10.0.9.2/24', 'the detached address is handed out again');
});

test('overlay IPsec keys reach only the nodes with tasks on an encrypted network, and a rotation reaches them', async (t) => {
  const { store, as } = await startDispatcher(t);
  const enc = sampleNetwork('net-enc', 'secure', { vni: 4200, subnets: ['10.0.42.0/24'] });
  await store.update((tx) => {
    tx.create('network', { ...enc, spec: { ...enc.spec, options: { encrypted: '' } } });
    tx.create('network', sampleNetwork('net-plain', 'plain', { vni: 4201, subnets: ['10.0.43.0/24'] }));
    tx.create('node', sampleNode('w3'));
    const on = (id: string) => [{ networkId: id, addresses: [], aliases: [] }];
    tx.update('task', { ...tx.get('task', 'task-of-w1')!, networks: on('net-enc') });
    tx.update('task', { ...tx.get('task', 'task-of-w2')!, networks: on('net-plain') });
  });
  const keys = new KeyManager({
    store,
    clusterId: CLUSTER,
    log: createLogger('silent'),
    overlayRotationMs: 600_000,
    overlayOverlapMs: 50,
  });
  t.after(() => keys.stop());
  keys.start(); // makes the cluster's first overlay key
  await eventually('the first key', () => store.view((tx) => tx.get('cluster', CLUSTER))?.overlayKeys);
  const [w1, w2, w3] = [await as('w1'), await as('w2'), await as('w3')];
  const last = (w: { messages: SessionMessage__Output[] }) => {
    const m = w.messages.at(-1);
    return m ? `${m.overlayKeys.map((k) => k.id).join(',')}/${m.overlayPrimaryKey}` : 'none';
  };
  await eventually('w1 has key 1', () => last(w1) === '1/1');
  assert.equal(last(w2), '/0', 'a task on a plain network only: no key');
  assert.equal(last(w3), '/0', 'no task at all: no key');
  assert.equal(w1.messages.at(-1)!.overlayKeys[0]!.key.length, 20);

  // A task on the encrypted network lands on w2: its session is sent the keys.
  await store.update((tx) =>
    tx.create(
      'task',
      sampleTask('task2-of-w2', 'w2', 'assigned', {
        networks: [{ networkId: 'net-enc', addresses: [], aliases: [] }],
      }),
    ),
  );
  await eventually('w2 has key 1', () => last(w2) === '1/1');

  // A rotation, its three steps 50 ms apart, reaches both; each node sees the new key accepted before
  // it becomes the primary, and the old one retired only after.
  const before = [w1.messages.length, w2.messages.length];
  await keys.rotateOverlayKeys();
  for (const [i, w] of [w1, w2].entries()) {
    await eventually('the rotation arrived', () => last(w) === '2/2');
    const steps = w.messages
      .slice(before[i])
      .map((m) => `${m.overlayKeys.map((k) => k.id).join(',')}/${m.overlayPrimaryKey}`);
    assert.deepEqual(steps, ['1,2/1', '2,1/2', '2/2']);
  }
  assert.ok(
    w3.messages.every((m) => m.overlayKeys.length === 0),
    'w3 never saw a key',
  );

  // w2's encrypted task ends: it is no longer sent the keys.
  await store.update((tx) =>
    tx.update('task', {
      ...tx.get('task', 'task2-of-w2')!,
      status: { state: 'complete', timestamp: '', message: '', err: '' },
    }),
  );
  await eventually('w2 keys withdrawn', () => last(w2) === '/0');
  assert.equal(last(w1), '2/2');
});
