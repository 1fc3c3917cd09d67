import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Step } from '../bridge/types.js';
import { describeCommand } from '../commands.js';
import type { NetworkConfig } from '../driver.js';
import { legLabel, tempLegName, tempParentName } from '../macvlan/names.js';
import {
  joinInfoOf,
  parentWork,
  planJoin,
  planParent,
  planRemove,
  type DesiredLeg,
  type LegRequest,
} from '../macvlan/plan.js';
import { ipvlanLeg } from './plan.js';
import { checkIpvlanEndpoint, ipvlanSettings, routesWithoutGateway } from './settings.js';

const NET = 'c0ffee00c0ffee00c0ff';
const lines = (steps: Step[]) => steps.flatMap((s) => s.commands.map((c) => describeCommand(c)));
const link = (ifName: string, alias?: string) => ({
  ifName,
  mtu: 1500,
  up: true,
  addresses: [],
  ...(alias ? { alias } : {}),
});
const NODE_LINKS = [link('lo'), link('eth0')];
const network = (options: Record<string, string>, extra: Partial<NetworkConfig> = {}): NetworkConfig => ({
  id: NET,
  name: 'routed',
  driver: 'ipvlan',
  subnets: [{ subnet: '10.61.1.0/24', gateway: '10.61.1.1' }],
  internal: false,
  options,
  ...extra,
});
const request = (
  options: Record<string, string>,
  extra: Partial<LegRequest> = {},
  net: Partial<NetworkConfig> = {},
): LegRequest => ({
  owner: 'swl',
  networkId: NET,
  endpointId: 'ep1',
  settings: ipvlanSettings(network(options, net)),
  sandboxPath: '/run/netns/c1',
  ifName: 'eth0',
  address: '10.61.1.2/24',
  gateway: '10.61.1.1',
  defaultRoute: true,
  ...extra,
});

test('settings: l2 by default, l3 on request, macvlan modes refused; l3 routes without a gateway', () => {
  const table: [Record<string, string>, string | RegExp][] = [
    [{ parent: 'eth0' }, 'l2'],
    [{ parent: 'eth0', ipvlan_mode: 'l2' }, 'l2'],
    [{ parent: 'eth0.100', ipvlan_mode: 'l3' }, 'l3'],
    [
      { parent: 'eth0', ipvlan_mode: 'bridge' },
      /^ipvlan_mode=bridge is not a ipvlan mode \(one of l2, l3\)$/,
    ],
    [{ parent: 'eth0', ipvlan_mode: 'L3' }, /ipvlan_mode=L3 is not/],
    // macvlan's option means nothing to ipvlan: the mode stays l2, as Docker ignores foreign options.
    [{ parent: 'eth0', macvlan_mode: 'private' }, 'l2'],
    [{ parent: 'eth0 ' }, /parent=eth0 {2}is not an interface name/],
  ];
  for (const [options, want] of table) {
    if (want instanceof RegExp)
      assert.throws(() => ipvlanSettings(network(options)), { name: 'NetworkDriverError', message: want });
    else assert.equal(ipvlanSettings(network(options)).mode, want, JSON.stringify(options));
  }
  assert.equal(routesWithoutGateway(ipvlanSettings(network({ ipvlan_mode: 'l3' }))), true);
  assert.equal(routesWithoutGateway(ipvlanSettings(network({ ipvlan_mode: 'l2' }))), false);
  assert.throws(
    () => checkIpvlanEndpoint(network({}), { id: 'e', address: '10.61.1.2/24', mac: '02:00:00:00:00:01' }),
    /an endpoint on ipvlan network routed has the parent's MAC, not its own \(mac 02:00:00:00:00:01 given\)/,
  );
  checkIpvlanEndpoint(network({}), { id: 'e', address: '10.61.1.2/24' });
});

test('the leg: no MAC ever; the default route via the gateway in l2, out of the device in l3, none when internal or not asked', () => {
  const table: [string, LegRequest, Partial<DesiredLeg>][] = [
    ['l2', request({ parent: 'eth0' }), { mode: 'l2', route: { via: '10.61.1.1' } }],
    ['l3', request({ parent: 'eth0', ipvlan_mode: 'l3' }), { mode: 'l3', route: 'dev' }],
    ['l2 second network', request({ parent: 'eth0' }, { defaultRoute: false }), { route: undefined }],
    [
      'l3 second network',
      request({ ipvlan_mode: 'l3', parent: 'eth0' }, { defaultRoute: false }),
      { route: undefined },
    ],
    [
      'l3 internal',
      request({ parent: 'eth0', ipvlan_mode: 'l3' }, {}, { internal: true }),
      { route: undefined },
    ],
    ['no parent: the dummy, internal', request({}), { parent: 'dm-c0ffee00c0ff', route: undefined }],
    [
      'a VLAN parent',
      request({ parent: 'eth0.200', ipvlan_mode: 'l3' }),
      { parent: 'eth0.200', route: 'dev' },
    ],
    [
      'a MAC given is not used',
      request({ parent: 'eth0' }, { mac: '02:00:00:00:00:01' }),
      { mac: undefined },
    ],
    ['the MTU', request({ parent: 'eth0' }, {}, { mtu: 9000 }), { mtu: 9000 }],
  ];
  for (const [what, r, want] of table) {
    const got = ipvlanLeg(r);
    assert.equal(got.kind, 'ipvlan', what);
    assert.equal(got.mac, undefined, `${what}: no MAC`);
    for (const [key, value] of Object.entries(want))
      assert.deepEqual(got[key as keyof DesiredLeg], value, `${what}: ${key}`);
  }
  // What the caller hears: no gateway in l3 (Docker's inspect shows none), the gateway in l2.
  assert.deepEqual(joinInfoOf(ipvlanLeg(request({ parent: 'eth0', ipvlan_mode: 'l3' }))), {
    ifName: 'eth0',
    address: '10.61.1.2/24',
  });
  assert.equal(joinInfoOf(ipvlanLeg(request({ parent: 'eth0' }))).gateway, '10.61.1.1');
});

test('an l3 join on a VLAN parent (golden): the VLAN made with the network, the leg on it, default dev eth0', () => {
  const s = ipvlanSettings(network({ parent: 'eth0.200', ipvlan_mode: 'l3' }));
  const work = parentWork('ipvlan', 'swl', NET, s, NODE_LINKS);
  const t = tempParentName(NET);
  assert.deepEqual(lines(planParent('ipvlan', 'swl', NET, s, work)), [
    `ip link del ${t}`,
    `ip link add link eth0 name ${t} type vlan id 200`,
    `ip link set ${t} alias 'swarmlite-ipvlan owner=swl net=${NET} parent'`,
    `ip link set ${t} name eth0.200`,
    'ip link set eth0.200 up',
  ]);
  const leg = ipvlanLeg(request({ parent: 'eth0.200', ipvlan_mode: 'l3' }));
  const tmp = tempLegName('ipvlan', 'ep1');
  const label = legLabel('ipvlan', 'swl', {
    networkId: NET,
    endpointId: 'ep1',
    ifName: 'eth0',
    address: '10.61.1.2/24',
    gateway: 'dev',
  });
  const withVlan = [...NODE_LINKS, link('eth0.200', `swarmlite-ipvlan owner=swl net=${NET} parent`)];
  assert.deepEqual(lines(planJoin(leg, withVlan, [link('lo')])), [
    `ip link del ${tmp}`,
    `ip link add link eth0.200 name ${tmp} type ipvlan mode l3`,
    `ip link set ${tmp} alias '${label}'`,
    `ip link set ${tmp} netns /run/netns/c1`,
    `nsenter --net=/run/netns/c1 ip link set ${tmp} name eth0`,
    'nsenter --net=/run/netns/c1 ip link set lo up',
    'nsenter --net=/run/netns/c1 ip addr add 10.61.1.2/24 dev eth0',
    'nsenter --net=/run/netns/c1 ip link set eth0 up',
    'nsenter --net=/run/netns/c1 ip route replace default dev eth0',
  ]);
  // The network's removal takes the VLAN it made; a pre-existing one (no label) stays.
  assert.deepEqual(lines(planRemove('ipvlan', 'swl', NET, withVlan)), ['ip link del eth0.200']);
  assert.deepEqual(planRemove('ipvlan', 'swl', NET, [...NODE_LINKS, link('eth0.200')]), []);
  // A pre-existing eth0.200 is used as it is: nothing made.
  assert.deepEqual(parentWork('ipvlan', 'swl', NET, s, [...NODE_LINKS, link('eth0.200')]), {
    make: 'none',
    bringUp: false,
  });
});
