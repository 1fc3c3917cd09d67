// The leader's own copy of an entry counts toward a quorum only once it is durable. A shell may send a
// Ready's AppendEntries while the leader's write of the same entries is still in flight (that is what
// makes replication run in parallel with the leader's fsync), so the commit index those messages carry
// must not count the leader's unwritten copy. With one voter and a learner (the join path: bootstrap
// one member, then add a learner) a premature self-count lets the learner apply an entry that no voter
// holds on disk; the leader then crashes, rewrites that index in a new term, and the learner has
// silently diverged.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfChangeType, type Entry, EntryType, type Message, type RaftId, Role } from '../types.js';
import { bootstrapStorage } from './bootstrap.js';
import { decodeConfChange } from './confchange.js';
import { MemoryStorage } from './memory-storage.js';
import type { RawNode } from './rawnode.js';
import { testRawNode } from './test-raw-node.js';

interface Member {
  id: RaftId;
  storage: MemoryStorage;
  raw: RawNode;
  applied: Entry[];
}

function member(id: RaftId, bootstrap: boolean): Member {
  const storage = new MemoryStorage();
  if (bootstrap) bootstrapStorage(storage, [id]);
  return { id, storage, raw: newRaw(id, storage), applied: [] };
}

const newRaw = (id: RaftId, storage: MemoryStorage): RawNode => testRawNode(id, storage);

/** A complete Ready cycle as the synchronous contract has it: persist, then send, apply, advance. */
function handleReady(m: Member): Message[] {
  if (!m.raw.hasReady()) return [];
  const rd = m.raw.ready();
  if (rd.snapshot) m.storage.applySnapshot(rd.snapshot);
  m.storage.append(rd.entries);
  if (rd.hardState) m.storage.setHardState(rd.hardState);
  for (const e of rd.committedEntries) {
    m.applied.push(e);
    if (e.type === EntryType.ConfChange) m.raw.applyConfChange(decodeConfChange(e.data));
  }
  m.raw.advance(rd);
  return rd.messages;
}

function stabilize(members: Member[]): void {
  const byId = new Map(members.map((m) => [m.id, m]));
  for (let round = 0; round < 100; round++) {
    const mail = members.flatMap(handleReady);
    if (mail.length === 0 && !members.some((m) => m.raw.hasReady())) return;
    for (const msg of mail) byId.get(msg.to)?.raw.step(msg);
  }
  throw new Error('did not settle');
}

const enc = new TextEncoder();

test('self-ack: with one voter and a learner, the learner applies only entries a voter holds on disk', () => {
  const leader = member(1, true);
  const learner = member(2, false);
  leader.raw.campaign();
  stabilize([leader, learner]);
  assert.equal(leader.raw.status().role, Role.Leader);
  assert.equal(leader.raw.status().term, 2);
  leader.raw.proposeConfChange({ type: ConfChangeType.AddLearner, id: 2, context: new Uint8Array(0) });
  stabilize([leader, learner]);
  leader.raw.tick(); // the heartbeat that makes the learner known and starts its catch-up
  stabilize([leader, learner]);
  assert.deepEqual(leader.raw.status().confState, { voters: [1], learners: [2] });
  assert.equal(learner.raw.status().applied, 3, 'the learner caught up to the conf change at 3');

  // Entry 4 of term 2. The shell sends the Ready's messages before its own write of the entry, as the
  // leader is allowed to; then the leader dies before the write lands.
  leader.raw.propose(enc.encode('x'));
  const rd = leader.raw.ready();
  assert.deepEqual(
    rd.entries.map((e) => `${e.index}@${e.term}`),
    ['4@2'],
  );
  for (const msg of rd.messages) if (msg.to === 2) learner.raw.step(msg);
  handleReady(learner);
  const durable = leader.storage.lastIndex();
  for (const e of learner.applied) {
    assert.ok(
      e.index <= durable,
      `learner applied ${e.index}@${e.term}; the only voter's disk ends at ${durable}`,
    );
  }

  // The crash: the unwritten entry is gone. The restarted leader writes its no-op of term 3 at 4.
  leader.raw = newRaw(1, leader.storage);
  stabilize([leader]); // re-applies its committed log (the learner's addition) before campaigning
  leader.raw.campaign();
  stabilize([leader, learner]);
  leader.raw.propose(enc.encode('y'));
  stabilize([leader, learner]);
  const committed = leader.raw.status().commit;
  assert.equal(learner.raw.status().applied, committed, 'the learner keeps up with the leader');
  const leaderLog = new Map(leader.storage.entries(2, committed + 1, Infinity).map((e) => [e.index, e]));
  for (const e of learner.applied) {
    const mine = leaderLog.get(e.index);
    assert.equal(`${e.index}@${e.term}`, mine && `${mine.index}@${mine.term}`, 'learner diverged');
  }
});

test('self-ack: a single voter commits its entry only after advance() reports it durable', () => {
  const leader = member(1, true);
  leader.raw.campaign();
  stabilize([leader]);
  leader.raw.propose(enc.encode('a'));
  const rd = leader.raw.ready();
  assert.deepEqual(
    rd.entries.map((e) => e.index),
    [3],
  );
  assert.deepEqual(rd.committedEntries, [], 'nothing is committed on an unwritten copy');
  assert.equal(rd.hardState, undefined, 'the commit index did not move');
  leader.storage.append(rd.entries);
  leader.raw.advance(rd);
  const next = leader.raw.ready();
  assert.equal(next.hardState?.commit, 3);
  assert.deepEqual(
    next.committedEntries.map((e) => e.index),
    [3],
  );
});
