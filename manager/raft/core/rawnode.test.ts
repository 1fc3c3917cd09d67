import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageType, ProposalDroppedError, type Ready, Role } from '../types.js';
import { bootstrapStorage } from './bootstrap.js';
import { MemoryStorage } from './memory-storage.js';
import { RawNode } from './rawnode.js';
import { newMessage } from './util.js';

function singleNode(): { node: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage();
  bootstrapStorage(storage, [1]);
  const node = new RawNode({
    id: 1,
    electionTicks: 10,
    heartbeatTicks: 1,
    storage,
    applied: 1,
    maxSizePerMsg: 1 << 20,
    maxInflightMsgs: 256,
    preVote: true,
    checkQuorum: true,
    random: () => 0.5,
  });
  return { node, storage };
}

/** Persists a Ready into `storage` and acknowledges it, as a shell does. */
function handle(node: RawNode, storage: MemoryStorage): Ready {
  const rd = node.ready();
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  node.advance(rd);
  return rd;
}

test('rawnode: a single voter elects itself after a randomized timeout and commits alone', () => {
  const { node, storage } = singleNode();
  assert.throws(() => node.propose(new Uint8Array([1])), ProposalDroppedError);
  for (let i = 0; i < 14; i++) node.tick();
  assert.equal(node.status().role, Role.Follower, 'timeout is 10 + floor(0.5 * 10) = 15 ticks');
  node.tick();
  assert.equal(node.status().role, Role.PreCandidate, 'its own pre-vote counts once its Ready is handled');
  handle(node, storage);
  assert.equal(node.status().role, Role.Candidate);
  const vote = handle(node, storage);
  assert.deepEqual(vote.hardState, { term: 2, vote: 1, commit: 1 });
  assert.equal(vote.mustSync, true, 'the vote is durable before it counts');
  assert.equal(node.status().role, Role.Leader);
  node.propose(new TextEncoder().encode('a'));
  const rd = node.ready();
  assert.equal(rd.mustSync, true);
  assert.deepEqual(
    rd.entries.map((e) => e.index),
    [2, 3],
  );
  assert.deepEqual(rd.committedEntries, [], 'its own copy counts only once written');
  assert.throws(() => node.ready(), /before advance/);
  storage.append(rd.entries);
  node.advance(rd);
  const rd2 = node.ready();
  assert.equal(rd2.mustSync, false, 'only the commit index moved');
  assert.deepEqual(
    rd2.committedEntries.map((e) => e.index),
    [2, 3],
  );
  node.advance(rd2);
  assert.equal(node.hasReady(), false);
  assert.equal(node.status().applied, 3);
});

test('rawnode: stepping between ready() and advance() keeps both halves consistent', () => {
  const { node, storage } = singleNode();
  node.campaign();
  handle(node, storage); // pre-vote
  handle(node, storage); // vote: leader
  const rd1 = node.ready();
  node.propose(new TextEncoder().encode('during'));
  storage.append(rd1.entries);
  node.advance(rd1);
  const rd2 = node.ready();
  assert.deepEqual(
    rd2.entries.map((e) => e.index),
    [3],
    'only the entry appended after the first Ready',
  );
  assert.deepEqual(
    rd2.committedEntries.map((e) => e.index),
    [2],
    'the no-op, acknowledged by the first advance(); not 3, still unwritten',
  );
  storage.append(rd2.entries);
  node.advance(rd2);
  assert.deepEqual(
    node.ready().committedEntries.map((e) => e.index),
    [3],
  );
});

test('rawnode: local-only message types are refused from the network', () => {
  const { node } = singleNode();
  assert.throws(
    () => node.step(newMessage(MessageType.Hup, { from: 2, to: 1 })),
    /cannot come from the network/,
  );
});

test('rawnode: a forwarded proposal that bounces back to its proposer is dropped, not thrown', () => {
  // 1 forwarded its proposal to a leader that has since become a follower of 1's old leader-less
  // view; the message comes back to 1 over the network. Only a local propose() may throw.
  const { node } = singleNode();
  const bounced = newMessage(MessageType.Propose, {
    from: 1,
    to: 1,
    entries: [{ term: 0, index: 0, type: 0, data: new Uint8Array([1]) }],
  });
  assert.doesNotThrow(() => node.step(bounced));
  assert.equal(node.hasReady(), false);
});
