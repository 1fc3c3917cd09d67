import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  connectEndpointId,
  connectRefusal,
  defaultRouteNetwork,
  disconnectTarget,
  endpointIdOf,
  legIdentity,
  networksOf,
  nextIfName,
} from './connections.js';
import { NEW_STATE } from './lifecycle.js';
import type { NetworkFacts, NetworkSettings } from './network.js';

const CID = 'c'.repeat(64);

function leg(name: string, o: Partial<NetworkSettings> = {}): NetworkSettings {
  return {
    networkId: `${name}-id`.padEnd(64, '0'),
    networkName: name,
    address: '',
    gateway: '',
    macAddress: '',
    ports: [],
    ...o,
  };
}
const facts = (name: string, o: Partial<NetworkFacts> = {}): NetworkFacts => ({
  id: `${name}-id`.padEnd(64, '0'),
  name,
  exclusive: name === 'host' || name === 'none',
  userDefined: !['bridge', 'host', 'none'].includes(name),
  ...o,
});
const c1 = { name: 'c1', state: NEW_STATE };
const removing = { name: 'c1', state: { ...NEW_STATE, status: 'removing' as const } };

test('interfaces: the lowest free ethN, eth0 for a leg older than connect', () => {
  const cases: [string[], string][] = [
    [[], 'eth0'],
    [['eth0'], 'eth1'],
    [['eth0', 'eth1'], 'eth2'],
    [['eth1'], 'eth0'], // eth0's network was disconnected: its name is free again
    [['eth0', 'eth2'], 'eth1'],
  ];
  for (const [used, want] of cases)
    assert.equal(nextIfName(used.map((ifName, i) => leg(`n${i}`, { ifName }))), want, used.join(','));
  // A record older than connect has no ifName: its one leg is eth0.
  assert.equal(nextIfName([leg('n1')]), 'eth1');
});

test('the default route: the first network in connect order with a gateway', () => {
  const n1 = leg('n1', { gateway: '172.19.0.1' });
  const n2 = leg('n2', { gateway: '172.20.0.1' });
  const internal = leg('int');
  const cases: [NetworkSettings[], string | undefined][] = [
    [[], undefined],
    [[n1, n2], n1.networkId],
    [[n2, n1], n2.networkId],
    [[internal, n2], n2.networkId],
    [[internal], undefined],
    [[leg('none')], undefined],
  ];
  for (const [legs, want] of cases)
    assert.equal(defaultRouteNetwork(legs), want, legs.map((l) => l.networkName).join(','));
});

test('endpoint ids: the container id on its first network, a per-network one on a connected one', () => {
  assert.equal(endpointIdOf(leg('n1'), CID), CID);
  const n2 = connectEndpointId(CID, leg('n2').networkId);
  assert.match(n2, /^[0-9a-f]{64}$/);
  assert.notEqual(n2, CID);
  assert.notEqual(n2, connectEndpointId(CID, leg('n3').networkId));
  assert.equal(n2, connectEndpointId(CID, leg('n2').networkId), 'a replay finds the same one');
  assert.equal(endpointIdOf(leg('n2', { endpointId: n2 }), CID), n2);
});

test("a leg's identity in its settings: none for eth0 (or no interface), interface and derived id for a connect", () => {
  assert.deepEqual(legIdentity(CID, 'n1', undefined), {});
  assert.deepEqual(legIdentity(CID, 'n1', 'eth0'), {});
  assert.deepEqual(legIdentity(CID, 'n2', 'eth1'), {
    ifName: 'eth1',
    endpointId: connectEndpointId(CID, 'n2'),
  });
  assert.equal(endpointIdOf(legIdentity(CID, 'n1', 'eth0'), CID), CID);
});

test("a record's networks: the list, a record older than connect's one network, or none yet", () => {
  const n1 = leg('n1');
  assert.deepEqual(networksOf({ networks: [n1] }), [n1]);
  assert.deepEqual(networksOf({ networkSettings: n1 }), [n1]);
  assert.deepEqual(networksOf({ networks: [], networkSettings: n1 }), []);
  assert.equal(networksOf({}), undefined);
});

test('connect refusals, each in one sentence; a plain connect passes', () => {
  const onN1 = [leg('n1', { gateway: '172.19.0.1' })];
  const none: { ip?: string; aliases: string[] } = { aliases: [] };
  const cases: [string, Parameters<typeof connectRefusal>, RegExp | undefined][] = [
    ['a second user bridge', [c1, onN1, facts('n2'), none], undefined],
    ['with --ip and --alias', [c1, onN1, facts('n2'), { ip: '172.20.0.9', aliases: ['db'] }], undefined],
    ['the default bridge', [c1, onN1, facts('bridge'), none], undefined],
    ['after leaving none', [c1, [], facts('n2'), none], undefined],
    ['already on it', [c1, onN1, facts('n1'), none], /^container c1 is already connected to network n1$/],
    ['to host', [c1, onN1, facts('host'), none], /cannot be connected to the host network/],
    ['to none', [c1, onN1, facts('none'), none], /cannot be connected to the none network/],
    ['from host', [c1, [leg('host')], facts('n2'), none], /is on the host network/],
    ['from none', [c1, [leg('none')], facts('n2'), none], /is on the none network: disconnect it from none/],
    [
      '--ip on bridge',
      [c1, onN1, facts('bridge'), { ip: '172.17.0.9', aliases: [] }],
      /^--ip: .*not bridge$/,
    ],
    ['--alias on bridge', [c1, onN1, facts('bridge'), { aliases: ['x'] }], /^--alias: .*not bridge$/],
    ['being removed', [removing, onN1, facts('n2'), none], /marked for removal/],
  ];
  for (const [what, args, want] of cases) {
    const got = connectRefusal(...args);
    if (want === undefined) assert.equal(got, undefined, what);
    else assert.match(got ?? '', want, what);
  }
});

test('disconnect: the leg on the network, or why not', () => {
  const n1 = leg('n1');
  const n2 = leg('n2', { ifName: 'eth1' });
  assert.equal(disconnectTarget(c1, [n1, n2], 'n2', facts('n2')), n2);
  assert.equal(disconnectTarget(c1, [n1, n2], n2.networkId, facts('n2')), n2);
  // none may be left (then the container can join others), as in Docker.
  assert.deepEqual(disconnectTarget(c1, [leg('none')], 'none', facts('none')), leg('none'));
  assert.equal(disconnectTarget(c1, [n1], 'n2', facts('n2')), 'container c1 is not connected to network n2');
  assert.match(
    String(disconnectTarget(c1, [leg('host')], 'host', facts('host'))),
    /cannot be disconnected from the host network/,
  );
  assert.match(String(disconnectTarget(removing, [n1], 'n1', facts('n1'))), /marked for removal/);
  // -f on a network the node no longer knows: found by the name or id the record kept.
  assert.equal(disconnectTarget(c1, [n1, n2], 'n2', undefined), n2);
  assert.equal(disconnectTarget(c1, [n1, n2], n2.networkId.slice(0, 6), undefined), n2);
  assert.equal(
    disconnectTarget(c1, [n1], 'gone', undefined),
    'container c1 is not connected to network gone',
  );
});
