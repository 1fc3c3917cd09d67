import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, MessageType } from '../types.js';
import { RaftTransport, type RaftTransportOptions } from './transport.js';
import { message, Recorder } from './test-fixtures.js';

async function pair(opts: Partial<RaftTransportOptions> = {}) {
  const a = new RaftTransport({ id: 1, listen: '127.0.0.1:0', ...opts });
  const b = new RaftTransport({ id: 2, listen: '127.0.0.1:0', ...opts });
  const ra = new Recorder();
  const rb = new Recorder();
  await a.start(ra);
  await b.start(rb);
  a.setPeer(2, b.address);
  b.setPeer(1, a.address);
  return { a, b, ra, rb, stop: () => Promise.all([a.stop(), b.stop()]) };
}

test('messages round-trip with every field intact, batched per send', async () => {
  const { a, b, rb, stop } = await pair();
  try {
    const big = 2 ** 40 + 7; // beyond 32 bits: uint64 fields must come back as exact numbers
    const entries = [
      { term: big, index: big + 1, type: EntryType.Normal, data: Buffer.from('hello') },
      { term: big, index: big + 2, type: EntryType.ConfChange, data: Buffer.from([0, 1, 2, 255]) },
    ];
    const sent = [
      message(MessageType.App, 1, 2, { entries, term: big, index: big, logTerm: big - 1, commit: big }),
      message(MessageType.AppResp, 1, 2, { reject: true, rejectHint: 17 }),
      message(MessageType.Heartbeat, 1, 2, { context: Buffer.from('ctx') }),
    ];
    a.send(sent);
    await rb.until(() => rb.received.length === 3);
    assert.equal(rb.batches, 1, 'one send of three messages should travel as one stream write');
    for (let i = 0; i < sent.length; i++) {
      const got = rb.received[i]!;
      const want = sent[i]!;
      assert.equal(got.type, want.type);
      assert.equal(got.term, want.term);
      assert.equal(got.logTerm, want.logTerm);
      assert.equal(got.index, want.index);
      assert.equal(got.commit, want.commit);
      assert.equal(got.reject, want.reject);
      assert.equal(got.rejectHint, want.rejectHint);
      assert.deepEqual([...got.context], [...want.context]);
      assert.equal(got.snapshot, undefined);
      assert.deepEqual(
        got.entries.map((e) => ({ ...e, data: [...e.data] })),
        want.entries.map((e) => ({ ...e, data: [...e.data] })),
      );
    }
    assert.equal(rb.addresses.get(1), a.address, 'the sender announces its address');
    b.send([message(MessageType.AppResp, 2, 1)]);
  } finally {
    await stop();
  }
});

test('snapshots travel in chunks and are reported', async () => {
  const { a, rb, ra, stop } = await pair({ snapshotChunkBytes: 1024 * 1024 });
  try {
    const data = Buffer.alloc(3.5 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    const snapshot = {
      metadata: { index: 900, term: 4, confState: { voters: [1, 2, 3], learners: [4] } },
      data,
    };
    a.send([message(MessageType.Snap, 1, 2, { snapshot }), message(MessageType.Heartbeat, 1, 2)]);
    await rb.until(() => rb.received.some((m) => m.type === MessageType.Snap));
    const got = rb.received.find((m) => m.type === MessageType.Snap)!;
    assert.deepEqual(got.snapshot!.metadata, snapshot.metadata);
    assert.ok(Buffer.from(got.snapshot!.data).equals(data), 'snapshot data must arrive byte for byte');
    await ra.until(() => ra.snapshotStatuses.length === 1);
    assert.deepEqual(ra.snapshotStatuses, [[2, true]]);
  } finally {
    await stop();
  }
});

test('an unreachable peer is reported, for messages and snapshots', async () => {
  const a = new RaftTransport({ id: 1, listen: '127.0.0.1:0' });
  const dead = new RaftTransport({ id: 3, listen: '127.0.0.1:0' });
  const ra = new Recorder();
  await a.start(ra);
  await dead.start(new Recorder());
  const deadAddr = dead.address;
  await dead.stop(); // nothing listens there any more
  try {
    a.setPeer(3, deadAddr);
    a.send([message(MessageType.App, 1, 3)]);
    await ra.until(() => ra.unreachables.includes(3));
    const snapshot = {
      metadata: { index: 5, term: 1, confState: { voters: [1], learners: [] } },
      data: Buffer.alloc(10),
    };
    a.send([message(MessageType.Snap, 1, 3, { snapshot })]);
    await ra.until(() => ra.snapshotStatuses.length === 1);
    assert.deepEqual(ra.snapshotStatuses, [[3, false]]);
    a.send([message(MessageType.App, 1, 9)]); // no address known at all
    assert.ok(ra.unreachables.includes(9));
  } finally {
    await a.stop();
  }
});

test('a full send queue drops the overflow and reports the peer instead of blocking', async () => {
  const { a, rb, ra, stop } = await pair({ maxQueuedMessages: 5 });
  try {
    const burst = Array.from({ length: 12 }, (_, i) => message(MessageType.App, 1, 2, { index: i }));
    a.send(burst);
    assert.deepEqual(ra.unreachables, [2]);
    await rb.until(() => rb.received.length >= 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      rb.received.map((m) => m.index),
      [0, 1, 2, 3, 4],
      'the oldest messages go out in order, the overflow is dropped',
    );
    assert.equal(a.peerStats(2)!.dropped, 7);
  } finally {
    await stop();
  }
});

test('every incoming call passes through authorize', async () => {
  const seen: string[] = [];
  const { a, rb, ra, stop } = await pair({
    authorize: async (call, method) => {
      seen.push(`${method} ${call.getPath()}`);
      return false;
    },
  });
  try {
    a.send([message(MessageType.App, 1, 2)]);
    await ra.until(() => ra.unreachables.includes(2));
    const snapshot = {
      metadata: { index: 5, term: 1, confState: { voters: [1], learners: [] } },
      data: Buffer.alloc(1),
    };
    a.send([message(MessageType.Snap, 1, 2, { snapshot })]);
    await ra.until(() => ra.snapshotStatuses.length === 1);
    assert.deepEqual(ra.snapshotStatuses, [[2, false]]);
    assert.equal(rb.received.length, 0, 'a denied caller delivers nothing');
    assert.ok(seen.includes('StreamMessages /swarmlite.raft.Raft/StreamMessages'));
    assert.ok(seen.includes('SendSnapshot /swarmlite.raft.Raft/SendSnapshot'));
  } finally {
    await stop();
  }
});
