// Members restarting across a membership change, with the commit index the shell writes lazily. The
// shell defers a Ready that only moves the commit index (ReadyPlanner), except when it commits a
// membership change: that one is made durable before anyone can learn it from this member. Otherwise a
// leader of two that removes the other (which then shuts down) and crashes before storing the commit
// restarts in the old configuration and waits for the gone member's vote forever (found by the
// simulation, seed 100754). A member that never learnt the commit restarts in the old configuration
// with the change in its log, and must re-learn it from the leader; when the change removed the
// leader of two, only with the removed member's vote, which it therefore still gives.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapStorage } from '../core/bootstrap.js';
import { decodeConfChange } from '../core/confchange.js';
import { MemoryStorage } from '../core/memory-storage.js';
import type { RawNode } from '../core/rawnode.js';
import { testRawNode } from '../core/test-raw-node.js';
import { ConfChangeType, EntryType, type Message, MessageType, type RaftId, Role } from '../types.js';
import { ReadyPlanner } from './ready-plan.js';

interface Member {
  id: RaftId;
  disk: MemoryStorage;
  raw: RawNode;
  planner: ReadyPlanner;
  up: boolean;
}

class Cluster {
  readonly members = new Map<RaftId, Member>();
  /** Members that receive nothing (their links are cut). */
  readonly cut = new Set<RaftId>();
  /** Every (index → term) any member ever applied: they must all agree. */
  readonly appliedTerm = new Map<number, number>();
  private mail: Message[] = [];

  constructor(voters: RaftId[], spare: RaftId[] = []) {
    for (const id of [...voters, ...spare]) {
      const disk = new MemoryStorage();
      if (voters.includes(id)) bootstrapStorage(disk, voters);
      this.members.set(id, { id, disk, raw: start(id, disk), planner: planner(), up: true });
    }
  }

  m(id: RaftId): Member {
    return this.members.get(id)!;
  }

  /** Handles one Ready as the shell does: the planner's write (commit-only hard states deferred). */
  private handle(m: Member): boolean {
    if (!m.up || !m.raw.hasReady()) return false;
    const rd = m.raw.ready();
    const plan = m.planner.plan(rd);
    const b = plan.batch;
    if (b) {
      if (b.snapshot) m.disk.applySnapshot(b.snapshot);
      m.disk.append(b.entries);
      if (b.hardState) m.disk.setHardState(b.hardState);
    }
    this.mail.push(...rd.messages);
    for (const e of rd.committedEntries) {
      const seen = this.appliedTerm.get(e.index);
      assert.ok(
        seen === undefined || seen === e.term,
        `member ${m.id} applied ${e.index}@${e.term}, another @${seen}`,
      );
      this.appliedTerm.set(e.index, e.term);
      if (e.type === EntryType.ConfChange) m.raw.applyConfChange(decodeConfChange(e.data));
    }
    m.raw.advance(rd);
    return true;
  }

  stabilize(): void {
    for (let round = 0; round < 200; round++) {
      let moved = false;
      for (const m of this.members.values()) moved = this.handle(m) || moved;
      const mail = this.mail;
      this.mail = [];
      for (const msg of mail) {
        const to = this.members.get(msg.to);
        if (to?.up && !this.cut.has(msg.to)) to.raw.step(msg);
      }
      if (!moved && mail.length === 0) return;
    }
    throw new Error('did not settle');
  }

  /** Runs until `done`, with every message to `id` lost from the moment its entries were acknowledged. */
  stabilizeExcept(id: RaftId, done: () => boolean): void {
    for (let round = 0; round < 200 && !done(); round++) {
      for (const m of this.members.values()) this.handle(m);
      const mail = this.mail;
      this.mail = [];
      const acked = mail.some((msg) => msg.from === id && msg.type === MessageType.AppResp);
      for (const msg of mail) {
        const to = this.members.get(msg.to);
        if (to?.up && !this.cut.has(msg.to) && !(msg.to === id && acked)) to.raw.step(msg);
      }
      if (acked) this.cut.add(id);
    }
    this.cut.delete(id);
    assert.ok(done(), 'did not get there');
  }

  tick(id: RaftId, n: number): void {
    for (let i = 0; i < n; i++) this.m(id).raw.tick();
  }

  crash(id: RaftId): void {
    this.m(id).up = false;
  }

  /** A restart: memory lost (the deferred commit index included), storage reopened as it is on disk. */
  restart(id: RaftId): void {
    const m = this.m(id);
    m.raw = start(id, m.disk);
    m.planner = planner();
    m.up = true;
  }

  confChange(leader: RaftId, type: ConfChangeType, id: RaftId): number {
    const l = this.m(leader).raw;
    l.proposeConfChange({ type, id, context: new Uint8Array(0) });
    return l.raft.log.lastIndex();
  }
}

const start = (id: RaftId, disk: MemoryStorage): RawNode => testRawNode(id, disk);

function planner(): ReadyPlanner {
  return new ReadyPlanner();
}

function electLeader(c: Cluster, id: RaftId): void {
  c.m(id).raw.campaign();
  c.stabilize();
  assert.equal(c.m(id).raw.status().role, Role.Leader);
}

test('a leader of two removes the other, crashes, and restarts alone in the new configuration', () => {
  const c = new Cluster([1, 2]);
  electLeader(c, 1);
  const removal = c.confChange(1, ConfChangeType.RemoveMember, 2);
  c.stabilize();
  assert.deepEqual(c.m(2).raw.status().confState.voters, [1], '2 applied its removal');
  c.crash(2); // and shuts down for good (RaftNode's 'removed')
  assert.ok(c.m(1).disk.initialState().hardState.commit >= removal, 'the commit of the removal is on disk');
  c.crash(1);
  c.restart(1);
  c.stabilize(); // re-applies its committed log, the removal included
  assert.deepEqual(c.m(1).raw.status().confState.voters, [1], 'restarted into the new configuration');
  c.tick(1, 10);
  c.stabilize();
  assert.equal(c.m(1).raw.status().role, Role.Leader, 'it leads alone');
});

test('commit unknown across an addition: the restarted member is in the old configuration and re-learns it', () => {
  const c = new Cluster([1, 2, 3], [4]);
  electLeader(c, 1);
  c.cut.add(4); // 4 only matters once it is a voter; keep it out of the way
  const add = c.confChange(1, ConfChangeType.AddVoter, 4);
  // The entry reaches 2 and 3, they acknowledge it, 1 commits: then the messages carrying the commit
  // index to 2 are lost, and 2 restarts.
  c.stabilizeExcept(2, () => c.m(1).raw.status().commit >= add);
  c.crash(2);
  c.restart(2);
  const st = c.m(2).raw.status();
  assert.ok(st.commit < add, `restarted with commit ${st.commit}, below the addition at ${add}`);
  assert.ok(c.m(2).raw.raft.log.lastIndex() >= add, 'the addition is in its log');
  assert.deepEqual(st.confState.voters, [1, 2, 3], 'in the configuration before the addition');
  c.tick(1, 1);
  c.stabilize();
  assert.deepEqual(c.m(2).raw.status().confState.voters, [1, 2, 3, 4], 'learned again from the leader');
  assert.equal(c.m(2).raw.status().applied, c.m(1).raw.status().commit);
});

test('commit unknown across the leader’s own removal: the survivor restarts in the old configuration and finishes it with the removed member’s vote', () => {
  const c = new Cluster([1, 2]);
  electLeader(c, 1);
  const removal = c.confChange(1, ConfChangeType.RemoveMember, 1);
  // 2 stores and acknowledges the removal, 1 commits it; 2 hears nothing more, then restarts.
  c.stabilizeExcept(2, () => c.m(1).raw.status().commit >= removal);
  c.crash(2);
  c.stabilize(); // 1 applies its removal and steps down; what it sends 2 is lost
  assert.equal(c.m(1).raw.status().role, Role.Follower, 'the removed leader stepped down');
  assert.deepEqual(c.m(1).raw.status().confState.voters, [2]);
  c.restart(2);
  const st = c.m(2).raw.status();
  assert.ok(st.commit < removal, `restarted with commit ${st.commit}, below the removal at ${removal}`);
  assert.deepEqual(st.confState.voters, [1, 2], 'in the old configuration: it needs 1’s vote');
  c.tick(1, 30);
  c.stabilize();
  assert.equal(c.m(1).raw.status().role, Role.Follower, 'a removed member does not campaign');
  c.tick(2, 10);
  c.stabilize();
  const after = c.m(2).raw.status();
  assert.equal(after.role, Role.Leader, 'elected with the removed member’s vote');
  assert.ok(after.commit > removal, 'committed an entry of its own term, and so the removal');
  assert.deepEqual(after.confState.voters, [2], 'applied the removal: it goes on alone');
  c.crash(1); // now the removed member may shut down
  c.m(2).raw.propose(new TextEncoder().encode('alone'));
  c.stabilize();
  assert.equal(c.m(2).raw.status().commit, after.commit + 1, 'commits without the removed member');
});
