import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../lib/errors.js';
import { buildNetworkSpec, renderNetworkTable } from './commands-network.js';
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
    () => buildNetworkSpec('n', { driver: 'bridge' }),
    isUsage(/unsupported driver 'bridge'.*overlay/),
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
