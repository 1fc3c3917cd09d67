// Node-local swarm networks on a node (pure part): which settings a node uses, and why it cannot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Network } from '../../api/objects/index.js';
import { overlayNetwork } from '../../api/objects/test-fixtures.js';
import type { LocalNetworkRecord } from './local-store.js';
import { nodeLocalConfig, nodeLocalEndpointId } from './node-local.js';

const swarm = (spec: Partial<Network['spec']>): Network => {
  const n = overlayNetwork('n'.repeat(25), 'mvswarm');
  return { ...n, spec: { ...n.spec, driver: 'macvlan', ...spec }, ipam: [], vni: 0 };
};
const record = (name: string, o: Partial<LocalNetworkRecord> = {}): LocalNetworkRecord => ({
  id: 'c'.repeat(64),
  name,
  driver: 'null',
  subnets: [{ subnet: '198.18.7.0/24', gateway: '198.18.7.1', ipRange: '198.18.7.128/28' }],
  internal: false,
  options: { parent: 'eth0', macvlan_mode: 'bridge' },
  created: '2026-12-07T00:00:00Z',
  configOnly: true,
  ...o,
});

test('nodeLocalConfig: the settings a node plugs a node-local swarm network in with', () => {
  const fromCfg = swarm({ configFrom: 'mvcfg', internal: true });
  // From the node's config-only network: its subnet, range and options; the swarm network's id and name.
  assert.deepEqual(nodeLocalConfig(fromCfg, [record('other'), record('mvcfg')]), {
    id: fromCfg.id,
    name: 'mvswarm',
    driver: 'macvlan',
    internal: true,
    subnets: [{ subnet: '198.18.7.0/24', gateway: '198.18.7.1', ipRange: '198.18.7.128/28' }],
    options: { parent: 'eth0', macvlan_mode: 'bridge' },
  });
  // From the spec itself (no --config-from): its one subnet, the gateway defaulted, its options.
  const own = swarm({
    ipam: [{ subnet: '10.40.0.0/24', gateway: '', ipRange: '10.40.0.64/26' }],
    options: { parent: 'eth1' },
  });
  assert.deepEqual(nodeLocalConfig(own, []), {
    id: own.id,
    name: 'mvswarm',
    driver: 'macvlan',
    internal: false,
    subnets: [{ subnet: '10.40.0.0/24', gateway: '10.40.0.1', ipRange: '10.40.0.64/26' }],
    options: { parent: 'eth1' },
  });
  // Why a node cannot: the reason its task is rejected with.
  const rows: [Network, LocalNetworkRecord[], RegExp][] = [
    [fromCfg, [], /network mvswarm: this node has no config-only network mvcfg \(make one here/],
    [
      fromCfg,
      [record('mvcfg', { configOnly: false, driver: 'bridge' })],
      /mvcfg on this node is not a config-only/,
    ],
    [swarm({ ipam: [] }), [], /no subnet and no --config-from/],
    [swarm({ ipam: [{ subnet: '10.40.0.5/24', gateway: '', ipRange: '' }] }), [], /network mvswarm: /],
  ];
  for (const [net, local, re] of rows) {
    const r = nodeLocalConfig(net, local);
    assert.equal(typeof r, 'string');
    assert.match(r as string, re);
  }
});

test('nodeLocalEndpointId: 64 hex, one per task and network', () => {
  const a = nodeLocalEndpointId('t1', 'n1');
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(nodeLocalEndpointId('t1', 'n1'), a);
  assert.notEqual(nodeLocalEndpointId('t1', 'n2'), a);
  assert.notEqual(nodeLocalEndpointId('t2', 'n1'), a);
});
