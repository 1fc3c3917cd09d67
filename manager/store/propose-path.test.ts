// The proposing store's own path: objects are serialized once when staged, and the proposer applies its
// staged batch instead of decoding the entry, but only when the committed bytes are the ones it sent.
// Every test compares the proposer with a follower that decodes the same log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, encodeBatch } from './actions.js';
import { MalformedEntryError } from './errors.js';
import { InMemoryLog } from './in-memory-log.js';
import { swarmSchema } from './indexes.js';
import type { SwarmObjects, Task } from '../../api/objects/index.js';
import { Store, type Proposer } from './store.js';
import {
  CapturingLogger,
  newStore,
  sampleCluster,
  sampleManager,
  sampleNode,
  steppingClock,
} from './test-fixtures.js';

const KINDS = new Set(Object.keys(swarmSchema));

/** A proposer store and a follower store applying one log. */
function pair(proposer: (log: InMemoryLog) => Proposer = (log) => log) {
  const log = new InMemoryLog('async');
  const leader = new Store({
    schema: swarmSchema,
    proposer: proposer(log),
    logger: new CapturingLogger(),
    now: steppingClock(),
  });
  log.attach(leader);
  const follower = newStore(log).store;
  return { log, leader, follower };
}

function sampleTask(id: string, nodeId = ''): Omit<Task, 'meta'> {
  return {
    id,
    serviceId: 'svc',
    slot: 1,
    nodeId,
    spec: {
      image: 'registry.example/team/web:1.2.3',
      env: ['MODE=production', 'LOG_LEVEL=info', 'PORT=8080'],
      resources: { reservations: { nanoCpus: 1e8, memoryBytes: 134217728 } },
    },
    specVersion: 1,
    serviceName: 'web',
    desiredState: 'running',
    status: { state: 'new', timestamp: '2026-11-22T05:00:00.000Z', message: '', err: '' },
    networks: [],
    endpoint: { ports: [], virtualIps: [] },
  } as unknown as Omit<Task, 'meta'>;
}

function assertReplicasEqual(a: Store<SwarmObjects>, b: Store<SwarmObjects>): void {
  assert.equal(a.appliedIndex, b.appliedIndex);
  assert.deepEqual(Buffer.from(a.snapshot()), Buffer.from(b.snapshot()));
  for (const kind of Object.keys(swarmSchema) as (keyof SwarmObjects)[]) {
    const ours = a.view((tx) => tx.list(kind)).sort((x, y) => (x.id < y.id ? -1 : 1));
    const theirs = b.view((tx) => tx.list(kind)).sort((x, y) => (x.id < y.id ? -1 : 1));
    // Strict equality down to key order (JSON text) and -0 vs 0 (deepStrictEqual uses Object.is).
    assert.deepStrictEqual(ours, theirs);
    assert.equal(JSON.stringify(ours), JSON.stringify(theirs));
  }
}

test('the proposer applies its staged objects: equal to what a follower decodes, down to key order', async () => {
  const { leader, follower } = pair();
  let staged: Task | undefined;
  await leader.update((tx) => {
    tx.create('cluster', sampleCluster('c1'));
    tx.create('node', sampleManager('m1', 1));
    tx.create('node', sampleNode('w1'));
    // Key order differs from the stored form (id first, then meta); undefined fields are dropped.
    staged = tx.create('task', { ...sampleTask('t1'), id: 't1', extra: undefined } as Omit<Task, 'meta'>);
  });
  assertReplicasEqual(leader, follower);
  const stored = leader.view((tx) => tx.get('task', 't1'))!;
  // The proposer kept its staged (frozen) subtrees instead of parsing the entry again...
  assert.equal(stored.spec, staged!.spec);
  assert.notEqual(follower.view((tx) => tx.get('task', 't1'))!.spec, stored.spec);
  assert.ok(Object.isFrozen(stored) && Object.isFrozen(stored.meta) && Object.isFrozen(stored.spec));
  assert.equal(Object.hasOwn(stored, 'extra'), false);

  // ...and keeps doing so for updates and deletes, in one batch and across batches.
  await leader.update((tx) => {
    const t = tx.get('task', 't1')!;
    tx.update('task', { ...t, nodeId: 'w1', status: { ...t.status, state: 'assigned' } });
    const w = tx.get('node', 'w1')!;
    tx.update('node', { ...w, spec: { ...w.spec, labels: { zone: 'a' } } });
    tx.delete('node', 'm1');
  });
  assertReplicasEqual(leader, follower);
  assert.deepEqual(
    leader.view((tx) => tx.find('task', 'node', 'w1')).map((t) => t.id),
    ['t1'],
  );
  // The unchanged spec was neither serialized nor parsed again: the stored task still holds the first copy.
  assert.equal(leader.view((tx) => tx.get('task', 't1'))!.spec, staged!.spec);
});

test('a proposal committed with other bytes is decoded: the proposer applies what was committed', async () => {
  // A proposer that changes the entry on its way (as a log would if it ever handed back other bytes):
  // same request id, different labels.
  const { leader, follower } = pair((log) => ({
    propose: (data) => {
      const text = new TextDecoder().decode(data).replace('"labels":{}', '"labels":{"zone":"committed"}');
      return log.propose(new TextEncoder().encode(text));
    },
  }));
  let staged: SwarmObjects['node'] | undefined;
  await leader.update((tx) => {
    staged = tx.create('node', sampleNode('w1'));
  });
  const stored = leader.view((tx) => tx.get('node', 'w1'))!;
  assert.deepEqual(stored.spec.labels, { zone: 'committed' });
  assert.deepEqual(staged!.spec.labels, {});
  assert.notEqual(stored.description, staged!.description);
  assertReplicasEqual(leader, follower);
});

test('the staged batch goes through every check decoding does: a malformed batch is refused alike', async () => {
  const { leader, follower } = pair();
  // The transaction accepts any non-empty id; the entry format bounds it, so apply must refuse it
  // on the proposer exactly as on the follower.
  await assert.rejects(
    leader.update((tx) => tx.create('node', sampleNode('x'.repeat(300)))),
    MalformedEntryError,
  );
  assert.equal(leader.view((tx) => tx.list('node')).length, 0);
  assertReplicasEqual(leader, follower);
  // A conflict found only at apply (two writers read the same version) is refused alike too.
  await leader.update((tx) => tx.create('node', sampleNode('w1')));
  const bump = (zone: string) =>
    leader.update((tx) => {
      const w = tx.get('node', 'w1')!;
      tx.update('node', { ...w, spec: { ...w.spec, labels: { zone } } });
    });
  const results = await Promise.allSettled([bump('a'), bump('b')]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected'],
  );
  assertReplicasEqual(leader, follower);
});

test('entry bytes are JSON.stringify of the batch, and decode back to the staged actions', async () => {
  const log = new InMemoryLog('sync');
  const { store } = newStore(log);
  await store.update((tx) => {
    tx.create('node', sampleNode('w1'));
    tx.create('task', sampleTask('t1'));
  });
  await store.update((tx) => {
    const w = tx.get('node', 'w1')!;
    tx.update('node', { ...w, role: 'manager' });
    tx.delete('task', 't1');
  });
  for (const { data } of log.entries) {
    const decoded = decodeBatch(data, KINDS);
    assert.ok(decoded.ok);
    assert.deepEqual(Buffer.from(encodeBatch(decoded.batch)), Buffer.from(data));
    assert.equal(new TextDecoder().decode(data), JSON.stringify(decoded.batch));
  }
});
