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
import { newTestStore, sampleCluster, sampleNode, sampleTask } from '../store/test-fixtures.js';
import { Dispatcher } from './dispatcher.js';

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
    const sessionId = await new Promise<string>((resolve, reject) => {
      stream.once('data', (msg: { sessionId: string }) => resolve(msg.sessionId));
      stream.once('error', reject);
    });
    const report = (taskId: string, state: string) =>
      unaryCalls(client, Dispatcher.service).updateTaskStatus(
        { sessionId, updates: [{ taskId, status: { state, timestamp: '', message: 'reported', err: '' } }] },
        10_000,
      );
    return { report };
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
