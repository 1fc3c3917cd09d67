import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../lib/errors.js';
import {
  buildConnectRequest,
  buildLocalNetworkRequest,
  buildNetworkSpec,
  isSwarmRequest,
  localNetworkView,
  localRow,
  renderNetworkTable,
  type NetworkCreateOptions,
} from './commands-network.js';
import type { NetworkView } from './objects.js';

const isUsage = (pattern: RegExp) => (err: unknown) =>
  err instanceof UserError && err.exitCode === 2 && pattern.test(err.message);

test('network create: subnets with gateways and ranges paired in order, options and labels', () => {
  assert.deepEqual(
    buildNetworkSpec('back', {
      driver: 'overlay',
      subnet: ['10.1.0.0/24', '10.2.0.0/24'],
      gateway: ['10.1.0.254'],
      ipRange: ['10.1.0.128/25'],
      attachable: true,
      opt: ['mtu=1400'],
      label: ['env=prod'],
    }),
    {
      name: 'back',
      driver: 'overlay',
      ipam: [
        { subnet: '10.1.0.0/24', gateway: '10.1.0.254', ipRange: '10.1.0.128/25' },
        { subnet: '10.2.0.0/24', gateway: '', ipRange: '' },
      ],
      attachable: true,
      internal: false,
      ingress: false,
      options: { mtu: '1400' },
      labels: { env: 'prod' },
    },
  );
  assert.deepEqual(buildNetworkSpec('plain', { driver: 'overlay', internal: true }).ipam, []);
});

test('network create refuses other drivers, stray gateways and malformed values', () => {
  assert.throws(
    () => buildNetworkSpec('n', { driver: 'ipvlan' }),
    isUsage(/unsupported driver 'ipvlan'.*overlay/),
  );
  assert.throws(
    () => buildNetworkSpec('n', { driver: 'bridge' }),
    isUsage(/a bridge network of the swarm needs --scope swarm/),
  );
  assert.throws(
    () => buildNetworkSpec('n', { driver: 'overlay', gateway: ['10.0.0.1'] }),
    isUsage(/needs a --subnet/),
  );
  assert.throws(
    () => buildNetworkSpec('n', { driver: 'overlay', subnet: ['10.0.0.0/24'], ipRange: ['a', 'b'] }),
    isUsage(/--ip-range 'a'/),
  );
  assert.throws(
    () => buildNetworkSpec('n', { driver: 'overlay', subnet: ['10.0.0.0/33'] }),
    isUsage(/--subnet/),
  );
  assert.throws(
    () => buildNetworkSpec('n', { driver: 'overlay', subnet: ['10.0.0.300/24'] }),
    isUsage(/--subnet/),
  );
  assert.throws(
    () => buildNetworkSpec('n', { driver: 'overlay', subnet: ['10.0.0.0/24'], gateway: ['gw'] }),
    isUsage(/--gateway 'gw'/),
  );
  assert.throws(() => buildNetworkSpec('n', { driver: 'overlay', opt: ['mtu=big'] }), isUsage(/mtu=big/));
  assert.throws(
    () => buildNetworkSpec('n', { driver: 'overlay', opt: ['vxlanid_list=4097'] }),
    isUsage(/invalid --opt: unknown overlay option "vxlanid_list"/),
  );
  // `encrypted` is the managers' to refuse (they ask their kernel): it goes through as given.
  assert.deepEqual(buildNetworkSpec('n', { driver: 'overlay', opt: ['encrypted'] }).options, {
    encrypted: '',
  });
  assert.throws(() => buildNetworkSpec('bad name', { driver: 'overlay' }), isUsage(/invalid network name/));
});

test('network ls: NETWORK ID, NAME, DRIVER, SCOPE swarm, sorted by name; -q ids', () => {
  const net = (id: string, name: string): NetworkView => ({
    id,
    meta: { version: 1, createdAt: '', updatedAt: '' },
    spec: buildNetworkSpec(name, { driver: 'overlay' }),
    ipam: [],
    vni: 4097,
  });
  const list = [net('zzzzzzzzzzzzzzzzzzzzzzzzz', 'ingress'), net('aaaaaaaaaaaaaaaaaaaaaaaaa', 'backend')];
  assert.equal(
    renderNetworkTable(list, false),
    [
      'NETWORK ID     NAME      DRIVER    SCOPE',
      'aaaaaaaaaaaa   backend   overlay   swarm',
      'zzzzzzzzzzzz   ingress   overlay   swarm',
    ].join('\n'),
  );
  assert.equal(renderNetworkTable(list, true), 'aaaaaaaaaaaa\nzzzzzzzzzzzz');
});

test('network create of a local bridge: one subnet, bridge options, overlay-only flags refused', () => {
  assert.deepEqual(
    buildLocalNetworkRequest('appnet', {
      driver: 'bridge',
      subnet: ['10.9.0.0/24'],
      gateway: ['10.9.0.254'],
      ipRange: ['10.9.0.128/25'],
      internal: true,
      opt: ['mtu=1400', 'com.docker.network.bridge.name=br-app'],
    }),
    {
      name: 'appnet',
      driver: 'bridge',
      subnet: '10.9.0.0/24',
      gateway: '10.9.0.254',
      ipRange: '10.9.0.128/25',
      internal: true,
      options: { 'com.docker.network.driver.mtu': '1400', 'com.docker.network.bridge.name': 'br-app' },
      configOnly: false,
    },
  );
  assert.deepEqual(buildLocalNetworkRequest('n', { driver: 'bridge' }), {
    name: 'n',
    driver: 'bridge',
    subnet: '',
    gateway: '',
    ipRange: '',
    internal: false,
    options: {},
    configOnly: false,
  });
  // Other drivers' options are theirs to judge (the daemon names the drivers it has).
  assert.equal(buildLocalNetworkRequest('n', { driver: 'macvlan', opt: ['parent=eth0'] }).driver, 'macvlan');
  const rows: [Parameters<typeof buildLocalNetworkRequest>[1], RegExp][] = [
    [{ driver: 'bridge', attachable: true }, /--attachable is for overlay networks/],
    [{ driver: 'bridge', label: ['a=b'] }, /--label is for overlay networks/],
    [{ driver: 'bridge', subnet: ['10.1.0.0/16', '10.2.0.0/16'] }, /one --subnet/],
    [{ driver: 'bridge', gateway: ['10.1.0.1'] }, /need a --subnet/],
    [{ driver: 'bridge', subnet: ['10.1.0.0/33'] }, /invalid --subnet '10.1.0.0\/33'/],
    [{ driver: 'bridge', subnet: ['10.1.0.0/16'], gateway: ['x'] }, /invalid --gateway 'x'/],
    [{ driver: 'bridge', opt: ['vxlanid_list=1'] }, /unknown bridge option "vxlanid_list"/],
    [{ driver: 'bridge', opt: ['mtu=big'] }, /invalid --opt mtu=big/],
  ];
  for (const [o, want] of rows)
    assert.throws(() => buildLocalNetworkRequest('n', o), isUsage(want), JSON.stringify(o));
  assert.throws(
    () => buildLocalNetworkRequest('bad name', { driver: 'bridge' }),
    isUsage(/invalid network name/),
  );
});

test('network ls and inspect of local networks: SCOPE local beside the swarm, Docker fields', () => {
  const local = {
    id: 'b'.repeat(64),
    name: 'bridge',
    driver: 'bridge',
    created: '2026-12-07T11:00:00Z',
    subnets: [{ subnet: '172.17.0.0/16', gateway: '172.17.0.1', ipRange: '' }],
    internal: false,
    options: { 'com.docker.network.bridge.name': 'swl0' },
    configOnly: false,
    containers: [
      { id: 'c'.repeat(64), name: 'web', ipv4Address: '172.17.0.2/16', macAddress: '02:42:ac:11:00:02' },
    ],
  };
  const swarm: NetworkView = {
    id: 'a'.repeat(25),
    meta: { version: 1, createdAt: '', updatedAt: '' },
    spec: buildNetworkSpec('appnet', { driver: 'overlay' }),
    ipam: [],
    vni: 4097,
  };
  assert.equal(
    renderNetworkTable([localRow(local), swarm], false),
    [
      'NETWORK ID     NAME     DRIVER    SCOPE',
      'aaaaaaaaaaaa   appnet   overlay   swarm',
      'bbbbbbbbbbbb   bridge   bridge    local',
    ].join('\n'),
  );
  assert.deepEqual(localNetworkView(local), {
    Name: 'bridge',
    Id: 'b'.repeat(64),
    Created: '2026-12-07T11:00:00Z',
    Scope: 'local',
    Driver: 'bridge',
    IPAM: { Driver: 'default', Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] },
    Internal: false,
    ConfigOnly: false,
    Containers: {
      ['c'.repeat(64)]: { Name: 'web', IPv4Address: '172.17.0.2/16', MacAddress: '02:42:ac:11:00:02' },
    },
    Options: { 'com.docker.network.bridge.name': 'swl0' },
  });
});

test('network connect flags: --ip must be an IPv4 address, aliases DNS-like names', () => {
  assert.deepEqual(buildConnectRequest('n2', 'c1', {}), {
    network: 'n2',
    container: 'c1',
    ip: '',
    aliases: [],
  });
  assert.deepEqual(buildConnectRequest('n2', 'c1', { ip: '172.20.0.9', alias: ['db', 'db.v1'] }), {
    network: 'n2',
    container: 'c1',
    ip: '172.20.0.9',
    aliases: ['db', 'db.v1'],
  });
  assert.throws(() => buildConnectRequest('n2', 'c1', { ip: '172.20.0' }), /invalid --ip '172.20.0'/);
  assert.throws(() => buildConnectRequest('n2', 'c1', { ip: '172.20.0.0/16' }), /invalid --ip/);
  assert.throws(() => buildConnectRequest('n2', 'c1', { alias: ['-x'] }), /invalid --alias '-x'/);
});

test('network create --config-only / --scope swarm --config-from: which plane, and what is refused', () => {
  // Which side makes the network: the swarm for overlay and --scope swarm, the node otherwise.
  const swarm: [NetworkCreateOptions, boolean][] = [
    [{ driver: 'overlay' }, true],
    [{ driver: 'macvlan', scope: 'swarm', configFrom: 'cfg' }, true],
    [{ driver: 'bridge', scope: 'swarm' }, true],
    [{ driver: 'macvlan' }, false],
    [{ driver: 'macvlan', scope: 'local' }, false],
    [{ driver: 'bridge', configOnly: true, subnet: ['10.0.0.0/24'] }, false],
  ];
  for (const [o, expected] of swarm) assert.equal(isSwarmRequest(o), expected, JSON.stringify(o));
  const refused: [NetworkCreateOptions, RegExp][] = [
    [{ driver: 'macvlan', scope: 'global' }, /invalid --scope 'global'/],
    [{ driver: 'overlay', scope: 'local' }, /--scope local does not apply/],
    [{ driver: 'bridge', configOnly: true, scope: 'swarm' }, /--config-only makes a local network/],
    [{ driver: 'bridge', configOnly: true, configFrom: 'x' }, /exclusive/],
    [{ driver: 'macvlan', configFrom: 'cfg' }, /add --scope swarm/],
  ];
  for (const [o, re] of refused) assert.throws(() => isSwarmRequest(o), isUsage(re), JSON.stringify(o));

  // A config-only network: driver null, its settings as given, a subnet required.
  assert.deepEqual(
    buildLocalNetworkRequest('cfg', {
      driver: 'bridge',
      configOnly: true,
      subnet: ['198.18.5.0/24'],
      ipRange: ['198.18.5.64/27'],
      opt: ['parent=eth0', 'macvlan_mode=bridge'],
    }),
    {
      name: 'cfg',
      driver: 'null',
      subnet: '198.18.5.0/24',
      gateway: '',
      ipRange: '198.18.5.64/27',
      internal: false,
      options: { parent: 'eth0', macvlan_mode: 'bridge' },
      configOnly: true,
    },
  );
  assert.throws(
    () => buildLocalNetworkRequest('cfg', { driver: 'bridge', configOnly: true }),
    isUsage(/--config-only needs --subnet/),
  );

  // The swarm network: --config-from alone, or its own subnet and options.
  const spec = buildNetworkSpec('mv', { driver: 'macvlan', scope: 'swarm', configFrom: 'cfg' });
  assert.equal(spec.driver, 'macvlan');
  assert.equal(spec.configFrom, 'cfg');
  assert.deepEqual([spec.ipam, spec.options], [[], {}]);
  const own = buildNetworkSpec('br', { driver: 'bridge', scope: 'swarm', subnet: ['10.30.0.0/24'] });
  assert.deepEqual(own.ipam, [{ subnet: '10.30.0.0/24', gateway: '', ipRange: '' }]);
  const bad: [NetworkCreateOptions, RegExp][] = [
    [{ driver: 'macvlan', scope: 'swarm', configFrom: 'cfg', subnet: ['10.0.0.0/24'] }, /are exclusive/],
    [{ driver: 'macvlan', scope: 'swarm', configFrom: 'cfg', opt: ['parent=eth0'] }, /are exclusive/],
    [{ driver: 'macvlan', scope: 'swarm' }, /needs one --subnet/],
    [{ driver: 'macvlan', subnet: ['10.0.0.0/24'] }, /needs --scope swarm/],
    [{ driver: 'ipvlan', scope: 'swarm', subnet: ['10.0.0.0/24'] }, /unsupported driver 'ipvlan'/],
    [
      { driver: 'macvlan', scope: 'swarm', subnet: ['10.0.0.0/24'], opt: ['vni=3'] },
      /unknown macvlan option/,
    ],
    [{ driver: 'overlay', configFrom: 'cfg' }, /not overlay/],
  ];
  for (const [o, re] of bad) assert.throws(() => buildNetworkSpec('n', o), isUsage(re), JSON.stringify(o));
});
