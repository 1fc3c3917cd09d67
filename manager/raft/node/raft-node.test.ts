// The node shell on the real transport (loopback gRPC) with in-memory storage: elections, proposals,
// redirects, reads, membership changes, snapshots and catch-up of a member that joins late.
import { test } from 'node:test';
import { eventually as until, freePorts } from '../../../test/support.js';
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { newRawNode } from './core-binding.js';
import { LeaderlessError, NotLeaderError } from './errors.js';
import { RaftNode } from './raft-node.js';
import { ListMachine, MemNodeStorage, startMember, threeMembers, type Member } from './test-members.js';

test('proposals commit everywhere, followers redirect to the leader, reads see writes', async () => {
  const { members, leader, stop } = await threeMembers();
  try {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => leader.node.propose(Buffer.from(`v${i}`))),
    );
    const indexes = results.map((r) => r.index);
    assert.equal(new Set(indexes).size, 200, 'every proposal gets its own log index');
    assert.deepEqual(
      results.map((r) => r.result),
      results.map((_, i) => i + 1),
      "each caller receives its own entry's apply result",
    );
    // 200 concurrent proposals must share fsyncs: far fewer saves than proposals on the leader.
    assert.ok(leader.storage.saves < 100, `leader saved ${leader.storage.saves} times for 200 proposals`);
    const expected = leader.sm.items.slice();
    assert.equal(expected.length, 200);
    for (const m of members) await until(`member ${m.id} to apply`, () => m.sm.items.length === 200);
    for (const m of members) assert.deepEqual(m.sm.items, expected);

    const follower = members.find((m) => m !== leader)!;
    await assert.rejects(follower.node.propose(Buffer.from('x')), (err: unknown) => {
      assert.ok(err instanceof NotLeaderError);
      assert.equal(err.leaderId, leader.id);
      assert.equal(err.leaderAddr, leader.node.address);
      return true;
    });
    await leader.node.readIndex();
    await follower.node.readIndex(); // forwarded to the leader by the core
    assert.equal(follower.sm.items.length, 200);

    const st = leader.node.status();
    assert.equal(st.role, 'leader');
    assert.equal(st.members.length, 3);
    assert.ok(st.members.every((m) => m.addr && m.match !== undefined));
  } finally {
    await stop();
  }
});

test('membership: a member joins empty, catches up from a snapshot, then is removed; leadership moves', async () => {
  const { members, leader, stop } = await threeMembers(50);
  let joiner: Member | undefined;
  try {
    for (let i = 0; i < 120; i++) await leader.node.propose(Buffer.from(`a${i}`));
    await until('a snapshot and compaction', () => leader.storage.firstIndex() > 2);
    joiner = await startMember(4, undefined);
    const cs = await leader.node.addLearner(4, joiner.node.address);
    assert.deepEqual(cs.learners, [4]);
    await until('the learner to catch up', () => joiner!.sm.items.length === 120);
    assert.ok(joiner.node.status().snapshotIndex > 1, 'the learner was brought up by a snapshot');
    await leader.node.addVoter(4, joiner.node.address);
    await leader.node.propose(Buffer.from('after-join'));
    await until('the new voter to apply', () => joiner!.sm.items.at(-1) === 'after-join');
    assert.deepEqual(joiner.sm.items, leader.sm.items);

    // A transfer gives up after two election timeouts (200 ms with these 10 ms ticks), which a loaded
    // machine can overrun: ask again, through whichever member leads, until member 4 does.
    await until('member 4 to lead', async () => {
      if (joiner!.node.isLeader) return true;
      const current = members.find((m) => m.node.isLeader);
      await current?.node.transferLeadership(4).catch(() => undefined);
      return joiner!.node.isLeader;
    });
    const cs2 = await joiner.node.removeMember(leader.id);
    assert.deepEqual(
      [...cs2.voters].sort(),
      members
        .filter((m) => m !== leader)
        .map((m) => m.id)
        .concat(4)
        .sort(),
    );
    const r = await joiner.node.propose(Buffer.from('after-remove'));
    assert.ok(r.index > 0);
  } finally {
    await stop();
    await joiner?.node.stop();
  }
});

test('a follower stopped cleanly and reopened on the same address hears from the leader again', async () => {
  const { boot, members, leader, stop } = await threeMembers(20);
  try {
    for (let i = 0; i < 30; i++) await leader.node.propose(Buffer.from(`v${i}`));
    const idx = members.findIndex((m) => m !== leader);
    const follower = members[idx]!;
    await until('the follower to apply', () => follower.sm.items.length === 30);
    await follower.node.stop();
    await leader.node.propose(Buffer.from('while-down'));
    // The leader must notice the stream to the stopped member failed and stop pipelining to it.
    await until(
      'the leader to probe the stopped member',
      () => leader.node.status().members.find((m) => m.id === follower.id)?.state === 'probe',
      30_000,
    );
    const reopened = await startMember(follower.id, boot, 20, follower);
    members[idx] = reopened;
    await until(
      'the reopened member to follow the leader',
      () => reopened.node.leader.id === leader.id,
      30_000,
    );
    await until('the reopened member to catch up', () => reopened.sm.items.at(-1) === 'while-down', 30_000);
    await leader.node.propose(Buffer.from('after-restart'));
    await until(
      'the reopened member to apply new entries',
      () => reopened.sm.items.at(-1) === 'after-restart',
    );
    assert.deepEqual(reopened.sm.items, leader.sm.items);
  } finally {
    await stop();
  }
});

test('a member whose id needs more than 32 bits gets the results of its proposals', async () => {
  const [port] = await freePorts(1);
  const id = 2 ** 40 + 3;
  const member = await startMember(id, [{ id, addr: `127.0.0.1:${port}` }]);
  try {
    await until('the member to lead', () => member.node.isLeader);
    const r = await member.node.propose(Buffer.from('wide'));
    assert.equal(r.result, 1);
    assert.deepEqual(member.sm.items, ['wide']);
  } finally {
    await member.node.stop();
  }
});

test('new channel credentials reach the peers without a restart; replication carries on', async () => {
  const { members, leader, stop } = await threeMembers();
  try {
    await leader.node.propose(Buffer.from('before'));
    for (const m of members) m.node.updateChannelCredentials(grpc.credentials.createInsecure());
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => leader.node.propose(Buffer.from(`after${i}`))),
    );
    assert.equal(results.length, 20);
    for (const m of members) await until(`member ${m.id} to apply`, () => m.sm.items.length === 21);
  } finally {
    await stop();
  }
});

test('reads: a leader cut off from its quorum serves no read; its pending read fails when it steps down', async () => {
  const { members, leader, stop } = await threeMembers();
  try {
    await leader.node.propose(Buffer.from('before'));
    await leader.node.readIndex(); // with its quorum: confirmed
    for (const m of members) if (m !== leader) await m.node.stop();
    // The read needs a heartbeat round a majority answers; none can. CheckQuorum deposes the leader
    // within an election timeout (10 ticks of 10 ms), which fails the unconfirmed read at once,
    // well before the 3 s request timeout.
    // NotLeaderError, not RaftTimeoutError: failed by the step-down, not by the request timeout.
    await assert.rejects(leader.node.readIndex(), (err: unknown) => {
      assert.ok(err instanceof NotLeaderError, `expected NotLeaderError, got ${String(err)}`);
      return true;
    });
    assert.equal(leader.node.isLeader, false);
  } finally {
    await stop();
  }
});

test('writes: a leader cut off from its quorum fails its pending proposal once it has stepped down and no leader follows, long before the request timeout', async () => {
  const ports = await freePorts(3);
  const boot = ports.map((p, i) => ({ id: i + 1, addr: `127.0.0.1:${p}` }));
  // Election timeout 1 s, so the followers' stop below lands well inside the leader's lease; the
  // request timeout is a minute, so only the leaderless rule can fail the proposal.
  const members = await Promise.all(
    boot.map(async (b) => {
      const sm = new ListMachine();
      const node = await RaftNode.create({
        id: b.id,
        storage: new MemNodeStorage(),
        stateMachine: sm,
        createCore: newRawNode,
        transport: { listen: b.addr },
        bootstrap: boot,
        tickMs: 100,
        requestTimeoutMs: 60_000,
      });
      return { node, sm };
    }),
  );
  try {
    const leader = await until('a leader', () => members.find((m) => m.node.isLeader), 30_000);
    await leader.node.propose(Buffer.from('before'));
    await Promise.all(members.filter((m) => m !== leader).map((m) => m.node.stop()));
    assert.ok(leader.node.isLeader, 'still leading when the write is made (its lease has not run out)');
    await assert.rejects(leader.node.propose(Buffer.from('cut off')), (err: unknown) => {
      assert.ok(err instanceof LeaderlessError, `expected LeaderlessError, got ${String(err)}`);
      assert.equal(err.ms, 2_000, 'two election timeouts');
      return true;
    });
    assert.equal(leader.node.isLeader, false);
    assert.deepEqual(leader.sm.items, ['before']);
  } finally {
    await Promise.all(members.map((m) => m.node.stop()));
  }
});

test('async writes: followers commit a write while the leader’s own is in flight; held followers commit nothing', async () => {
  const { members, leader, stop } = await threeMembers();
  try {
    await leader.node.propose(Buffer.from('warm'));
    // The leader's disk stalls: its AppendEntries still leave, two followers' durable copies commit.
    leader.storage.held = true;
    const r = await leader.node.propose(Buffer.from('ahead-of-leader-disk'));
    assert.ok(r.index > 0);
    assert.equal(leader.sm.items.at(-1), 'ahead-of-leader-disk');
    leader.storage.release();
    // Both followers' disks stall: nothing they acknowledge is durable, so nothing commits.
    const followers = members.filter((m) => m !== leader);
    for (const f of followers) f.storage.held = true;
    let done = false;
    const p = leader.node.propose(Buffer.from('needs-a-follower')).then(() => {
      done = true;
    });
    await until('the followers to hold the entry in their logs', () =>
      followers.every((f) => f.storage.lastIndex() >= leader.storage.lastIndex()),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(done, false, 'committed on copies no follower has on disk');
    for (const f of followers) f.storage.release();
    await p;
    assert.equal(leader.sm.items.at(-1), 'needs-a-follower');
  } finally {
    for (const m of members) m.storage.release();
    await stop();
  }
});
