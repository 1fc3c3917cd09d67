// The core with asynchronous storage writes (RaftConfig.asyncStorageWrites): what leaves at once and
// what waits in Ready.messagesAfterWrite for the write to land, that a quorum of followers commits while
// the leader's own write is still in flight, that a commit index costs no message of its own, and that
// a sole voter serves a ReadIndex only after its first commit in its term.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryType, type Message, MessageType, type RaftId, type Ready, Role } from '../types.js';
import { bootstrapStorage } from './bootstrap.js';
import { MemoryStorage } from './memory-storage.js';
import type { RawNode } from './rawnode.js';
import { testRawNode } from './test-raw-node.js';

const newRaw = (id: RaftId, storage: MemoryStorage, asyncStorageWrites: boolean): RawNode =>
  testRawNode(id, storage, { preVote: false, checkQuorum: false, asyncStorageWrites });

/** The shell's part up to advance(): the write handed to storage (the view reflects it), not landed. */
function handOff(raw: RawNode, storage: MemoryStorage): Ready {
  const rd = raw.ready();
  if (rd.snapshot) storage.applySnapshot(rd.snapshot);
  storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  raw.advance(rd);
  return rd;
}

const types = (ms: Message[]): string[] => ms.map((m) => `${MessageType[m.type]}→${m.to}`);
const data = new TextEncoder().encode('x');

function cluster(): { raws: Map<RaftId, RawNode>; stores: Map<RaftId, MemoryStorage> } {
  const raws = new Map<RaftId, RawNode>();
  const stores = new Map<RaftId, MemoryStorage>();
  for (const id of [1, 2, 3]) {
    const s = new MemoryStorage();
    bootstrapStorage(s, [1, 2, 3]);
    stores.set(id, s);
    raws.set(id, newRaw(id, s, true));
  }
  return { raws, stores };
}

/** Runs every member's Readies, releasing each write's acknowledgements at once (writes land at once). */
function settle(raws: Map<RaftId, RawNode>, stores: Map<RaftId, MemoryStorage>): void {
  for (let round = 0; round < 50; round++) {
    const mail: Message[] = [];
    for (const [id, raw] of raws) {
      if (!raw.hasReady()) continue;
      const rd = handOff(raw, stores.get(id)!);
      mail.push(...rd.messages, ...rd.messagesAfterWrite);
    }
    if (mail.length === 0) return;
    for (const m of mail) raws.get(m.to)!.step(m);
  }
  throw new Error('did not settle');
}

test('async writes: a candidate sends its votes at once and counts its own only once it is durable', () => {
  const s = new MemoryStorage();
  bootstrapStorage(s, [1]);
  const raw = newRaw(1, s, true);
  raw.campaign();
  const rd = handOff(raw, s);
  assert.equal(rd.hardState?.vote, 1);
  assert.deepEqual(types(rd.messagesAfterWrite), ['VoteResp→1']);
  assert.equal(raw.status().role, Role.Candidate, 'the vote is not on disk yet');
  raw.step(rd.messagesAfterWrite[0]);
  assert.equal(raw.status().role, Role.Leader);
});

test('async writes: followers acknowledge after their write; two followers commit while the leader still writes', () => {
  const { raws, stores } = cluster();
  raws.get(1)!.campaign();
  settle(raws, stores);
  assert.equal(raws.get(1)!.status().role, Role.Leader);
  const leader = raws.get(1)!;
  leader.propose(data);
  const rd = handOff(leader, stores.get(1)!);
  const index = rd.entries[0].index;
  assert.deepEqual(types(rd.messages), ['App→2', 'App→3'], 'replication leaves with the write in flight');
  assert.deepEqual(types(rd.messagesAfterWrite), ['AppResp→1'], 'its own acknowledgement waits');
  const ownAck = rd.messagesAfterWrite[0];
  for (const id of [2, 3]) {
    const f = raws.get(id)!;
    f.step(rd.messages.find((m) => m.to === id)!);
    const frd = handOff(f, stores.get(id)!);
    assert.deepEqual(types(frd.messages), [], `follower ${id} promises nothing before its write lands`);
    assert.deepEqual(types(frd.messagesAfterWrite), ['AppResp→1']);
    leader.step(frd.messagesAfterWrite[0]);
  }
  assert.equal(leader.status().commit, index, 'committed on the followers’ disks, the leader’s own pending');
  const after = handOff(leader, stores.get(1)!);
  assert.deepEqual(
    after.committedEntries.map((e) => e.index),
    [index],
  );
  assert.deepEqual(types(after.messages), [], 'no commit-only AppendEntries');
  leader.step(ownAck); // the leader's write lands late: nothing changes
  leader.propose(data);
  const next = handOff(leader, stores.get(1)!);
  assert.ok(next.messages.every((m) => m.type === MessageType.App && m.commit === index));
  assert.equal(next.messages.length, 2, 'the commit index rides on the next AppendEntries');
});

test('async writes: a follower learns a commit index from the next heartbeat when nothing else is sent', () => {
  const { raws, stores } = cluster();
  raws.get(1)!.campaign();
  settle(raws, stores);
  raws.get(1)!.propose(data);
  settle(raws, stores);
  const commit = raws.get(1)!.status().commit;
  assert.ok(raws.get(2)!.status().commit < commit);
  raws.get(1)!.tick(); // a heartbeat
  settle(raws, stores);
  assert.equal(raws.get(2)!.status().commit, commit);
});

for (const asyncStorageWrites of [false, true]) {
  test(`a sole voter restarted with its commit index lost answers a ReadIndex only after its first commit (async ${asyncStorageWrites})`, () => {
    // It committed entry 3 in term 2 and restarted with the commit index at 1 on disk (the commit
    // index is written lazily). Its own copy counts only once durable, so it leads for a moment before
    // it commits anything: a read answered then, at commit 1, would miss entry 3.
    const s = new MemoryStorage();
    bootstrapStorage(s, [1]);
    s.append([
      { term: 2, index: 2, type: EntryType.Normal, data: new Uint8Array(0) },
      { term: 2, index: 3, type: EntryType.Normal, data },
    ]);
    s.setHardState({ term: 2, vote: 1, commit: 1 });
    const raw = newRaw(1, s, asyncStorageWrites);
    raw.campaign();
    const rd = handOff(raw, s);
    for (const m of rd.messagesAfterWrite) raw.step(m);
    assert.equal(raw.status().role, Role.Leader);
    raw.readIndex(new TextEncoder().encode('r'));
    const early = handOff(raw, s);
    assert.deepEqual(early.readStates, [], 'not answered before the first commit of its term');
    for (const m of early.messagesAfterWrite) raw.step(m);
    if (raw.hasReady()) {
      const late = handOff(raw, s);
      assert.deepEqual(
        late.readStates.map((r) => r.index),
        [4],
      );
      return;
    }
    assert.fail('the read was never answered');
  });
}
