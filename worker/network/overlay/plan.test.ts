import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCommand } from './commands.js';
import { formatLegLabel, gatewayLegName, sandboxLegName } from './names.js';
import { planAll, type PlanContext } from './plan.js';
import type { ObservedSandbox, OverlayDesiredState, OverlayObservedState, Plan, Step } from './types.js';

const ctx: PlanContext = { prefix: 'swl', nodeNetnsPath: '/proc/1/ns/net' };
const SB = 'swl_ov-4097';

function desired(over: Partial<OverlayDesiredState> = {}): OverlayDesiredState {
  return {
    vtep: '198.18.0.11',
    networks: [
      { id: 'net1', vni: 4097, subnets: [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1' }], internal: false },
    ],
    tasks: [
      {
        taskId: 't1',
        netnsPath: '/run/netns/t1',
        attachments: [{ networkId: 'net1', address: '10.0.1.3/24' }],
      },
    ],
    peers: [{ networkId: 'net1', ip: '10.0.1.4', vtep: '198.18.0.12' }],
    ...over,
  };
}

const EMPTY: OverlayObservedState = {
  underlayMtu: 1500,
  ownNamespaces: [],
  sandboxes: [],
  gateway: { legs: [], takenNames: [] },
  strayTempVxlans: [],
};

/** What the kernel holds once desired() is programmed (as observe.ts would read it back). */
function converged(): OverlayObservedState {
  const gwLeg = gatewayLegName('swl', 't1', new Set());
  return {
    underlayMtu: 1500,
    ownNamespaces: [],
    sandboxes: [convergedSandbox()],
    gateway: {
      bridge: { addresses: ['172.18.0.1/16'], mtu: 1500, up: true },
      nftTable: { chains: ['postrouting', 'forward'], masqueradeSource: '172.18.0.0/16' },
      legs: [
        {
          ifName: gwLeg,
          label: { taskId: 't1', taskIf: 'gw0', address: '172.18.0.2/16' },
          master: 'swl_gwbridge',
          up: true,
        },
      ],
      takenNames: ['swl_gwbridge', gwLeg],
    },
    strayTempVxlans: [],
  };
}

function convergedSandbox(): ObservedSandbox {
  return {
    netns: SB,
    vni: 4097,
    bridge: { addresses: ['10.0.1.1/24'], mtu: 1450, up: true },
    vxlan: {
      vni: 4097,
      local: '198.18.0.11',
      port: 4789,
      learning: false,
      proxy: true,
      mtu: 1450,
      master: 'br0',
      up: true,
    },
    legs: [
      {
        ifName: sandboxLegName('t1'),
        label: { taskId: 't1', taskIf: 'eth0', address: '10.0.1.3/24' },
        master: 'br0',
        up: true,
      },
    ],
    neighbors: [{ ip: '10.0.1.4', mac: '02:42:0a:00:01:04' }],
    fdb: [{ mac: '02:42:0a:00:01:04', dst: '198.18.0.12' }],
  };
}

const lines = (steps: Step[]): string[] => steps.flatMap((s) => s.commands.map((c) => describeCommand(c)));
const networkLines = (plan: Plan, name = SB): string[] => lines(plan.networks.get(name) ?? []);

test('a fresh node: sandbox, br0, vxlan made outside then moved in, the peer, the task leg', () => {
  const plan = planAll(ctx, desired(), EMPTY);
  const ve = sandboxLegName('t1');
  const label = formatLegLabel({ taskId: 't1', taskIf: 'eth0', address: '10.0.1.3/24' });
  assert.deepEqual(networkLines(plan), [
    'ip netns add swl_ov-4097',
    'ip -n swl_ov-4097 link set lo up',
    'ip -n swl_ov-4097 link add br0 mtu 1450 type bridge',
    'ip -n swl_ov-4097 addr add 10.0.1.1/24 dev br0',
    'ip -n swl_ov-4097 link set br0 up',
    'ip link del swl_vx4097',
    'ip link add swl_vx4097 mtu 1450 type vxlan id 4097 dstport 4789 local 198.18.0.11 nolearning proxy',
    'ip link set dev swl_vx4097 netns swl_ov-4097 name vxlan0',
    'ip -n swl_ov-4097 link set vxlan0 master br0 up',
    'bridge -n swl_ov-4097 fdb append 02:42:0a:00:01:04 dev vxlan0 dst 198.18.0.12 self permanent',
    'ip -n swl_ov-4097 neigh replace 10.0.1.4 lladdr 02:42:0a:00:01:04 dev vxlan0 nud permanent',
    `ip -n swl_ov-4097 link add ${ve} mtu 1450 type veth peer name eth0 netns /run/netns/t1`,
    `ip -n swl_ov-4097 link set ${ve} alias '${label}'`,
    'nsenter --net=/run/netns/t1 ip link set eth0 address 02:42:0a:00:01:03 mtu 1450',
    'nsenter --net=/run/netns/t1 ip addr add 10.0.1.3/24 dev eth0',
    'nsenter --net=/run/netns/t1 ip link set eth0 up',
    `ip -n swl_ov-4097 link set ${ve} master br0 up`,
  ]);
  const gw = lines(plan.gateway);
  const leg = gatewayLegName('swl', 't1', new Set());
  assert.deepEqual(gw.slice(0, 4), [
    'sysctl -q -w net.ipv4.ip_forward=1',
    'ip link add swl_gwbridge type bridge',
    'ip addr add 172.18.0.1/16 dev swl_gwbridge',
    'ip link set swl_gwbridge up',
  ]);
  assert.match(gw[4], /^nft -f - <<'EOF'\ntable inet swl_gw \{\}\ndelete table inet swl_gw\n/);
  assert.match(gw[4], /ip saddr 172\.18\.0\.0\/16 oifname != "swl_gwbridge" masquerade/);
  assert.deepEqual(gw.slice(5), [
    'nsenter --net=/run/netns/t1 ip link del gw0',
    'nsenter --net=/run/netns/t1 ip link add gw0 type veth peer name gw0-node',
    `nsenter --net=/run/netns/t1 ip link set gw0-node alias '${formatLegLabel({ taskId: 't1', taskIf: 'gw0', address: '172.18.0.2/16' })}'`,
    `nsenter --net=/run/netns/t1 ip link set gw0-node netns /proc/1/ns/net name ${leg}`,
    'nsenter --net=/run/netns/t1 ip addr add 172.18.0.2/16 dev gw0',
    'nsenter --net=/run/netns/t1 ip link set gw0 up',
    'nsenter --net=/run/netns/t1 ip route replace default via 172.18.0.1 dev gw0',
    `ip link set ${leg} master swl_gwbridge`,
    `bridge link set dev ${leg} isolated on`,
    `ip link set ${leg} up`,
  ]);
  // The vxlan's create-and-move shares a name in the node's namespace: it runs under the node lock.
  assert.equal(plan.networks.get(SB)?.filter((s) => s.nodeExclusive).length, 1);
});

test('the converged state plans nothing (a second sync, or a restart, changes nothing)', () => {
  const plan = planAll(ctx, desired(), converged());
  assert.equal(plan.networks.size, 0);
  assert.deepEqual(plan.gateway, []);
});

test('a peer joins: one FDB entry and one neighbor entry, nothing else', () => {
  const d = desired();
  d.peers.push({ networkId: 'net1', ip: '10.0.1.9', vtep: '198.18.0.13' });
  assert.deepEqual(networkLines(planAll(ctx, d, converged())), [
    'bridge -n swl_ov-4097 fdb append 02:42:0a:00:01:09 dev vxlan0 dst 198.18.0.13 self permanent',
    'ip -n swl_ov-4097 neigh replace 10.0.1.9 lladdr 02:42:0a:00:01:09 dev vxlan0 nud permanent',
  ]);
});

test('a peer leaves: its neighbor entry, then its FDB entry, are removed', () => {
  assert.deepEqual(networkLines(planAll(ctx, desired({ peers: [] }), converged())), [
    'ip -n swl_ov-4097 neigh del 10.0.1.4 dev vxlan0',
    'bridge -n swl_ov-4097 fdb del 02:42:0a:00:01:04 dev vxlan0 dst 198.18.0.12 self',
    'bridge -n swl_ov-4097 fdb del 02:42:0a:00:01:04 dev vxlan0 master',
  ]);
});

test('a peer moves to another node: only its FDB entry changes', () => {
  const d = desired({ peers: [{ networkId: 'net1', ip: '10.0.1.4', vtep: '198.18.0.13' }] });
  assert.deepEqual(networkLines(planAll(ctx, d, converged())), [
    'bridge -n swl_ov-4097 fdb del 02:42:0a:00:01:04 dev vxlan0 dst 198.18.0.12 self',
    'bridge -n swl_ov-4097 fdb append 02:42:0a:00:01:04 dev vxlan0 dst 198.18.0.13 self permanent',
  ]);
});

test('peers that are not for this sandbox are ignored: own VTEP, local task, outside the subnets', () => {
  const d = desired();
  d.peers.push(
    { networkId: 'net1', ip: '10.0.1.3', vtep: '198.18.0.12' }, // a local task's address (stale gossip)
    { networkId: 'net1', ip: '10.0.1.8', vtep: '198.18.0.11' }, // announced by this node itself
    { networkId: 'net1', ip: '10.9.9.9', vtep: '198.18.0.12' }, // not in the network's subnets
    { networkId: 'net2', ip: '10.0.1.7', vtep: '198.18.0.12' }, // another network
  );
  assert.equal(planAll(ctx, d, converged()).networks.size, 0);
});

test('a duplicate FDB destination left by an earlier run is removed, the right one kept', () => {
  const o = converged();
  o.sandboxes[0].fdb.push({ mac: '02:42:0a:00:01:04', dst: '198.18.0.99' });
  assert.deepEqual(networkLines(planAll(ctx, desired(), o)), [
    'bridge -n swl_ov-4097 fdb del 02:42:0a:00:01:04 dev vxlan0 dst 198.18.0.99 self',
  ]);
});

test('a subnet added to the network: its gateway goes on br0', () => {
  const d = desired();
  d.networks[0].subnets.push({ subnet: '10.0.2.0/24', gateway: '10.0.2.1' });
  assert.deepEqual(networkLines(planAll(ctx, d, converged())), [
    'ip -n swl_ov-4097 addr add 10.0.2.1/24 dev br0',
  ]);
});

test('a second task on the node gets its own leg and the next gateway-bridge address', () => {
  const d = desired();
  d.tasks.push({
    taskId: 't2',
    netnsPath: '/run/netns/t2',
    attachments: [{ networkId: 'net1', address: '10.0.1.5/24' }],
  });
  const plan = planAll(ctx, d, converged());
  assert.equal(plan.networks.get(SB)?.length, 1);
  assert.match(
    networkLines(plan)[0],
    /link add ve\w+ mtu 1450 type veth peer name eth0 netns \/run\/netns\/t2$/,
  );
  assert.ok(lines(plan.gateway).includes('nsenter --net=/run/netns/t2 ip addr add 172.18.0.3/16 dev gw0'));
});

test('a pinned gateway address (the ingress sandbox) is taken from whoever holds it', () => {
  const d = desired();
  d.tasks.push({
    taskId: 'sbox',
    netnsPath: '/run/netns/sbox',
    attachments: [{ networkId: 'net1', address: '10.0.1.9/24' }],
    gatewayAddress: '172.18.0.2/16',
  });
  const gw = lines(planAll(ctx, d, converged()).gateway);
  assert.ok(
    gw.includes(`ip link del ${gatewayLegName('swl', 't1', new Set())}`),
    "t1's leg held .2: it goes",
  );
  assert.ok(gw.includes('nsenter --net=/run/netns/sbox ip addr add 172.18.0.2/16 dev gw0'));
  assert.ok(gw.includes('nsenter --net=/run/netns/t1 ip addr add 172.18.0.3/16 dev gw0'), 't1 moves to .3');
  d.tasks[1]!.gatewayAddress = '192.168.0.2/16';
  assert.throws(() => planAll(ctx, d, converged()), /not in 172\.18\.0\.0\/16/);
});

test('the last local task leaves: the sandbox (vxlan0 first) and the gateway bridge go', () => {
  const o = converged();
  const plan = planAll(ctx, desired({ tasks: [] }), o);
  assert.deepEqual(networkLines(plan), [
    'ip -n swl_ov-4097 link del vxlan0',
    `ip -n swl_ov-4097 link del ${sandboxLegName('t1')}`,
    'ip netns del swl_ov-4097',
  ]);
  assert.deepEqual(lines(plan.gateway), [
    `ip link del ${o.gateway.legs[0].ifName}`,
    'ip link del swl_gwbridge',
    'nft delete table inet swl_gw',
  ]);
});

test('a restarted daemon re-adopting its tasks keeps a sandbox and legs whose tasks have not attached again', () => {
  // The first sync after a restart may come from another network's attach (the ingress sandbox's):
  // t1 is still running but not re-attached yet. Its sandbox, its leg and its peers must stay.
  const adopting = desired({ tasks: [], adopting: { detached: [] } });
  assert.equal(planAll(ctx, adopting, converged()).networks.size, 0);
  // A second task re-attached first: t1's leg on the same sandbox is kept, the new one is added.
  const t2 = {
    taskId: 't2',
    netnsPath: '/run/netns/t2',
    attachments: [{ networkId: 'net1', address: '10.0.1.5/24' }],
  };
  const partly = networkLines(
    planAll(ctx, desired({ tasks: [t2], adopting: { detached: [] } }), converged()),
  );
  assert.ok(!partly.some((l) => l.includes(`del ${sandboxLegName('t1')}`)), partly.join('\n'));
  assert.ok(partly.some((l) => l.includes(`link add ${sandboxLegName('t2')}`)));
});

test('while re-adopting, a task detached since the restart still has its leg and idle sandbox removed', () => {
  const plan = planAll(ctx, desired({ tasks: [], adopting: { detached: ['t1'] } }), converged());
  assert.deepEqual(networkLines(plan), [
    'ip -n swl_ov-4097 link del vxlan0',
    `ip -n swl_ov-4097 link del ${sandboxLegName('t1')}`,
    'ip netns del swl_ov-4097',
  ]);
});

test('a task on an internal network only: no gateway leg, no gateway bridge', () => {
  const d = desired();
  d.networks[0].internal = true;
  const plan = planAll(ctx, d, EMPTY);
  assert.ok(plan.networks.has(SB));
  assert.deepEqual(plan.gateway, []);
});

test('a task with no network (a host-mode port) gets the gateway bridge and its leg, no sandbox', () => {
  // Issue 18, fault 5: such a task had only lo, so its published port never answered.
  const d = desired({
    networks: [],
    peers: [],
    tasks: [{ taskId: 'solo', netnsPath: '/run/netns/solo', attachments: [] }],
  });
  const plan = planAll(ctx, d, EMPTY);
  assert.deepEqual([...plan.networks.keys()], []);
  const gw = lines(plan.gateway);
  assert.ok(gw.includes('ip link add swl_gwbridge type bridge'), gw.join('\n'));
  assert.ok(
    gw.some((l) => l.includes('/run/netns/solo') && l.includes('route') && l.includes('default')),
    gw.join('\n'),
  );
});

test('a task on two networks: eth0 and eth1, one sandbox each, one gateway leg', () => {
  const d = desired();
  d.networks.push({
    id: 'net2',
    vni: 4098,
    subnets: [{ subnet: '10.0.2.0/24', gateway: '10.0.2.1' }],
    internal: true,
  });
  d.tasks[0].attachments.push({ networkId: 'net2', address: '10.0.2.3/24' });
  const plan = planAll(ctx, d, converged());
  assert.deepEqual([...plan.networks.keys()], ['swl_ov-4098']);
  assert.ok(
    networkLines(plan, 'swl_ov-4098').some((l) => l.endsWith('type veth peer name eth1 netns /run/netns/t1')),
  );
  assert.deepEqual(plan.gateway, []);
});

test('a container plugged in through the CNM interface: its interface name, and no gateway leg without egress', () => {
  const d = desired();
  d.tasks[0].attachments[0]!.ifName = 'eth2';
  d.tasks[0].egress = false;
  const plan = planAll(ctx, d, EMPTY);
  assert.ok(networkLines(plan).some((l) => l.endsWith('type veth peer name eth2 netns /run/netns/t1')));
  assert.deepEqual(plan.gateway, []);
  delete d.tasks[0].egress;
  assert.ok(lines(planAll(ctx, d, EMPTY).gateway).some((l) => l.includes('route replace default')));
});

test('a vxlan device with the wrong source address is recreated and its entries programmed again', () => {
  const o = converged();
  o.sandboxes[0].vxlan = { ...o.sandboxes[0].vxlan!, local: '198.18.0.50' };
  const got = networkLines(planAll(ctx, desired(), o));
  assert.equal(got[0], 'ip -n swl_ov-4097 link del vxlan0');
  assert.ok(got.includes('ip link set dev swl_vx4097 netns swl_ov-4097 name vxlan0'));
  assert.ok(got.some((l) => l.includes('fdb append 02:42:0a:00:01:04')));
  assert.ok(got.some((l) => l.includes('neigh replace 10.0.1.4')));
});

test('leftovers of interrupted steps are removed: an unlabeled leg, a leg off br0, a temporary vxlan', () => {
  const o = converged();
  o.sandboxes[0].legs.push({ ifName: 've0000', master: undefined, up: false });
  o.sandboxes[0].legs[0].master = undefined; // t1's leg never reached br0
  o.strayTempVxlans = ['swl_vx4099'];
  const plan = planAll(ctx, desired(), o);
  const got = networkLines(plan);
  assert.equal(got[0], `ip -n swl_ov-4097 link del ${sandboxLegName('t1')}`);
  assert.equal(got[1], 'ip -n swl_ov-4097 link del ve0000');
  assert.ok(got.includes(`ip -n swl_ov-4097 link set ${sandboxLegName('t1')} master br0 up`));
  assert.deepEqual(lines(plan.gateway), ['ip link del swl_vx4099']);
  assert.equal(plan.gateway[0].nodeExclusive, true);
});

test('MTU: the underlay minus 50 bytes, or the network option', () => {
  const jumbo = planAll(ctx, desired(), { ...EMPTY, underlayMtu: 9000 });
  assert.ok(networkLines(jumbo).includes('ip -n swl_ov-4097 link add br0 mtu 8950 type bridge'));
  const d = desired();
  d.networks[0].mtu = 1400;
  const fixed = networkLines(planAll(ctx, d, EMPTY));
  assert.ok(fixed.some((l) => l.startsWith('ip link add swl_vx4097 mtu 1400 type vxlan')));
  // A changed MTU on a converged node is set in place, not by rebuilding.
  assert.deepEqual(networkLines(planAll(ctx, d, converged())).slice(0, 2), [
    'ip -n swl_ov-4097 link set br0 mtu 1400',
    'ip -n swl_ov-4097 link set vxlan0 mtu 1400',
  ]);
});

test('a sandbox of a network this node no longer knows is removed', () => {
  const o = converged();
  o.sandboxes.push({ ...convergedSandbox(), netns: 'swl_ov-5000', vni: 5000, legs: [] });
  const plan = planAll(ctx, desired(), o);
  assert.deepEqual(networkLines(plan, 'swl_ov-5000'), [
    'ip -n swl_ov-5000 link del vxlan0',
    'ip netns del swl_ov-5000',
  ]);
});

test('a long lab prefix: names stay within 15 bytes and start with the prefix', () => {
  const long: PlanContext = { prefix: 'lababcde-n100', nodeNetnsPath: '/run/netns/x' };
  const plan = planAll(long, desired(), EMPTY);
  const nodeNames = [...lines(plan.gateway), ...networkLines(plan, 'lababcde-n100_ov-4097')]
    .flatMap((l) => /^ip link (?:add|set dev|set) (\S+)/.exec(l)?.[1] ?? [])
    .filter((n) => n !== 'dev');
  assert.ok(nodeNames.length >= 3);
  for (const n of nodeNames) {
    assert.ok(Buffer.byteLength(n) <= 15, n);
    assert.ok(n.startsWith('lababcde-n100_'), n);
  }
});

test('a gateway table masquerading another subnet (or missing a chain) is replaced whole', () => {
  const o = converged();
  o.gateway.nftTable = { chains: ['postrouting', 'forward'], masqueradeSource: '172.19.0.0/16' };
  const got = lines(planAll(ctx, desired(), o).gateway);
  assert.equal(got.length, 1);
  assert.match(got[0], /^nft -f - <<'EOF'\ntable inet swl_gw \{\}\ndelete table inet swl_gw\n/);
  o.gateway.nftTable = { chains: ['postrouting'], masqueradeSource: '172.18.0.0/16' };
  assert.equal(lines(planAll(ctx, desired(), o).gateway).length, 1);
});
