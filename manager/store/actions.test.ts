import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, encodeBatchOf, peekRequestId } from './actions.js';
import { MalformedEntryError } from './errors.js';
import { swarmSchema } from './indexes.js';
import type { SwarmObjects } from '../../api/objects/index.js';
import { Store } from './store.js';
import { batchBytes, CapturingLogger, createAction, newTestStore, sampleNode } from './test-fixtures.js';

const text = (s: string) => new TextEncoder().encode(s);
const envelope = (actions: unknown, extra: object = {}) =>
  text(JSON.stringify({ v: 1, requestId: 'r', at: '2026-11-22T05:00:00.000Z', actions, ...extra }));

const malformed: { name: string; bytes: Uint8Array; reason: RegExp }[] = [
  { name: 'invalid UTF-8', bytes: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), reason: /not UTF-8 JSON/ },
  { name: 'not JSON', bytes: text('{"v":1,'), reason: /not UTF-8 JSON/ },
  { name: 'a JSON array', bytes: text('[1,2]'), reason: /not a JSON object/ },
  { name: 'JSON null', bytes: text('null'), reason: /not a JSON object/ },
  { name: 'a future format version', bytes: envelope([], { v: 2 }), reason: /format version 2/ },
  { name: 'no request id', bytes: envelope([], { requestId: '' }), reason: /requestId/ },
  { name: 'no batch time', bytes: envelope([], { at: 5 }), reason: /at: must be/ },
  { name: 'actions not an array', bytes: envelope({}), reason: /actions: must be an array/ },
  { name: 'an action that is not an object', bytes: envelope([7]), reason: /actions\[0\]: not an object/ },
  {
    name: 'an unknown kind',
    bytes: envelope([{ kind: 'secret', op: 'create', object: { id: 'x' } }]),
    reason: /unknown kind "secret"/,
  },
  {
    name: 'a kind named like an Object property',
    bytes: envelope([{ kind: 'toString', op: 'create', object: { id: 'x' } }]),
    reason: /unknown kind/,
  },
  {
    name: 'an unknown op',
    bytes: envelope([{ kind: 'node', op: 'upsert', object: { id: 'x' } }]),
    reason: /unknown op "upsert"/,
  },
  {
    name: 'update without a version',
    bytes: envelope([{ kind: 'node', op: 'update', object: { id: 'x' } }]),
    reason: /expectedVersion/,
  },
  {
    name: 'a negative version',
    bytes: envelope([{ kind: 'node', op: 'delete', id: 'x', expectedVersion: -1 }]),
    reason: /expectedVersion/,
  },
  {
    name: 'delete without an id',
    bytes: envelope([{ kind: 'node', op: 'delete', expectedVersion: 1 }]),
    reason: /id: must be/,
  },
  {
    name: 'an object without an id',
    bytes: envelope([{ kind: 'node', op: 'create', object: { spec: {} } }]),
    reason: /object\.id/,
  },
  {
    name: 'an over-long id',
    bytes: envelope([{ kind: 'node', op: 'create', object: { id: 'x'.repeat(300) } }]),
    reason: /object\.id/,
  },
  {
    name: 'a second, bad action after a good one',
    bytes: envelope([{ kind: 'node', op: 'delete', id: 'x', expectedVersion: 1 }, null]),
    reason: /actions\[1\]/,
  },
];

for (const m of malformed) {
  test(`malformed entry is logged and skipped, never thrown: ${m.name}`, () => {
    const { store, logger } = newTestStore();
    store.applyCommitted(batchBytes([createAction('node', sampleNode('n1'))], 'ok'), 1);
    const before = store.snapshot();
    const outcome = store.applyCommitted(m.bytes, 2);
    assert.ok(outcome && !outcome.ok);
    assert.equal(outcome.error.code, 'malformed-entry');
    assert.match(outcome.error.message, m.reason);
    const errors = logger.lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1);
    assert.match((errors[0]!.fields as { reason: string }).reason, m.reason);
    // State untouched except the consumed index, and the next good entry applies normally.
    assert.equal(store.appliedIndex, 2);
    assert.deepEqual(
      JSON.parse(Buffer.from(store.snapshot()).toString()).objects,
      JSON.parse(Buffer.from(before).toString()).objects,
    );
    assert.equal(
      store.applyCommitted(batchBytes([createAction('node', sampleNode('n2'))], 'ok2'), 3)?.ok,
      true,
    );
  });
}

test('decodeBatch keeps the request id of a malformed batch so its proposer can be told', () => {
  const decoded = decodeBatch(envelope([{ kind: 'node' }], { requestId: 'abc' }), new Set(['node']));
  assert.deepEqual(decoded.ok ? undefined : decoded.requestId, 'abc');
});

test('a proposal that reaches the log malformed fails its update() with MalformedEntryError', async () => {
  // A proposer that breaks the envelope on the way (as a buggy or newer proposer might).
  let index = 0;
  const logger = new CapturingLogger();
  const store: Store<SwarmObjects> = new Store({
    schema: swarmSchema,
    logger,
    proposer: {
      propose: async (data: Uint8Array) => {
        const batch = JSON.parse(Buffer.from(data).toString()) as { v: number };
        batch.v = 99;
        store.applyCommitted(text(JSON.stringify(batch)), ++index);
      },
    },
  });
  await assert.rejects(
    store.update((tx) => tx.create('node', sampleNode('n1'))),
    (err) => err instanceof MalformedEntryError && /format version 99/.test(err.message),
  );
  assert.equal(
    store.view((tx) => tx.get('node', 'n1')),
    undefined,
  );
});

test('peekRequestId reads the id from the bytes encodeBatchOf writes, and gives up on anything else', () => {
  const at = '2026-11-22T05:00:00.000Z';
  const of = (requestId: string) => encodeBatchOf({ v: 1, requestId, at }, []);
  assert.equal(peekRequestId(of('0f3a')), '0f3a');
  assert.equal(peekRequestId(of('zé✓')), 'zé✓');
  // An id JSON escapes is not read (the caller then decodes the entry): never a wrong id.
  assert.equal(peekRequestId(of('a"b')), undefined);
  assert.equal(peekRequestId(of('a\\b')), undefined);
  assert.equal(peekRequestId(of('')), undefined);
  assert.equal(peekRequestId(envelope([], { requestId: 'r' })), 'r');
  assert.equal(peekRequestId(text(JSON.stringify({ requestId: 'r', v: 1, at, actions: [] }))), undefined);
  assert.equal(peekRequestId(text('{"v":1,"requestId":"unterminated')), undefined);
  assert.equal(peekRequestId(new Uint8Array()), undefined);
});
