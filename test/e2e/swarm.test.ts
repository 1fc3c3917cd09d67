// Swarm membership end to end on a 5-host lab (3 managers, 2 workers): formation, leader failover,
// node management, join tokens, certificate roles, a restart of every daemon, and quorum-loss recovery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { withDaemon, type InfoResponse__Output } from '../../daemon/client.js';
import type { NodeView } from '../../cli/objects.js';
import { labSignal, labStart } from '../../deploy/lab/lab.js';
import type { LabHostState } from '../../deploy/lab/state.js';
import { unaryCalls } from '../../api/calls.js';
import { services } from '../../api/rpc.js';
import { MANAGER_CHANNEL_OPTIONS, SwarmCredentials } from '../../daemon/swarm-credentials.js';
import { createTestLab, isRoot, runIn, swl, waitFor } from './harness.js';

const info = (h: LabHostState): Promise<InfoResponse__Output> =>
  withDaemon(`unix://${h.socket}`, (c) => c.info({}, 2_000));
const nodesOf = async (h: LabHostState): Promise<NodeView[]> =>
  JSON.parse((await swl(h, ['node', 'ls', '--format', 'json'])).stdout) as NodeView[];
const byHost = (nodes: NodeView[], hostname: string) =>
  nodes.filter((n) => n.description.hostname === hostname);
const one = (nodes: NodeView[], hostname: string) => {
  const found = byHost(nodes, hostname);
  assert.equal(found.length, 1, `exactly one node ${hostname}`);
  return found[0]!;
};
const managerStatus = (n: NodeView) =>
  n.managerStatus ? (n.managerStatus.leader ? 'leader' : n.managerStatus.reachability) : '-';

function assertHealthy(nodes: NodeView[], hosts: LabHostState[], managers: string[]): void {
  for (const h of hosts) {
    const n = one(nodes, h.hostname);
    assert.equal(n.status.state, 'ready', `${h.hostname} is Ready`);
    assert.equal(n.role, managers.includes(h.hostname) ? 'manager' : 'worker', `${h.hostname}'s role`);
  }
  assert.equal(nodes.filter((n) => n.managerStatus?.leader).length, 1, 'exactly one leader');
  assert.deepEqual(
    nodes
      .filter((n) => n.managerStatus)
      .map((n) => n.description.hostname)
      .sort(),
    [...managers].sort(),
  );
}

/** TLS credentials made from a host's own certificate files, read as its daemon reads them. */
function credentialsOf(h: LabHostState): grpc.ChannelCredentials {
  const node = new SwarmCredentials(h.dataRoot);
  node.load();
  return node.credentials();
}

async function leaderHost(hosts: LabHostState[]): Promise<LabHostState | undefined> {
  for (const h of hosts) {
    const i = await info(h).catch(() => undefined);
    if (i?.isLeader) return h;
  }
  return undefined;
}

test('swarm membership on 3 managers + 2 workers', { skip: !isRoot && 'needs root' }, async (t) => {
  const lab = await createTestLab(t, 5, 3);
  const hosts = lab.hosts;
  const [n1, n2, n3, n4, n5] = hosts as [
    LabHostState,
    LabHostState,
    LabHostState,
    LabHostState,
    LabHostState,
  ];
  const managers = ['node1', 'node2', 'node3'];

  await t.test('every manager lists five Ready nodes, three managers, one leader', async () => {
    for (const m of [n1, n2, n3]) assertHealthy(await nodesOf(m), hosts, managers);
    const r = await swl(n4, ['node', 'ls'], 1);
    assert.match(r.stderr, /not a swarm manager/);
  });

  await t.test(
    'kill -9 the leader: a new leader within 30 s, the dead node Down within 60 s, back Reachable',
    async () => {
      const leader = (await leaderHost([n1, n2, n3]))!;
      const survivors = [n1, n2, n3].filter((h) => h !== leader);
      const before = await info(leader);
      const killedAt = Date.now();
      await labSignal(lab.name, leader.hostname, 'SIGKILL');
      const newLeader = await waitFor('a new leader', 60_000, () => leaderHost(survivors));
      const electedMs = Date.now() - killedAt;
      t.diagnostic(`new leader ${newLeader.hostname} after ${electedMs} ms`);
      assert.ok(electedMs <= 30_000, `new leader after ${electedMs} ms (limit 30 s)`);
      await waitFor('the killed node Down', 60_000 - (Date.now() - killedAt), async () => {
        const n = one(await nodesOf(newLeader), leader.hostname);
        return n.status.state === 'down' ? n : undefined;
      });
      t.diagnostic(`down after ${Date.now() - killedAt} ms`);
      await labStart(lab.name, leader.hostname);
      const back = await waitFor('the restarted manager Reachable and Ready', 60_000, async () => {
        const n = one(await nodesOf(newLeader), leader.hostname);
        return n.status.state === 'ready' && n.managerStatus?.reachability === 'reachable' ? n : undefined;
      });
      assert.equal(back.id, before.nodeId, 'same node id after restart');
      const after = await info(leader);
      assert.equal(after.clusterId, before.clusterId);
      assert.equal(after.role, 'manager');
    },
  );

  await t.test('drain and labels', async () => {
    await swl(n1, [
      'node',
      'update',
      '--availability',
      'drain',
      '--label-add',
      'zone=a',
      '--label-add',
      'x=1',
      'node4',
    ]);
    await swl(n2, ['node', 'update', '--label-rm', 'x', 'node4']);
    const [node4] = JSON.parse((await swl(n3, ['node', 'inspect', 'node4'])).stdout) as NodeView[];
    assert.equal(node4!.spec.availability, 'drain');
    assert.deepEqual(node4!.spec.labels, { zone: 'a' });
    const bad = await swl(n1, ['node', 'update', '--availability', 'sleepy', 'node4'], 2);
    assert.match(bad.stderr, /invalid --availability/);
    const missing = await swl(n1, ['node', 'update', '--label-rm', 'nope', 'node4'], 1);
    assert.match(missing.stderr, /has no label 'nope'/);
  });

  await t.test('promote a worker to manager and demote it back', async () => {
    await swl(n1, ['node', 'promote', 'node4']);
    await waitFor('node4 a reachable manager', 60_000, async () => {
      const n = one(await nodesOf(n1), 'node4');
      return n.role === 'manager' && n.managerStatus?.reachability === 'reachable' ? n : undefined;
    });
    assert.equal((await info(n4)).role, 'manager');
    const managerCreds = credentialsOf(n4);
    await swl(n2, ['node', 'demote', 'node4']);
    await waitFor('node4 a worker again', 60_000, async () => {
      const n = one(await nodesOf(n1), 'node4');
      const i = await info(n4);
      return n.role === 'worker' && !n.managerStatus && i.role === 'worker' ? n : undefined;
    });
    // Its manager certificate is still valid for months, but a demoted node lost its powers.
    const leader = (await leaderHost([n1, n2, n3]))!;
    const Control = services.control();
    const client = new Control(`${leader.address}:2377`, managerCreds, MANAGER_CHANNEL_OPTIONS);
    try {
      await assert.rejects(
        unaryCalls(client, Control.service).updateNode({ ref: 'node4', role: 'manager' }),
        (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.PERMISSION_DENIED, err.message);
          assert.match(err.details, /no longer a manager/);
          return true;
        },
      );
    } finally {
      client.close();
    }
    assert.equal(one(await nodesOf(n1), 'node4').spec.role, 'worker');
  });

  await t.test('a worker certificate is refused by the control API', async () => {
    const creds = credentialsOf(n5);
    const Control = services.control();
    for (const m of [n1, n2, n3]) {
      const client = new Control(`${m.address}:2377`, creds, MANAGER_CHANNEL_OPTIONS);
      try {
        await assert.rejects(unaryCalls(client, Control.service).listNodes({}), (err: grpc.ServiceError) => {
          // A follower redirects before checking; the leader refuses the worker outright.
          if (err.code === grpc.status.FAILED_PRECONDITION) return true;
          assert.equal(err.code, grpc.status.PERMISSION_DENIED, err.message);
          assert.match(err.details, /manager certificate/);
          return true;
        });
      } finally {
        client.close();
      }
    }
  });

  await t.test('join tokens: rotation refuses the old token at once; a wrong token is refused', async () => {
    const oldToken = (await swl(n1, ['join-token', '-q', 'worker'])).stdout.trim();
    const rotated = await swl(n2, ['join-token', '--rotate', 'worker']);
    assert.match(rotated.stdout, /Successfully rotated worker join token/);
    const newToken = (await swl(n1, ['join-token', '-q', 'worker'])).stdout.trim();
    assert.notEqual(newToken, oldToken);
    const oldId = (await info(n5)).nodeId;
    const oldCreds = credentialsOf(n5);
    await swl(n5, ['leave']);
    assert.equal((await info(n5)).swarmState, 'inactive');
    const refused = await swl(n5, ['join', '--token', oldToken, `${n1.address}:2377`], 1);
    assert.match(refused.stderr, /invalid join token/);
    const forged = newToken.slice(0, -5) + 'zzzzz';
    assert.match((await swl(n5, ['join', '--token', forged, n1.address], 1)).stderr, /invalid join token/);
    assert.equal((await info(n5)).swarmState, 'inactive', 'a refused join changes nothing');
    await swl(n5, ['join', '--token', newToken, n2.address]);
    await waitFor('node5 Ready again and its old entry Down', 60_000, async () => {
      const mine = byHost(await nodesOf(n1), 'node5');
      const old = mine.find((n) => n.id === oldId);
      const fresh = mine.find((n) => n.id !== oldId);
      return old?.status.state === 'down' && fresh?.status.state === 'ready' ? true : undefined;
    });
    // rm: the departed entry goes; a live node needs --force; a manager must be demoted first.
    await swl(n1, ['node', 'rm', oldId]);
    assert.equal(byHost(await nodesOf(n1), 'node5').length, 1);
    // Issue 18, fault 6: the removed entry's hostname no longer makes node5 "ambiguous (2 nodes)".
    const [node5] = JSON.parse((await swl(n1, ['node', 'inspect', 'node5'])).stdout) as NodeView[];
    assert.notEqual(node5!.id, oldId);
    await swl(n1, ['node', 'update', '--label-add', 'rejoined=1', 'node5']);
    // ... and `self` is the node the CLI talks to.
    const [self] = JSON.parse((await swl(n2, ['node', 'inspect', 'self'])).stdout) as NodeView[];
    assert.equal(self!.id, (await info(n2)).nodeId);
    // The removed node's certificate (kept aside before it left) is refused from now on.
    const leader = (await leaderHost([n1, n2, n3]))!;
    const Dispatcher = services.dispatcher();
    const client = new Dispatcher(`${leader.address}:2377`, oldCreds, MANAGER_CHANNEL_OPTIONS);
    try {
      const heartbeat = unaryCalls(client, Dispatcher.service).heartbeat({ sessionId: 'x' });
      await assert.rejects(heartbeat, (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.PERMISSION_DENIED, err.message);
        assert.match(err.details, /removed/);
        return true;
      });
    } finally {
      client.close();
    }
    assert.match((await swl(n1, ['node', 'rm', 'node4'], 1)).stderr, /not down and can't be removed/);
    assert.match((await swl(n1, ['node', 'rm', 'node2'], 1)).stderr, /demote it first/);
    assert.match((await swl(n3, ['leave'], 1)).stderr, /is a manager of the swarm/);
  });

  await t.test('everything survives a restart of all daemons', async () => {
    const before = await nodesOf(n1);
    for (const h of hosts) await labSignal(lab.name, h.hostname, 'SIGTERM');
    for (const h of hosts) await labStart(lab.name, h.hostname);
    const after = await waitFor('all five Ready with one leader after the restart', 60_000, async () => {
      const nodes = await nodesOf(n1);
      const ready = nodes.filter((n) => n.status.state === 'ready').length === 5;
      return ready && nodes.filter((n) => n.managerStatus?.leader).length === 1 ? nodes : undefined;
    });
    assertHealthy(after, hosts, managers);
    const shape = (ns: NodeView[]) =>
      ns
        .map((n) => [
          n.id,
          n.role,
          n.spec.availability,
          JSON.stringify(n.spec.labels),
          n.managerStatus ? 'm' : 'w',
        ])
        .sort();
    assert.deepEqual(shape(after), shape(before));
  });

  await t.test('quorum loss, then --force-new-cluster on a survivor keeps the state', async () => {
    const survivor = n1;
    const labelsBefore = one(await nodesOf(n1), 'node4').spec.labels;
    await labSignal(lab.name, 'node2', 'SIGKILL');
    await labSignal(lab.name, 'node3', 'SIGKILL');
    // A leader notices within an election timeout (CheckQuorum); then no manager can serve.
    const stuck = await waitFor('the survivor to report the lost quorum', 60_000, async () => {
      const r = await runIn(survivor, ['swarmlite', 'node', 'ls']);
      return r.code === 1 ? r : undefined;
    });
    assert.match(stuck.stderr, /no leader|quorum/);
    // A local read needs no quorum: the survivor answers from its own store.
    const local = await swl(survivor, ['node', 'ls', '--consistency', 'local', '--format', 'json']);
    assert.deepEqual(one(JSON.parse(local.stdout) as NodeView[], 'node4').spec.labels, labelsBefore);
    await swl(survivor, ['init', '--force-new-cluster']);
    const nodes = await waitFor('the survivor leading a swarm with its old state', 60_000, async () => {
      const ns = await nodesOf(survivor);
      const gone = ['node2', 'node3'].every((h) => {
        const n = one(ns, h);
        return n.status.state === 'down' && !n.managerStatus;
      });
      const workersBack = ['node4', 'node5'].every((h) => one(ns, h).status.state === 'ready');
      return gone && workersBack && one(ns, 'node1').managerStatus?.leader ? ns : undefined;
    });
    assert.deepEqual(one(nodes, 'node4').spec.labels, labelsBefore);
    assert.equal(one(nodes, 'node4').status.state, 'ready');
    assert.deepEqual(nodes.map((n) => `${n.description.hostname}:${managerStatus(n)}`).sort(), [
      'node1:leader',
      'node2:-',
      'node3:-',
      'node4:-',
      'node5:-',
    ]);
  });
});
