// The store over real Raft: three members on loopback with LMDB storage, each applying into its own
// Store. Checks that the Proposer contract holds with RaftNode (outcomes reach the caller), that every
// replica converges byte for byte, and that snapshots and restarts rebuild the same store.
import { test } from 'node:test';
import { eventually as until, freePorts } from '../../test/support.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRaftNode } from '../raft/node/open.js';
import type { RaftNode } from '../raft/node/raft-node.js';
import { SequenceConflictError } from './errors.js';
import { swarmSchema } from './indexes.js';
import type { SwarmObjects } from '../../api/objects/index.js';
import { Store } from './store.js';
import { CapturingLogger, sampleCluster, sampleNode } from './test-fixtures.js';

interface Member {
  id: number;
  dir: string;
  store: Store<SwarmObjects>;
  node: RaftNode;
}

async function startMember(
  id: number,
  dir: string,
  listen: string,
  bootstrap?: { id: number; addr: string }[],
): Promise<Member> {
  // The store proposes through the node that applies into it: the node is created after the store.
  const ref: { node?: RaftNode } = {};
  const store = new Store({
    schema: swarmSchema,
    logger: new CapturingLogger(),
    proposer: { propose: (data) => ref.node!.propose(data) },
  });
  const node = (ref.node = await openRaftNode({
    id,
    dataDir: dir,
    stateMachine: store,
    transport: { listen },
    bootstrap,
    tickMs: 25,
    snapshotEveryEntries: 20,
    snapshotKeepEntries: 5,
    requestTimeoutMs: 5_000,
  }));
  return { id, dir, store, node };
}

test('three stores over real Raft: conflicts reach the caller, replicas converge, snapshots and restarts agree', async () => {
  const root = await mkdtemp(join(tmpdir(), 'swl-store-raft-'));
  const ports = await freePorts(4);
  const boot = [1, 2, 3].map((id) => ({ id, addr: `127.0.0.1:${ports[id - 1]}` }));
  const members = await Promise.all(boot.map((b) => startMember(b.id, join(root, `m${b.id}`), b.addr, boot)));
  const stopped = new Set<Member>();
  try {
    const leader = await until('a leader', () => members.find((m) => m.node.isLeader));
    const { store } = leader;
    await store.update((tx) => {
      tx.create('cluster', sampleCluster('c1'));
      for (let i = 0; i < 5; i++) tx.create('node', sampleNode(`n${i}`));
    });

    // Two writers read n0 at the same version; Raft orders them and the second is refused everywhere.
    const drain = store.update((tx) => {
      const n = tx.get('node', 'n0')!;
      tx.update('node', { ...n, spec: { ...n.spec, availability: 'drain' } });
    });
    const pause = store.update((tx) => {
      const n = tx.get('node', 'n0')!;
      tx.update('node', { ...n, spec: { ...n.spec, availability: 'pause' } });
    });
    const [a, b] = await Promise.allSettled([drain, pause]);
    assert.equal(a.status, 'fulfilled');
    assert.ok(b.status === 'rejected' && b.reason instanceof SequenceConflictError, String(b.status));

    // Enough writes to cross the snapshot threshold several times.
    for (let i = 0; i < 40; i++) {
      await store.update((tx) => {
        const n = tx.get('node', `n${i % 5}`)!;
        tx.update('node', { ...n, spec: { ...n.spec, labels: { round: String(i) } } });
      });
    }
    const converged = () => {
      const want = leader.store.appliedIndex;
      return members.every((m) => stopped.has(m) || m.store.appliedIndex === want);
    };
    await until('every replica to apply', converged);
    const snap = leader.store.snapshot();
    for (const m of members) assert.deepEqual(m.store.snapshot(), snap, `member ${m.id} differs`);
    assert.equal(
      leader.store.view((tx) => tx.get('node', 'n0')!.spec.availability),
      'drain',
    );

    // A new member starts empty and is brought up from a Raft snapshot: restore() gives the same store.
    const joiner = await startMember(4, join(root, 'm4'), `127.0.0.1:${ports[3]}`);
    members.push(joiner);
    await leader.node.addLearner(4, joiner.node.address);
    await until('the learner to catch up', () => joiner.store.appliedIndex >= leader.store.appliedIndex);
    assert.deepEqual(joiner.store.snapshot(), leader.store.snapshot());
    assert.ok(joiner.node.status().snapshotIndex > 1, 'the learner was brought up by a snapshot');

    // A follower restarts from its disk with a fresh Store: Raft's snapshot (restore) plus the replay of
    // the log after it (apply) rebuild exactly the store it had. (Catching up on writes made while it was
    // down is Raft's business and is tested there.)
    const follower = members.find((m) => m !== leader && m !== joiner)!;
    const before = { bytes: follower.store.snapshot(), index: follower.store.appliedIndex };
    await follower.node.stop();
    stopped.add(follower);
    const restarted = await startMember(follower.id, follower.dir, boot[follower.id - 1]!.addr);
    members[members.indexOf(follower)] = restarted;
    stopped.delete(follower);
    await until('the restarted member to replay its log', () => restarted.store.appliedIndex >= before.index);
    assert.deepEqual(restarted.store.snapshot(), before.bytes);
  } finally {
    await Promise.all(members.filter((m) => !stopped.has(m)).map((m) => m.node.stop()));
    await rm(root, { recursive: true, force: true });
  }
});
