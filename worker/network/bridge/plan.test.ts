import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeCommand } from '../commands.js';
import { bridgeName, legLabel, macFromAddress, tempBridgeName, tempLegName, vethName } from './names.js';
import { renderTable } from './nft.js';
import { parseLinks, parseRouteSubnets } from './observe.js';
import { planBridge, planLeave, planLeg, planRemove } from './plan.js';
import type { DesiredLeg, ObservedLink, Step } from './types.js';

const NET = 'a1b2c3d4e5f6a7b8c9d0';
const lines = (steps: Step[]) => steps.flatMap((s) => s.commands.map((c) => describeCommand(c)));
const want = {
  owner: 'swl',
  networkId: NET,
  bridge: 'br-a1b2c3d4e5f6',
  addresses: ['172.19.0.1/16'],
  mtu: 1500,
};
const bridgeUp: ObservedLink = {
  ifName: 'br-a1b2c3d4e5f6',
  kind: 'bridge',
  alias: `swarmlite-bridge owner=swl net=${NET}`,
  mtu: 1500,
  up: true,
  addresses: ['172.19.0.1/16'],
};
const leg: DesiredLeg = {
  owner: 'swl',
  networkId: NET,
  endpointId: 'ep1',
  bridge: 'br-a1b2c3d4e5f6',
  hostIf: vethName('ep1'),
  sandboxPath: '/run/netns/c1',
  ifName: 'eth0',
  address: '172.19.0.2/16',
  mac: macFromAddress('172.19.0.2/16'),
  mtu: 1500,
  gateway: '172.19.0.1',
};
const label = legLabel('swl', {
  networkId: NET,
  endpointId: 'ep1',
  ifName: 'eth0',
  address: '172.19.0.2/16',
  gateway: '172.19.0.1',
});
const finishedLeg: ObservedLink = {
  ifName: leg.hostIf,
  kind: 'veth',
  alias: label,
  master: 'br-a1b2c3d4e5f6',
  mtu: 1500,
  up: true,
  addresses: [],
};

test('names: Docker-shaped bridge and veth names, the option and the default network', () => {
  const net = { id: NET, name: 'n', driver: 'bridge', subnets: [], internal: false, options: {} };
  assert.equal(bridgeName(net), 'br-a1b2c3d4e5f6');
  assert.equal(
    bridgeName({ ...net, options: { 'com.docker.network.bridge.default_bridge': 'true' } }),
    'swl0',
  );
  assert.equal(bridgeName({ ...net, options: { 'com.docker.network.bridge.name': 'mybr' } }), 'mybr');
  assert.throws(
    () => bridgeName({ ...net, options: { 'com.docker.network.bridge.name': 'a-name-far-too-long' } }),
    /not an interface name/,
  );
  assert.match(vethName('ep1'), /^veth[0-9a-f]{7}$/);
  assert.equal(macFromAddress('172.19.0.2/16'), '02:42:ac:13:00:02');
});

test('a new network: its bridge made labelled, addressed, up', () => {
  const tmp = tempBridgeName(NET);
  assert.match(tmp, /^brtmp[0-9a-f]{10}$/);
  assert.deepEqual(lines(planBridge(want, [])), [
    `ip link del ${tmp}`,
    `ip link add name ${tmp} mtu 1500 type bridge`,
    `ip link set ${tmp} alias 'swarmlite-bridge owner=swl net=${NET}'`,
    `ip link set ${tmp} name br-a1b2c3d4e5f6`,
    'ip addr add 172.19.0.1/16 dev br-a1b2c3d4e5f6',
    'ip link set br-a1b2c3d4e5f6 up',
  ]);
  assert.deepEqual(planBridge(want, [bridgeUp]), []);
});

test('a bridge that drifted is repaired; one that is not ours is refused', () => {
  const drifted = { ...bridgeUp, mtu: 1400, up: false, addresses: ['172.19.0.254/16'] };
  assert.deepEqual(lines(planBridge(want, [drifted])), [
    'ip link set br-a1b2c3d4e5f6 mtu 1500',
    'ip addr del 172.19.0.254/16 dev br-a1b2c3d4e5f6',
    'ip addr add 172.19.0.1/16 dev br-a1b2c3d4e5f6',
    'ip link set br-a1b2c3d4e5f6 up',
  ]);
  assert.throws(
    () => planBridge(want, [{ ...bridgeUp, alias: undefined }]),
    /already exists on this node and is not/,
  );
  assert.throws(
    () => planBridge(want, [{ ...bridgeUp, alias: 'swarmlite-bridge owner=swl net=other' }]),
    /is not the bridge/,
  );
  assert.throws(() => planBridge(want, [{ ...bridgeUp, kind: 'veth' }]), /is not the bridge/);
});

test('a leg: veth born labelled, sandbox end set up with the default route, put on the bridge last', () => {
  const tmp = tempLegName('ep1');
  assert.deepEqual(lines(planLeg(leg, [bridgeUp])), [
    `ip link del ${tmp}`,
    `ip link add name ${tmp} mtu 1500 type veth peer name eth0 mtu 1500 netns /run/netns/c1`,
    `ip link set ${tmp} alias '${label}'`,
    `ip link set ${tmp} name ${leg.hostIf}`,
    'nsenter --net=/run/netns/c1 ip link set lo up',
    'nsenter --net=/run/netns/c1 ip link set eth0 address 02:42:ac:13:00:02',
    'nsenter --net=/run/netns/c1 ip addr add 172.19.0.2/16 dev eth0',
    'nsenter --net=/run/netns/c1 ip link set eth0 up',
    'nsenter --net=/run/netns/c1 ip route replace default via 172.19.0.1 dev eth0',
    `ip link set ${leg.hostIf} master br-a1b2c3d4e5f6`,
    `bridge link set dev ${leg.hostIf} hairpin on`,
    `ip link set ${leg.hostIf} up`,
  ]);
  assert.deepEqual(planLeg(leg, [bridgeUp, finishedLeg]), []);
  const second = lines(planLeg({ ...leg, gateway: undefined, ifName: 'eth1' }, []));
  assert.ok(second.every((l) => !l.includes('route')));
});

test('an unfinished or outdated leg is removed and made again; a foreign device of its name is refused', () => {
  for (const half of [
    { ...finishedLeg, master: undefined },
    { ...finishedLeg, up: false },
    { ...finishedLeg, alias: label.replace('172.19.0.2/16', '172.19.0.9/16') },
  ]) {
    const out = lines(planLeg(leg, [half]));
    assert.equal(out[0], `ip link del ${leg.hostIf}`);
    assert.equal(out[1], `ip link del ${tempLegName('ep1')}`);
    assert.match(out[2]!, /^ip link add name vetmp/);
  }
  assert.throws(() => planLeg(leg, [{ ...finishedLeg, alias: undefined }]), /is not endpoint ep1's/);
});

test('leave and remove touch only what carries the labels', () => {
  const foreign: ObservedLink = { ifName: 'veth0000000', kind: 'veth', mtu: 1500, up: true, addresses: [] };
  const otherNet: ObservedLink = {
    ...bridgeUp,
    ifName: 'br-other',
    alias: 'swarmlite-bridge owner=swl net=other',
  };
  const links = [bridgeUp, finishedLeg, foreign, otherNet];
  assert.deepEqual(lines(planLeave('swl', NET, 'ep1', links)), [`ip link del ${leg.hostIf}`]);
  assert.deepEqual(planLeave('swl', NET, 'ep2', links), []);
  assert.deepEqual(lines(planRemove('swl', NET, links)), [
    `ip link del ${leg.hostIf}`,
    'ip link del br-a1b2c3d4e5f6',
  ]);
  assert.deepEqual(lines(planRemove('swl', undefined, links)), [
    `ip link del ${leg.hostIf}`,
    'ip link del br-a1b2c3d4e5f6',
    'ip link del br-other',
  ]);
});

test('the nftables table: isolation, internal, masquerade (golden)', () => {
  assert.equal(
    renderTable('swl_bridge', [
      { bridge: 'swl0', subnets: ['172.17.0.0/16'], internal: false },
      { bridge: 'br-internal01', subnets: ['172.20.0.0/16'], internal: true },
    ]),
    `table inet swl_bridge {}
delete table inet swl_bridge
table inet swl_bridge {
  set bridges {
    type ifname
    elements = { "br-internal01", "swl0" }
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    iifname "br-internal01" oifname != "br-internal01" drop
    oifname "br-internal01" iifname != "br-internal01" drop
    iifname "br-internal01" oifname @bridges oifname != "br-internal01" drop
    iifname "swl0" oifname @bridges oifname != "swl0" drop
    oifname @bridges ct state established,related accept
    oifname @bridges ct status dnat accept
    oifname "br-internal01" iifname != "br-internal01" drop
    oifname "swl0" iifname != "swl0" drop
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    ip saddr 172.17.0.0/16 oifname != "swl0" masquerade
  }
}
`,
  );
  assert.equal(renderTable('swl_bridge', []), 'table inet swl_bridge {}\ndelete table inet swl_bridge\n');
});

test('observe: ip -d -j addr show parsed (IPv4 only, flags, master, alias)', () => {
  const captured = JSON.stringify([
    {
      ifname: 'lo',
      flags: ['LOOPBACK', 'UP'],
      mtu: 65536,
      addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }],
    },
    {
      ifname: 'br-a1b2c3d4e5f6',
      ifalias: `swarmlite-bridge owner=swl net=${NET}`,
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      mtu: 1500,
      linkinfo: { info_kind: 'bridge' },
      addr_info: [
        { family: 'inet', local: '172.19.0.1', prefixlen: 16 },
        { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
      ],
    },
    {
      ifname: leg.hostIf,
      ifalias: label,
      master: 'br-a1b2c3d4e5f6',
      flags: ['BROADCAST'],
      mtu: 1500,
      linkinfo: { info_kind: 'veth' },
    },
  ]);
  const links = parseLinks(captured);
  assert.deepEqual(links[1], bridgeUp);
  assert.deepEqual(links[2], { ...finishedLeg, up: false });
  assert.deepEqual(parseLinks(''), []);
  assert.throws(() => parseLinks('{}'), /not print a list/);
});

test("observe: the node's route destinations, unicast only, without the default route", () => {
  const captured = JSON.stringify([
    { dst: 'default', gateway: '198.18.0.1', dev: 'eth0' },
    { dst: '198.18.0.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '198.18.0.11' },
    { dst: '10.1.2.3', gateway: '198.18.0.1', dev: 'eth0' },
    { type: 'local', dst: '198.18.0.11', table: 'local', dev: 'eth0' },
    { type: 'broadcast', dst: '198.18.0.255', table: 'local', dev: 'eth0' },
  ]);
  assert.deepEqual(parseRouteSubnets(captured), ['10.1.2.3/32', '198.18.0.0/24']);
});

test('the nftables table with published ports: DNAT in prerouting and output, hairpin and loopback masquerade', () => {
  const text = renderTable(
    'swl_bridge',
    [{ bridge: 'swl0', subnets: ['172.17.0.0/16'], internal: false }],
    [
      { bridge: 'swl0', ip: '172.17.0.2', port: { protocol: 'udp', hostPort: 5353, containerPort: 53 } },
      {
        bridge: 'swl0',
        ip: '172.17.0.3',
        port: { protocol: 'tcp', hostPort: 8080, containerPort: 80, hostIp: '198.18.0.11' },
      },
    ],
  );
  assert.equal(
    text.slice(text.indexOf('  chain postrouting')),
    `  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    ip saddr 172.17.0.0/16 oifname != "swl0" masquerade
    ip saddr 172.17.0.0/16 oifname "swl0" ct status dnat masquerade
    ip saddr 127.0.0.0/8 oifname "swl0" ct status dnat masquerade
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    ip daddr 198.18.0.11 tcp dport 8080 dnat ip to 172.17.0.3:80
    fib daddr type local udp dport 5353 dnat ip to 172.17.0.2:53
  }
  chain output {
    type nat hook output priority -100; policy accept;
    ip daddr 198.18.0.11 tcp dport 8080 dnat ip to 172.17.0.3:80
    fib daddr type local udp dport 5353 dnat ip to 172.17.0.2:53
  }
}
`,
  );
});

test("another daemon's devices (another prefix in the label) are never taken or removed", () => {
  const links = [bridgeUp, finishedLeg];
  assert.deepEqual(planRemove('swl2', undefined, links), []);
  assert.deepEqual(planLeave('swl2', NET, 'ep1', links), []);
  assert.throws(() => planBridge({ ...want, owner: 'swl2' }, links), /is not the bridge/);
  assert.throws(() => planLeg({ ...leg, owner: 'swl2' }, links), /is not endpoint ep1's/);
});
