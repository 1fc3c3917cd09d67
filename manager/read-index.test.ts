import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { afterReadIndex } from './read-index.js';

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
