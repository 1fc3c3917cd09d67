import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Action } from './actions.js';
import { InMemoryLog } from './in-memory-log.js';
import type { Node } from '../../api/objects/index.js';
import {
  batchBytes,
  createAction,
  newStore,
  newTestStore,
  sampleCluster,
  sampleManager,
  sampleNode,
} from './test-fixtures.js';

const AT = '2026-11-22T05:00:00.000Z';
const LATER = '2026-11-22T06:00:00.000Z';

function objectOf(node: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(node)) as Record<string, unknown>;
}

test('create stamps meta from the entry: version = raft index, times = the batch time', () => {
  const { store } = newTestStore();
  const outcome = store.applyCommitted(batchBytes([createAction('node', sampleNode('n1'))], 'r', AT), 7);
  assert.deepEqual(outcome, { ok: true, index: 7 });
  const n = store.view((tx) => tx.get('node', 'n1'));
  assert.deepEqual(n?.meta, { version: 7, createdAt: AT, updatedAt: AT });
  assert.equal(store.appliedIndex, 7);
});

test('update keeps createdAt, takes the new index and time; delete removes', () => {
  const { store } = newTestStore();
  store.applyCommitted(batchBytes([createAction('node', sampleNode('n1'))], 'r1', AT), 3);
  const changed = {
    ...objectOf(sampleNode('n1')),
    spec: { role: 'worker', availability: 'drain', labels: {} },
  };
  const upd: Action = { kind: 'node', op: 'update', object: changed, expectedVersion: 3 };
  assert.deepEqual(store.applyCommitted(batchBytes([upd], 'r2', LATER), 9), { ok: true, index: 9 });
  const n = store.view((tx) => tx.get('node', 'n1'));
  assert.equal(n?.spec.availability, 'drain');
  assert.deepEqual(n?.meta, { version: 9, createdAt: AT, updatedAt: LATER });

  const del: Action = { kind: 'node', op: 'delete', id: 'n1', expectedVersion: 9 };
  assert.deepEqual(store.applyCommitted(batchBytes([del], 'r3'), 10), { ok: true, index: 10 });
  assert.equal(
    store.view((tx) => tx.get('node', 'n1')),
    undefined,
  );
});

test('a meta sent by the writer is ignored: apply owns it', () => {
  const { store } = newTestStore();
  const forged = { ...objectOf(sampleNode('n1')), meta: { version: 999, createdAt: 'x', updatedAt: 'y' } };
  store.applyCommitted(batchBytes([{ kind: 'node', op: 'create', object: forged }], 'r', AT), 2);
  assert.deepEqual(
    store.view((tx) => tx.get('node', 'n1')?.meta),
    { version: 2, createdAt: AT, updatedAt: AT },
  );
  // Stored the same way as without a forged meta: id, meta, then the writer's fields in order.
  const { meta: _forged, ...plain } = forged;
  store.applyCommitted(batchBytes([{ kind: 'node', op: 'create', object: { ...plain, id: 'n2' } }]), 3);
  const keys = store.view((tx) => ['n1', 'n2'].map((id) => Object.keys(tx.get('node', id)!)));
  assert.deepEqual(keys[0], keys[1]);
  assert.deepEqual(keys[0].slice(0, 2), ['id', 'meta']);
});

// Starting state for the rejection table: n1 at version 1, n2 at version 2, cluster "prod" at 3.
function seeded() {
  const { store, logger } = newTestStore();
  store.applyCommitted(batchBytes([createAction('node', sampleNode('n1'))], 's1'), 1);
  store.applyCommitted(batchBytes([createAction('node', sampleNode('n2'))], 's2'), 2);
  store.applyCommitted(batchBytes([createAction('cluster', sampleCluster('c1', 'prod'))], 's3'), 3);
  return { store, logger };
}

const node = (id: string, patch: Partial<Node> = {}) => ({ ...objectOf(sampleNode(id)), ...patch });

const rejections: { name: string; actions: Action[]; code: string; message: RegExp }[] = [
  {
    name: 'create of an existing id',
    actions: [createAction('node', sampleNode('n1'))],
    code: 'exists',
    message: /node n1 already exists/,
  },
  {
    name: 'update of a missing object',
    actions: [{ kind: 'node', op: 'update', object: node('zz'), expectedVersion: 1 }],
    code: 'not-found',
    message: /node zz not found/,
  },
  {
    name: 'delete of a missing object',
    actions: [{ kind: 'node', op: 'delete', id: 'zz', expectedVersion: 1 }],
    code: 'not-found',
    message: /node zz not found/,
  },
  {
    name: 'update with a stale version',
    actions: [{ kind: 'node', op: 'update', object: node('n2'), expectedVersion: 1 }],
    code: 'sequence-conflict',
    message: /read version 1, now 2/,
  },
  {
    name: 'delete with a stale version',
    actions: [{ kind: 'node', op: 'delete', id: 'n1', expectedVersion: 0 }],
    code: 'sequence-conflict',
    message: /read version 0, now 1/,
  },
  {
    name: 'an object of the wrong shape',
    actions: [
      createAction('node', {
        ...sampleNode('n9'),
        spec: { role: 'boss', availability: 'active', labels: {} },
      }),
    ],
    code: 'invalid-object',
    message: /spec\.role: must be one of manager\|worker/,
  },
  {
    name: 'a second cluster with a taken name (case-insensitive)',
    actions: [createAction('cluster', sampleCluster('c2', 'PROD'))],
    code: 'name-conflict',
    message: /cluster name "prod" is already in use/,
  },
  {
    name: 'a good action followed by a bad one (atomic: the good one is undone too)',
    actions: [
      createAction('node', sampleNode('n3')),
      { kind: 'node', op: 'delete', id: 'n1', expectedVersion: 1 },
      { kind: 'node', op: 'update', object: node('n2', { role: 'manager' }), expectedVersion: 2 },
      { kind: 'node', op: 'update', object: node('n2'), expectedVersion: 2 },
    ],
    code: 'sequence-conflict',
    message: /node n2 changed since it was read \(read version 2, now 10\)/,
  },
];

for (const r of rejections) {
  test(`apply refuses the whole batch: ${r.name}`, () => {
    const { store } = seeded();
    const before = store.snapshot();
    const outcome = store.applyCommitted(batchBytes(r.actions, 'bad'), 10);
    assert.equal(outcome?.ok, false);
    assert.ok(outcome && !outcome.ok);
    assert.equal(outcome.error.code, r.code);
    assert.match(outcome.error.message, r.message);
    // Nothing changed but the applied index, and the indexes still agree with the rows.
    const after = JSON.parse(Buffer.from(store.snapshot()).toString()) as { index: number; objects: unknown };
    const was = JSON.parse(Buffer.from(before).toString()) as { index: number; objects: unknown };
    assert.deepEqual(after.objects, was.objects);
    assert.equal(after.index, 10);
    assert.deepEqual(
      store.view((tx) =>
        tx
          .find('node', 'role', 'worker')
          .map((n) => n.id)
          .sort(),
      ),
      ['n1', 'n2'],
    );
    assert.deepEqual(
      store.view((tx) => tx.find('cluster', 'name', 'prod').map((c) => c.id)),
      ['c1'],
    );
  });
}

test('unique names are checked on the batch result: two clusters may swap names in one batch', () => {
  const { store } = seeded();
  store.applyCommitted(batchBytes([createAction('cluster', sampleCluster('c2', 'dev'))], 'c2'), 4);
  const c1 = store.view((tx) => tx.get('cluster', 'c1'))!;
  const c2 = store.view((tx) => tx.get('cluster', 'c2'))!;
  const swap: Action[] = [
    {
      kind: 'cluster',
      op: 'update',
      object: { ...objectOf(c1), spec: { ...c1.spec, name: 'dev' } },
      expectedVersion: 3,
    },
    {
      kind: 'cluster',
      op: 'update',
      object: { ...objectOf(c2), spec: { ...c2.spec, name: 'prod' } },
      expectedVersion: 4,
    },
  ];
  assert.deepEqual(store.applyCommitted(batchBytes(swap, 'swap'), 5), { ok: true, index: 5 });
  assert.equal(
    store.view((tx) => tx.find('cluster', 'name', 'prod')[0]?.id),
    'c2',
  );
  assert.equal(
    store.view((tx) => tx.find('cluster', 'name', 'dev')[0]?.id),
    'c1',
  );
});

test('replicas fed the same entries (accepted, refused, malformed) end with identical snapshots', () => {
  const log = new InMemoryLog('sync');
  const a = newStore(log).store;
  const b = newStore(log).store;
  const entries: Uint8Array[] = [
    batchBytes([createAction('cluster', sampleCluster('c1'))], 'e1'),
    batchBytes([createAction('node', sampleManager('m1', 1)), createAction('node', sampleNode('w1'))], 'e2'),
    batchBytes([createAction('node', sampleNode('w1'))], 'e3'), // refused: exists
    new TextEncoder().encode('{"v":1,"requestId":"e4","at":"x","actions":[{"kind":"pony"}]}'), // malformed
    batchBytes(
      [{ kind: 'node', op: 'update', object: node('w1', { role: 'manager' }), expectedVersion: 2 }],
      'e5',
    ),
    batchBytes([{ kind: 'node', op: 'delete', id: 'm1', expectedVersion: 2 }], 'e6'),
    batchBytes([createAction('node', sampleNode('w2'))], 'e7'),
  ];
  for (const e of entries) void log.propose(e);
  const snapA = a.snapshot();
  assert.deepEqual(snapA, b.snapshot());
  // A third replica that joins late catches up from the log alone and agrees byte for byte.
  const c = newStore(log).store;
  assert.deepEqual(c.snapshot(), snapA);
  assert.deepEqual(a.view((tx) => tx.list('node').map((n) => [n.id, n.meta.version, n.role])).sort(), [
    ['w1', 5, 'manager'],
    ['w2', 7, 'worker'],
  ]);
});

test('entries at or below the applied index are ignored (a replay changes nothing)', () => {
  const { store, logger } = newTestStore();
  const bytes = batchBytes([createAction('node', sampleNode('n1'))], 'r');
  assert.deepEqual(store.applyCommitted(bytes, 4), { ok: true, index: 4 });
  const snap = store.snapshot();
  assert.equal(store.applyCommitted(bytes, 4), undefined);
  assert.equal(store.applyCommitted(batchBytes([createAction('node', sampleNode('n2'))]), 3), undefined);
  assert.deepEqual(store.snapshot(), snap);
  assert.equal(logger.lines.filter((l) => l.level === 'warn').length, 2);
});

test('an empty entry (a leader no-op) only consumes its index', () => {
  const { store } = newTestStore();
  assert.deepEqual(store.applyCommitted(new Uint8Array(0), 5), { ok: true, index: 5 });
  assert.equal(store.appliedIndex, 5);
  assert.equal(
    store.view((tx) => tx.list('node').length),
    0,
  );
});
