import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ObservedLink, Step } from '../bridge/types.js';
import { describeCommand } from '../commands.js';
import type { NetworkConfig } from '../driver.js';
import {
  kernelHas,
  missingFeature,
  KernelFeatures,
  type KernelFeature,
  type ProbeOutcome,
} from './kernel.js';
import { dummyName, legLabel, parentLabel, tempLegName, tempParentName } from './names.js';
import {
  featureFor,
  parentWork,
  planJoin,
  planLeave,
  planParent,
  planRemove,
  joinInfoOf,
  macvlanLeg,
  type DesiredLeg,
  type LegRequest,
} from './plan.js';
import { checkAgainstOthers, settingsOf, vlanOf } from './settings.js';

const NET = 'a1b2c3d4e5f6a7b8c9d0';
const lines = (steps: Step[]) => steps.flatMap((s) => s.commands.map((c) => describeCommand(c)));
const link = (ifName: string, extra: Partial<ObservedLink> = {}): ObservedLink => ({
  ifName,
  mtu: 1500,
  up: true,
  addresses: [],
  ...extra,
});
const network = (options: Record<string, string>, extra: Partial<NetworkConfig> = {}): NetworkConfig => ({
  id: NET,
  name: 'lan',
  driver: 'macvlan',
  subnets: [{ subnet: '198.18.5.0/24', gateway: '198.18.5.1' }],
  internal: false,
  options,
  ...extra,
});
const leg: DesiredLeg = {
  kind: 'macvlan',
  owner: 'swl',
  networkId: NET,
  endpointId: 'ep1',
  parent: 'eth0',
  mode: 'bridge',
  sandboxPath: '/run/netns/c1',
  ifName: 'eth0',
  address: '198.18.5.10/24',
  mac: '02:42:c6:12:05:0a',
  route: { via: '198.18.5.1' },
};
const label = legLabel('macvlan', 'swl', {
  networkId: NET,
  endpointId: 'ep1',
  ifName: 'eth0',
  address: '198.18.5.10/24',
  gateway: '198.18.5.1',
});
const tmp = tempLegName('macvlan', 'ep1');
const NODE_LINKS = [link('lo'), link('eth0', { addresses: ['198.18.5.2/24'] })];

test('settings: Docker defaults and options, each mistake refused by name', () => {
  assert.deepEqual(settingsOf('macvlan', network({ parent: 'eth0' })), {
    parent: 'eth0',
    dummy: false,
    mode: 'bridge',
    internal: false,
  });
  assert.deepEqual(settingsOf('ipvlan', network({ parent: 'eth0', ipvlan_mode: 'l3' }, { mtu: 1400 })), {
    parent: 'eth0',
    dummy: false,
    mode: 'l3',
    mtu: 1400,
    internal: false,
  });
  // No parent: Docker's dummy, and an internal network.
  assert.deepEqual(settingsOf('macvlan', network({})), {
    parent: dummyName(NET),
    dummy: true,
    mode: 'bridge',
    internal: true,
  });
  assert.equal(dummyName(NET), 'dm-a1b2c3d4e5f6');
  for (const mode of ['bridge', 'private', 'vepa', 'passthru'])
    assert.equal(settingsOf('macvlan', network({ parent: 'eth0', macvlan_mode: mode })).mode, mode);
  const refused: [string, NetworkConfig, RegExp][] = [
    ['a bad mode', network({ parent: 'eth0', macvlan_mode: 'l2' }), /macvlan_mode=l2 is not a macvlan mode/],
    ['an ipvlan mode', network({ parent: 'eth0', ipvlan_mode: 'bridge' }), /ipvlan_mode=bridge/],
    ['a bad name', network({ parent: 'eth0;rm' }), /parent=eth0;rm is not an interface name/],
    ['no subnet', network({ parent: 'eth0' }, { subnets: [] }), /macvlan network lan needs a subnet/],
    [
      'a gateway outside',
      network({ parent: 'eth0' }, { subnets: [{ subnet: '198.18.5.0/24', gateway: '10.0.0.1' }] }),
      /not a host address/,
    ],
    ['a bad MTU', network({ parent: 'eth0', 'com.docker.network.driver.mtu': '9' }), /MTU 9 .* not between/],
  ];
  for (const [what, net, message] of refused) {
    const kind = what === 'an ipvlan mode' ? 'ipvlan' : 'macvlan';
    assert.throws(() => settingsOf(kind, net), { name: 'NetworkDriverError', message }, what);
  }
  assert.deepEqual(vlanOf('eth0.100'), { base: 'eth0', id: 100 });
  assert.equal(vlanOf('eth0.4095'), undefined);
  assert.equal(vlanOf('eth0'), undefined);
});

test('a parent another network uses, or a subnet overlapping another, is refused', () => {
  const other = network({ parent: 'eth0', macvlan_mode: 'bridge' }, { id: 'f'.repeat(20), name: 'first' });
  const second = network(
    { parent: 'eth0', macvlan_mode: 'private' },
    { subnets: [{ subnet: '10.9.0.0/16', gateway: '10.9.0.1' }] },
  );
  assert.throws(
    () =>
      checkAgainstOthers('macvlan', second, settingsOf('macvlan', second), [{ kind: 'macvlan', net: other }]),
    /parent interface eth0 is already used by macvlan network first \(mode bridge\)/,
  );
  const overlapping = network(
    { parent: 'eth1' },
    { subnets: [{ subnet: '198.18.5.128/25', gateway: '198.18.5.129' }] },
  );
  assert.throws(
    () =>
      checkAgainstOthers('macvlan', overlapping, settingsOf('macvlan', overlapping), [
        { kind: 'macvlan', net: other },
      ]),
    /a subnet of network lan overlaps 198.18.5.0\/24 of macvlan network first/,
  );
  const fine = network({ parent: 'eth0.10' }, { subnets: [{ subnet: '10.9.0.0/16', gateway: '10.9.0.1' }] });
  checkAgainstOthers('macvlan', fine, settingsOf('macvlan', fine), [{ kind: 'macvlan', net: other }]);
  // The same network again is not a conflict with itself.
  checkAgainstOthers('macvlan', other, settingsOf('macvlan', other), [{ kind: 'macvlan', net: other }]);
  // The other kind on the same parent: the kernel puts one kind of port on a device.
  const ipv = network(
    { parent: 'eth0', ipvlan_mode: 'l3' },
    { subnets: [{ subnet: '10.9.0.0/16', gateway: '10.9.0.1' }] },
  );
  assert.throws(
    () => checkAgainstOthers('ipvlan', ipv, settingsOf('ipvlan', ipv), [{ kind: 'macvlan', net: other }]),
    /^NetworkDriverError: parent interface eth0 is already used by macvlan network first \(mode bridge\); a ipvlan network needs a parent of its own/,
  );
  assert.throws(
    () =>
      checkAgainstOthers('macvlan', second, settingsOf('macvlan', second), [
        { kind: 'ipvlan', net: { ...ipv, id: 'e'.repeat(20), name: 'routed', driver: 'ipvlan' } },
      ]),
    /already used by ipvlan network routed \(mode l3\)/,
  );
});

test('a macvlan leg: the default route via the gateway unless internal or not asked; MAC unless passthru', () => {
  const request = (
    options: Record<string, string>,
    extra: Partial<LegRequest> = {},
    net = {},
  ): LegRequest => ({
    owner: 'swl',
    networkId: NET,
    endpointId: 'ep1',
    settings: settingsOf('macvlan', network(options, net)),
    sandboxPath: '/run/netns/c1',
    ifName: 'eth0',
    address: '198.18.5.10/24',
    gateway: '198.18.5.1',
    defaultRoute: true,
    ...extra,
  });
  const table: [string, LegRequest, Partial<DesiredLeg>][] = [
    [
      'bridge, default route',
      request({ parent: 'eth0' }),
      { mode: 'bridge', mac: '02:42:c6:12:05:0a', route: { via: '198.18.5.1' } },
    ],
    [
      'no default route asked',
      request({ parent: 'eth0' }, { defaultRoute: false }),
      { mac: '02:42:c6:12:05:0a', route: undefined },
    ],
    ['internal', request({ parent: 'eth0' }, {}, { internal: true }), { route: undefined }],
    ['no parent: dummy, internal', request({}), { parent: dummyName(NET), route: undefined }],
    [
      'the MAC given',
      request({ parent: 'eth0' }, { mac: '02:00:00:00:00:01' }),
      { mac: '02:00:00:00:00:01' },
    ],
    [
      "passthru: the parent's MAC",
      request({ parent: 'eth0', macvlan_mode: 'passthru' }),
      { mode: 'passthru', mac: undefined },
    ],
    [
      'a VLAN parent and an MTU',
      request({ parent: 'eth0.100' }, {}, { mtu: 1400 }),
      { parent: 'eth0.100', mtu: 1400 },
    ],
  ];
  for (const [what, r, want] of table) {
    const got = macvlanLeg(r);
    for (const [key, value] of Object.entries(want))
      assert.deepEqual(got[key as keyof DesiredLeg], value, `${what}: ${key}`);
    assert.equal(got.kind, 'macvlan');
  }
  assert.deepEqual(joinInfoOf(macvlanLeg(request({ parent: 'eth0' }))), {
    ifName: 'eth0',
    address: '198.18.5.10/24',
    mac: '02:42:c6:12:05:0a',
    gateway: '198.18.5.1',
  });
});

test('kernel features: the probe outcome read as present, absent, or a failed probe', () => {
  const table: [KernelFeature, ProbeOutcome, boolean | RegExp][] = [
    ['vlan', { ok: true }, true],
    ['vlan', { ok: false, stderr: 'Error: Unknown device type.\n' }, false],
    ['ipvlan', { ok: false, stderr: 'Error: Unknown device type.\n' }, false],
    ['ipvlan', { ok: false, stderr: 'RTNETLINK answers: Operation not supported\n' }, false],
    ['dummy', { ok: true }, true],
    [
      'dummy',
      { ok: false, stderr: 'RTNETLINK answers: Operation not permitted\n' },
      /probing the kernel for CONFIG_DUMMY failed: RTNETLINK answers: Operation not permitted/,
    ],
  ];
  for (const [feature, outcome, want] of table) {
    if (want instanceof RegExp) assert.throws(() => kernelHas(feature, outcome), want);
    else assert.equal(kernelHas(feature, outcome), want, `${feature} ${JSON.stringify(outcome)}`);
  }
  assert.equal(
    missingFeature('vlan', 'parent eth0.100').message,
    'parent eth0.100 requires 802.1Q VLAN support (CONFIG_VLAN_8021Q), which this kernel lacks',
  );
  assert.equal(
    missingFeature('ipvlan', 'the ipvlan driver').message,
    'the ipvlan driver requires IPvlan support (CONFIG_IPVLAN), which this kernel lacks',
  );
});

test('kernel features are asked once each, and again after a failed probe', async () => {
  const asked: KernelFeature[] = [];
  let fail = true;
  const k = new KernelFeatures(async (f) => {
    asked.push(f);
    if (f === 'dummy' && fail) throw new Error('probe failed');
    return f === 'vlan';
  });
  assert.equal(await k.has('vlan'), true);
  assert.equal(await k.has('vlan'), true);
  assert.equal(await k.has('ipvlan'), false);
  await assert.rejects(k.has('dummy'), /probe failed/);
  fail = false;
  assert.equal(await k.has('dummy'), false);
  assert.deepEqual(asked, ['vlan', 'ipvlan', 'dummy', 'dummy']);
});

test('the parent: used as it is, a VLAN or a dummy made, anything else missing refused', () => {
  const s = (options: Record<string, string>) => settingsOf('macvlan', network(options));
  const work = (options: Record<string, string>, links = NODE_LINKS) =>
    parentWork('macvlan', 'swl', NET, s(options), links);
  assert.deepEqual(work({ parent: 'eth0' }), { make: 'none', bringUp: false });
  assert.deepEqual(work({ parent: 'eth0.100' }), { make: 'vlan', base: 'eth0', id: 100 });
  assert.equal(featureFor(work({ parent: 'eth0.100' })), 'vlan');
  assert.equal(featureFor(work({})), 'dummy');
  assert.equal(featureFor(work({ parent: 'eth0' })), undefined);
  assert.throws(() => work({ parent: 'eth9' }), /parent interface eth9 does not exist on this node$/);
  assert.throws(() => work({ parent: 'eth9.100' }), /nor does eth9 to make VLAN 100 on/);
  // A dummy of the wanted name that is not this network's: refused, never taken over.
  assert.throws(() => work({}, [...NODE_LINKS, link(dummyName(NET))]), /is not the dummy parent/);
  const ours = link('eth0.100', { kind: 'vlan', up: false, alias: parentLabel('macvlan', 'swl', NET) });
  assert.deepEqual(work({ parent: 'eth0.100' }, [...NODE_LINKS, ours]), { make: 'none', bringUp: true });
  const t = tempParentName(NET);
  assert.deepEqual(
    lines(planParent('macvlan', 'swl', NET, s({ parent: 'eth0.100' }), work({ parent: 'eth0.100' }))),
    [
      `ip link del ${t}`,
      `ip link add link eth0 name ${t} type vlan id 100`,
      `ip link set ${t} alias 'swarmlite-macvlan owner=swl net=${NET} parent'`,
      `ip link set ${t} name eth0.100`,
      'ip link set eth0.100 up',
    ],
  );
  assert.deepEqual(lines(planParent('macvlan', 'swl', NET, s({}), work({}))), [
    `ip link del ${t}`,
    `ip link add name ${t} type dummy`,
    `ip link set ${t} alias 'swarmlite-macvlan owner=swl net=${NET} parent'`,
    `ip link set ${t} name dm-a1b2c3d4e5f6`,
    'ip link set dm-a1b2c3d4e5f6 up',
  ]);
  assert.deepEqual(planParent('macvlan', 'swl', NET, s({ parent: 'eth0' }), work({ parent: 'eth0' })), []);
});

test('a join: made on the parent, labelled, moved into the sandbox, renamed and set up (golden)', () => {
  assert.match(tmp, /^mvtmp[0-9a-f]{10}$/);
  assert.deepEqual(lines(planJoin(leg, NODE_LINKS, [link('lo')])), [
    `ip link del ${tmp}`,
    `ip link add link eth0 name ${tmp} type macvlan mode bridge`,
    `ip link set ${tmp} alias '${label}'`,
    `ip link set ${tmp} netns /run/netns/c1`,
    `nsenter --net=/run/netns/c1 ip link set ${tmp} name eth0`,
    'nsenter --net=/run/netns/c1 ip link set lo up',
    'nsenter --net=/run/netns/c1 ip link set eth0 address 02:42:c6:12:05:0a',
    'nsenter --net=/run/netns/c1 ip addr add 198.18.5.10/24 dev eth0',
    'nsenter --net=/run/netns/c1 ip link set eth0 up',
    'nsenter --net=/run/netns/c1 ip route replace default via 198.18.5.1 dev eth0',
  ]);
  // ipvlan l3: no MAC of its own, MTU given, the default route straight out of the device.
  const l3: DesiredLeg = { ...leg, kind: 'ipvlan', mode: 'l3', mtu: 1400, route: 'dev' };
  delete l3.mac;
  const l3lines = lines(planJoin(l3, NODE_LINKS, []));
  assert.equal(
    l3lines[1],
    `ip link add link eth0 name ${tempLegName('ipvlan', 'ep1')} mtu 1400 type ipvlan mode l3`,
  );
  assert.ok(!l3lines.some((l) => l.includes(' address ')));
  assert.equal(l3lines.at(-1), 'nsenter --net=/run/netns/c1 ip route replace default dev eth0');
  // No default route asked for: none set.
  const { route: _route, ...noRoute } = leg;
  assert.ok(!lines(planJoin(noRoute, NODE_LINKS, [])).some((l) => l.includes('route')));
});

test('a finished leg is left alone; an interrupted or outdated one is made again; a foreign one refused', () => {
  const done = link('eth0', { kind: 'macvlan', alias: label });
  assert.deepEqual(planJoin(leg, NODE_LINKS, [link('lo'), done]), []);
  // Interrupted after the move: labelled, still under its temporary name in the sandbox.
  const moved = link(tmp, { kind: 'macvlan', alias: label, up: false });
  const again = lines(planJoin(leg, NODE_LINKS, [moved]));
  assert.equal(again[0], `nsenter --net=/run/netns/c1 ip link del ${tmp}`);
  // Interrupted before the move: the labelled device is still on the node.
  assert.equal(lines(planJoin(leg, [...NODE_LINKS, moved], []))[0], `ip link del ${tmp}`);
  // Set up for another address: removed and made again.
  const outdated = link('eth0', { kind: 'macvlan', alias: label.replace('198.18.5.10', '198.18.5.11') });
  assert.equal(
    lines(planJoin(leg, NODE_LINKS, [outdated]))[0],
    'nsenter --net=/run/netns/c1 ip link del eth0',
  );
  assert.throws(
    () => planJoin(leg, NODE_LINKS, [link('eth0', { kind: 'veth' })]),
    /interface eth0 already exists in sandbox \/run\/netns\/c1 and is not endpoint ep1's/,
  );
  // Another owner's label is not ours either.
  assert.throws(
    () => planJoin(leg, NODE_LINKS, [link('eth0', { alias: label.replace('owner=swl', 'owner=x') })]),
    /is not endpoint ep1's/,
  );
});

test('leave and remove touch only what carries the label', () => {
  const done = link('eth0', { kind: 'macvlan', alias: label });
  const other = link('eth1', {
    kind: 'macvlan',
    alias: label.replace('ep=ep1', 'ep=ep2').replace('if=eth0', 'if=eth1'),
  });
  assert.deepEqual(
    lines(
      planLeave('macvlan', 'swl', NET, 'ep1', NODE_LINKS, { path: '/run/netns/c1', links: [done, other] }),
    ),
    ['nsenter --net=/run/netns/c1 ip link del eth0'],
  );
  assert.deepEqual(planLeave('macvlan', 'swl', NET, 'ep1', NODE_LINKS), [], 'sandbox gone: nothing left');
  const vlan = link('eth0.100', { kind: 'vlan', alias: parentLabel('macvlan', 'swl', NET) });
  const others = link('eth0.200', { kind: 'vlan', alias: parentLabel('macvlan', 'swl', 'b'.repeat(20)) });
  const users = link('eth0.300', { kind: 'vlan' });
  const stray = link(tmp, { kind: 'macvlan', alias: label });
  const node = [...NODE_LINKS, vlan, others, users, stray];
  assert.deepEqual(lines(planRemove('macvlan', 'swl', NET, node)), [
    `ip link del ${tmp}`,
    'ip link del eth0.100',
  ]);
  assert.deepEqual(lines(planRemove('macvlan', 'swl', undefined, node)), [
    `ip link del ${tmp}`,
    'ip link del eth0.100',
    'ip link del eth0.200',
  ]);
  assert.deepEqual(planRemove('ipvlan', 'swl', undefined, node), [], "the ipvlan driver's labels differ");
});
