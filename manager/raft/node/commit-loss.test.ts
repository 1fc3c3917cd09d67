// A member restarts having lost its commit index across a membership change. The shell does not write a
// Ready that only moves the commit index (ReadyPlanner defers it), so a member can apply a conf change
// and then crash with a stored commit index below it: it restarts in the configuration before the
// change, with the change in its log, not knowing it committed. It must re-learn the commit index from
// a leader, or, with the leader gone, be elected and commit the change again, and no member may ever
// apply a different entry at any index.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootstrapStorage } from '../core/bootstrap.js';
import { decodeConfChange } from '../core/confchange.js';
import { MemoryStorage } from '../core/memory-storage.js';
import { RawNode } from '../core/rawnode.js';
import { ConfChangeType, EntryType, type Message, type RaftId, Role } from '../types.js';
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
  /** Every (index → term) any member ever applied: they must all agree. */
  readonly appliedTerm = new Map<number, number>();
  private mail: Message[] = [];

  constructor(voters: RaftId[], spare: RaftId[] = []) {
    for (const id of [...voters, ...spare]) {
      const disk = new MemoryStorage();
      if (voters.includes(id)) bootstrapStorage(disk, voters);
      this.members.set(id, { id, disk, raw: start(id, disk), planner: planner(disk), up: true });
    }
  }

  m(id: RaftId): Member {
    return this.members.get(id)!;
  }

  /** Handles one Ready as the shell does: the planner's write (commit-only hard states deferred). */
  private handle(m: Member): boolean {
    if (!m.up || !m.raw.hasReady()) return false;
    const rd = m.raw.ready();
    const plan = m.planner.plan(rd, m.raw.status().role === Role.Leader);
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
        if (to?.up) to.raw.step(msg);
      }
      if (!moved && mail.length === 0) return;
    }
    throw new Error('did not settle');
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
    m.planner = planner(m.disk);
    m.up = true;
  }

  confChange(leader: RaftId, type: ConfChangeType, id: RaftId): number {
    const l = this.m(leader).raw;
    l.proposeConfChange({ type, id, context: new Uint8Array(0) });
    return l.raft.log.lastIndex();
  }
}

function start(id: RaftId, disk: MemoryStorage): RawNode {
  return new RawNode({
    id,
    electionTicks: 10,
    heartbeatTicks: 1,
    storage: disk,
    applied: disk.snapshot().metadata.index,
    maxSizePerMsg: 1 << 20,
    maxInflightMsgs: 256,
    preVote: true,
    checkQuorum: true,
    random: () => 0,
  });
}

function planner(disk: MemoryStorage): ReadyPlanner {
  return new ReadyPlanner(disk.initialState().hardState);
}

function electLeader(c: Cluster, id: RaftId): void {
  c.m(id).raw.campaign();
  c.stabilize();
  assert.equal(c.m(id).raw.status().role, Role.Leader);
}

test('commit lost across a removal: both survivors restart in the old configuration and commit the removal again', () => {
  const c = new Cluster([1, 2, 3]);
  electLeader(c, 1);
  const removal = c.confChange(1, ConfChangeType.RemoveMember, 3);
  c.stabilize();
  c.tick(1, 1); // a heartbeat round carries the commit index to everyone
  c.stabilize();
  assert.deepEqual(c.m(2).raw.status().confState.voters, [1, 2], '2 applied the removal');
  assert.ok(c.m(2).disk.initialState().hardState.commit < removal, 'its commit index was never written');
  c.crash(3); // applied its own removal: the node shuts down for good (RaftNode's 'removed')

  // Power loss on both survivors: each restarts from what its disk holds.
  c.crash(1);
  c.crash(2);
  c.restart(1);
  c.restart(2);
  const st = c.m(2).raw.status();
  assert.ok(st.commit < removal, `restarted with commit ${st.commit} below the removal at ${removal}`);
  assert.deepEqual(st.confState.voters, [1, 2, 3], 'back in the configuration before the removal');
  assert.ok(c.m(2).raw.raft.log.lastIndex() >= removal, 'the removal is still in its log');

  // 2 campaigns in {1,2,3} and wins with 1's vote; its no-op commits the removal again.
  c.tick(2, 10);
  c.stabilize();
  assert.equal(c.m(2).raw.status().role, Role.Leader);
  for (const id of [1, 2]) {
    assert.deepEqual(c.m(id).raw.status().confState.voters, [1, 2], `member ${id} applied the removal again`);
  }
  const committed = c.m(2).raw.status().commit;
  assert.ok(committed > removal);
  assert.equal(c.m(1).raw.status().applied, committed);
  for (let i = 2; i <= committed; i++) assert.equal(c.m(1).raw.raft.log.term(i), c.m(2).raw.raft.log.term(i));
  // And every member applied the same entry at every index (checked as they applied, in handle()).
  assert.ok(c.appliedTerm.get(removal) !== undefined);
});

test('commit lost across an addition: the restarted member re-learns the commit index and the new voter', () => {
  const c = new Cluster([1, 2, 3], [4]);
  electLeader(c, 1);
  const add = c.confChange(1, ConfChangeType.AddVoter, 4);
  c.stabilize();
  c.tick(1, 1);
  c.stabilize();
  assert.deepEqual(c.m(2).raw.status().confState.voters, [1, 2, 3, 4]);
  c.crash(2);
  c.restart(2);
  assert.ok(c.m(2).raw.status().commit < add, 'commit index lost');
  assert.deepEqual(c.m(2).raw.status().confState.voters, [1, 2, 3]);
  c.tick(1, 1);
  c.stabilize();
  assert.deepEqual(c.m(2).raw.status().confState.voters, [1, 2, 3, 4], 'learned again from the leader');
  assert.equal(c.m(2).raw.status().applied, c.m(1).raw.status().commit);
});
