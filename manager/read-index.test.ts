import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { afterReadIndex, leaderOrLocalRead, readConsistency } from './read-index.js';
import { startMember, threeMembers, type Member } from './raft/node/test-members.js';
import { eventually as until } from '../test/support.js';

test('a control call runs only after the ReadIndex it waits for has resolved', async () => {
  const order: string[] = [];
  let release!: () => void;
  const raft = {
    readIndex: () => {
      order.push('read-index');
      return new Promise<void>((r) => (release = r));
    },
  };
  const handlers = afterReadIndex(raft, {
    GetService: async (req: { ref: string }, caller: string) => {
      order.push(`get ${req.ref} for ${caller}`);
      return { ref: req.ref };
    },
  });
  const pending = handlers.GetService({ ref: 'web' }, 'node1');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['read-index'], 'the store is not read before the barrier');
  release();
  assert.deepEqual(await pending, { ref: 'web' });
  assert.deepEqual(order, ['read-index', 'get web for node1']);
});

test('a leadership that cannot be confirmed fails the call as UNAVAILABLE without running it', async () => {
  let ran = false;
  const raft = { readIndex: () => Promise.reject(new Error('raft: not the leader')) };
  const handlers = afterReadIndex(raft, {
    ListServices: async () => {
      ran = true;
      return {};
    },
  });
  await assert.rejects(handlers.ListServices(), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.message, /could not confirm .* leads the swarm \(raft: not the leader\)/);
    return true;
  });
  assert.equal(ran, false);
});

test('a read asking for local consistency runs at once, without the ReadIndex; a write cannot ask', async () => {
  let barriers = 0;
  const raft = {
    readIndex: () => {
      barriers++;
      return Promise.reject(new Error('raft: no leader'));
    },
  };
  const handlers = afterReadIndex(raft, {
    ListServices: async (req: { consistency?: string }) => ({ asked: req.consistency }),
    CreateService: async (req: { spec: string }) => ({ created: req.spec }),
  });
  assert.deepEqual(await handlers.ListServices({ consistency: 'local' }), { asked: 'local' });
  assert.equal(barriers, 0);
  for (const consistency of [undefined, '', 'linearizable']) {
    await assert.rejects(handlers.ListServices({ consistency }), { code: grpc.status.UNAVAILABLE });
  }
  await assert.rejects(handlers.CreateService({ spec: 'web' }), { code: grpc.status.UNAVAILABLE });
  assert.equal(barriers, 4);
});

test('a consistency other than linearizable or local is refused as INVALID_ARGUMENT before anything runs', async () => {
  let ran = false;
  const raft = { readIndex: () => Promise.resolve() };
  const handlers = afterReadIndex(raft, {
    ListNodes: async (_req: { consistency?: unknown }) => {
      ran = true;
      return {};
    },
  });
  for (const consistency of ['LOCAL', 'stale', ' local', 1]) {
    await assert.rejects(handlers.ListNodes({ consistency }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.message, /invalid consistency .*: use linearizable or local/);
      return true;
    });
    assert.throws(() => readConsistency({ consistency }), { code: grpc.status.INVALID_ARGUMENT });
  }
  assert.equal(ran, false);
});

test('on the manager port a follower serves local reads and redirects the rest to the leader', async () => {
  const follower = { isLeader: () => false, leaderAddr: () => '10.0.0.1:2377' };
  const served: unknown[] = [];
  const handler = leaderOrLocalRead<{ consistency?: string }, string>(follower, (call, callback) => {
    served.push(call.request);
    callback(null, 'from this store');
  });
  const call = (request: { consistency?: string }) =>
    new Promise<string | undefined>((resolve, reject) =>
      handler({ request } as grpc.ServerUnaryCall<{ consistency?: string }, string>, (err, res) =>
        err ? reject(err) : resolve(res ?? undefined),
      ),
    );
  assert.equal(await call({ consistency: 'local' }), 'from this store');
  await assert.rejects(call({}), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
    assert.match(err.message, /the leader is 10\.0\.0\.1:2377/);
    return true;
  });
  await assert.rejects(call({ consistency: 'linearizable' }), { code: grpc.status.FAILED_PRECONDITION });
  await assert.rejects(call({ consistency: 'nearby' }), { code: grpc.status.INVALID_ARGUMENT });
  assert.deepEqual(served, [{ consistency: 'local' }]);
});

test('a leader cut off from the others: its local read is stale, its default read fails instead', async () => {
  // Real RaftNodes on loopback gRPC. The leader is cut off both ways: the others' calls to it are
  // refused (authorize) and its own calls fail their TLS handshake against the others' plain ports.
  const cut = new Set<number>();
  const { boot, members, leader, stop } = await threeMembers(undefined, (id) => () => !cut.has(id));
  const others = members.filter((m) => m !== leader);
  const reopened: Member[] = [];
  const reads = afterReadIndex(leader.node, {
    ListItems: async (_req: { consistency?: string }) => leader.sm.items.slice(),
  });
  try {
    await leader.node.propose(Buffer.from('a'));
    assert.deepEqual(await reads.ListItems({}), ['a']);
    cut.add(leader.id);
    leader.node.updateChannelCredentials(grpc.credentials.createSsl());
    // Restarted, the other two open new streams (refused by the cut-off leader) and elect one of them.
    for (const m of others) {
      await m.node.stop();
      reopened.push(await startMember(m.id, boot, undefined, m));
    }
    const newLeader = await until('a new leader among the others', () =>
      reopened.find((m) => m.node.isLeader),
    );
    await newLeader.node.propose(Buffer.from('b')); // acknowledged: committed by the new quorum
    assert.deepEqual(newLeader.sm.items, ['a', 'b']);

    assert.deepEqual(await reads.ListItems({ consistency: 'local' }), ['a'], 'the local read is stale');
    await assert.rejects(reads.ListItems({}), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.message, /could not confirm with a quorum/);
      return true;
    });
    await assert.rejects(reads.ListItems({ consistency: 'linearizable' }), { code: grpc.status.UNAVAILABLE });
  } finally {
    await leader.node.stop();
    await Promise.all(reopened.map((m) => m.node.stop()));
    await stop().catch(() => {});
  }
});
