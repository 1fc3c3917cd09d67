import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProposalTooLargeError, SequenceConflictError, UnknownOutcomeError } from './errors.js';
import { InMemoryLog } from './in-memory-log.js';
import { swarmSchema } from './indexes.js';
import type { SwarmObjects } from '../../api/objects/index.js';
import { Store, type Proposer } from './store.js';
import type { StateMachine } from '../raft/node/state-machine.js';
import { EntryType } from '../raft/types.js';
import { CapturingLogger, newStore, newTestStore, sampleNode } from './test-fixtures.js';

test('update() resolves once applied, with the commit index and the callback value', async () => {
  const { store } = newTestStore('async');
  const r = await store.update((tx) => tx.create('node', sampleNode('n1')).id);
  assert.deepEqual(r, { index: 1, value: 'n1' });
  assert.equal(
    store.view((tx) => tx.get('node', 'n1')?.meta.version),
    1,
  );
});

test('two writers race to update the same node: exactly one wins, the other gets SequenceConflictError', async () => {
  const { store } = newTestStore('async');
  await store.update((tx) => tx.create('node', sampleNode('n1')));
  // Both transactions read version 1 before either commits; the log orders them.
  const drain = store.update((tx) => {
    const n = tx.get('node', 'n1')!;
    tx.update('node', { ...n, spec: { ...n.spec, availability: 'drain' } });
  });
  const label = store.update((tx) => {
    const n = tx.get('node', 'n1')!;
    tx.update('node', { ...n, spec: { ...n.spec, labels: { zone: 'b' } } });
  });
  const [first, second] = await Promise.allSettled([drain, label]);
  assert.equal(first.status, 'fulfilled');
  assert.equal(second.status, 'rejected');
  assert.ok(second.status === 'rejected' && second.reason instanceof SequenceConflictError);
  const n = store.view((tx) => tx.get('node', 'n1'))!;
  assert.equal(n.spec.availability, 'drain');
  assert.deepEqual(n.spec.labels, {});
  assert.equal(n.meta.version, 2);
});

test('writers on two managers race through one log: one wins everywhere, the loser learns it on its own manager', async () => {
  const log = new InMemoryLog('async');
  const a = newStore(log).store;
  const b = newStore(log).store;
  await a.update((tx) => tx.create('node', sampleNode('n1')));
  const promote = (store: Store<SwarmObjects>) =>
    store.update((tx) => tx.update('node', { ...tx.get('node', 'n1')!, role: 'manager' }));
  const results = await Promise.allSettled([promote(a), promote(b)]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected'],
  );
  assert.deepEqual(a.snapshot(), b.snapshot());
});

test('a retry loop on SequenceConflictError converges: 10 concurrent increments all land', async () => {
  const { store } = newTestStore('async');
  await store.update((tx) =>
    tx.create(
      'node',
      sampleNode('n1', { spec: { role: 'worker', availability: 'active', labels: { n: '0' } } }),
    ),
  );
  let conflicts = 0;
  const increment = async () => {
    for (;;) {
      try {
        return await store.update((tx) => {
          const n = tx.get('node', 'n1')!;
          tx.update('node', {
            ...n,
            spec: { ...n.spec, labels: { n: String(Number(n.spec.labels.n) + 1) } },
          });
        });
      } catch (err) {
        if (!(err instanceof SequenceConflictError)) throw err;
        conflicts++;
      }
    }
  };
  await Promise.all(Array.from({ length: 10 }, increment));
  assert.equal(
    store.view((tx) => tx.get('node', 'n1')!.spec.labels.n),
    '10',
  );
  assert.ok(conflicts > 0, 'the race really happened');
});

test('a transaction that stages nothing resolves at once without proposing', async () => {
  const { store, log } = newTestStore('manual');
  const r = await store.update((tx) => tx.list('node').length);
  assert.deepEqual(r, { index: 0, value: 0 });
  assert.equal(log.entries.length, 0);
});

test('an async transaction callback is refused and nothing is proposed', async () => {
  const { store, log } = newTestStore();
  await assert.rejects(
    store.update(async (tx) => tx.create('node', sampleNode('n1'))),
    /must be synchronous/,
  );
  // Its later use of the closed transaction fails quietly instead of as an unhandled rejection.
  await assert.rejects(
    store.update(async (tx) => {
      await Promise.resolve();
      tx.create('node', sampleNode('n2'));
    }),
    /must be synchronous/,
  );
  await new Promise((r) => setImmediate(r));
  assert.equal(log.entries.length, 0);
});

test('a batch over the size limit is refused before proposing', async () => {
  const log = new InMemoryLog('sync');
  const store = new Store({
    schema: swarmSchema,
    proposer: log,
    logger: new CapturingLogger(),
    maxProposalBytes: 4096,
  });
  log.attach(store);
  await assert.rejects(
    store.update((tx) => {
      for (let i = 0; i < 20; i++) tx.create('node', sampleNode(`n${i}`));
    }),
    ProposalTooLargeError,
  );
  assert.equal(log.entries.length, 0);
});

function storeWith(propose: (data: Uint8Array, store: Store<SwarmObjects>) => Promise<unknown>) {
  const store: Store<SwarmObjects> = new Store({
    schema: swarmSchema,
    logger: new CapturingLogger(),
    proposer: { propose: (data) => propose(data, store) } satisfies Proposer,
  });
  return store;
}

test("the proposer's error reaches the caller when the batch was not applied", async () => {
  const store = storeWith(async () => {
    throw new Error('raft: not leader');
  });
  await assert.rejects(
    store.update((tx) => tx.create('node', sampleNode('n1'))),
    /not leader/,
  );
});

test('a batch applied here wins over a proposer error that came after it', async () => {
  const store = storeWith(async (data, s) => {
    s.applyCommitted(data, 1);
    throw new Error('raft: timed out');
  });
  assert.deepEqual(await store.update((tx) => tx.create('node', sampleNode('n1')).id), {
    index: 1,
    value: 'n1',
  });
});

test('a proposer that resolves without applying here yields UnknownOutcomeError', async () => {
  const store = storeWith(async () => ({ index: 1 }));
  await assert.rejects(
    store.update((tx) => tx.create('node', sampleNode('n1'))),
    UnknownOutcomeError,
  );
});

test("request ids keep outcomes apart: another manager's identical batch does not answer ours", async () => {
  // Both stores stage the same create; only the first to commit succeeds, and each caller hears its own fate.
  const log = new InMemoryLog('async');
  const a = newStore(log).store;
  const b = newStore(log).store;
  const [ra, rb] = await Promise.allSettled([
    a.update((tx) => tx.create('node', sampleNode('n1'))),
    b.update((tx) => tx.create('node', sampleNode('n1'))),
  ]);
  assert.equal(ra.status, 'fulfilled');
  assert.ok(rb.status === 'rejected' && rb.reason.name === 'ExistsError');
});

test('update() stamps the proposer clock; apply never reads a clock', async () => {
  const { store, log } = newTestStore();
  await store.update((tx) => tx.create('node', sampleNode('n1')));
  const created = store.view((tx) => tx.get('node', 'n1'))!;
  await store.update((tx) => tx.update('node', { ...tx.get('node', 'n1')!, role: 'manager' }));
  const updated = store.view((tx) => tx.get('node', 'n1'))!;
  assert.equal(updated.meta.createdAt, created.meta.createdAt);
  assert.ok(updated.meta.updatedAt > created.meta.updatedAt);
  // Replaying the same log into a fresh replica later gives the very same timestamps.
  const replica = newTestStore().store;
  for (const e of log.entries) replica.applyCommitted(e.data, e.index);
  assert.deepEqual(replica.snapshot(), store.snapshot());
});

test("the store is the Raft node's state machine: apply(entry), snapshot(), restore()", () => {
  const { store } = newTestStore();
  // Type-level: a Store can be handed to RaftNode as its StateMachine without an adapter.
  const sm: StateMachine = store;
  const data = new TextEncoder().encode(
    JSON.stringify({
      v: 1,
      requestId: 'r',
      at: '2026-11-22T05:00:00.000Z',
      actions: [{ kind: 'node', op: 'create', object: sampleNode('n1') }],
    }),
  );
  assert.deepEqual(sm.apply({ term: 2, index: 3, type: EntryType.Normal, data }), { ok: true, index: 3 });
  const other = newTestStore().store;
  (other as StateMachine).restore(sm.snapshot());
  assert.equal(
    other.view((tx) => tx.get('node', 'n1')?.meta.version),
    3,
  );
});
