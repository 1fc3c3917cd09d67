// Node-local swarm networks on a node (pure part): which settings a node uses, and why it cannot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Network } from '../../api/objects/index.js';
import { overlayNetwork } from '../../api/objects/test-fixtures.js';
import { createLogger } from '../../lib/log.js';
import {
  DriverRegistry,
  type DriverCapabilities,
  type EndpointConfig,
  type JoinInfo,
  type JoinOptions,
  type NetworkConfig,
  type NetworkDriver,
  type Sandbox,
} from './driver.js';
import type { LocalNetworkRecord } from './local-store.js';
import { NodeLocalSwarmNetworks, nodeLocalConfig, nodeLocalEndpointId } from './node-local.js';

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

/** A driver that records what it is told (the kernel side is the macvlan driver's and the e2e's). */
class RecordingDriver implements NetworkDriver {
  readonly name = 'macvlan';
  readonly capabilities: DriverCapabilities = {
    scope: 'local',
    namespace: 'own',
    exclusive: false,
    addressed: true,
    onTheWire: true,
  };
  readonly calls: string[] = [];
  async createNetwork(net: NetworkConfig) {
    this.calls.push(`create ${net.name} ${net.subnets[0]!.ipRange} ${net.options.parent}`);
  }
  async deleteNetwork() {
    this.calls.push('delete');
  }
  async createEndpoint(_n: string, ep: EndpointConfig) {
    this.calls.push(`endpoint ${ep.address}`);
  }
  async deleteEndpoint() {}
  async join(_n: string, _e: string, s: Sandbox, o: JoinOptions): Promise<JoinInfo> {
    this.calls.push(`join ${s.id} ${o.ifName} ${o.defaultRoute}`);
    return {};
  }
  async leave(_n: string, e: string) {
    this.calls.push(`leave ${e.slice(0, 4)}`);
  }
  async removeAll() {}
}

test('NodeLocalSwarmNetworks: created on the first task, addresses from the range, deleted after the last', async () => {
  const driver = new RecordingDriver();
  const drivers = new DriverRegistry();
  drivers.register(driver);
  const local = [record('mvcfg')];
  const nets = new NodeLocalSwarmNetworks({
    drivers,
    localNetworks: () => local,
    log: createLogger('error'),
  });
  const net = swarm({ configFrom: 'mvcfg' });
  const other = swarm({ configFrom: 'nocfg' });
  nets.setNetworks([net, { ...other, id: 'o'.repeat(25) }, overlayNetwork('ov', 'ov')]);
  assert.equal(nets.isNodeLocal(net.id), true);
  assert.equal(nets.isNodeLocal('ov'), false);
  const on = (id: string, networkId = net.id) => ({
    id,
    networks: [{ networkId, addresses: [], aliases: [] }],
  });
  assert.equal(nets.refusal(on('t1')), undefined);
  assert.match(nets.refusal(on('t9', 'o'.repeat(25)))!, /no config-only network nocfg/);

  await nets.attach(on('t1'), '/run/netns/t1', 0, true);
  await nets.attach(on('t2'), '/run/netns/t2', 1, false);
  await nets.attach(on('t1'), '/run/netns/t1', 0, true); // again: the same address
  assert.deepEqual(driver.calls, [
    'create mvswarm 198.18.7.128/28 eth0',
    'endpoint 198.18.7.128/24',
    'join t1 eth0 true',
    'endpoint 198.18.7.129/24',
    'join t2 eth1 false',
    'endpoint 198.18.7.128/24',
    'join t1 eth0 true',
  ]);
  assert.deepEqual(
    nets.inUse().map((n) => n.spec.name),
    ['mvswarm'],
  );
  driver.calls.length = 0;
  await nets.detach('t1');
  await nets.attach(on('t3'), '/run/netns/t3', 0, true); // t1's address is free again
  await nets.detach('t2');
  await nets.detach('t3');
  assert.deepEqual(
    driver.calls.filter((c) => !c.startsWith('leave')),
    ['endpoint 198.18.7.128/24', 'join t3 eth0 true', 'delete'],
  );
  assert.deepEqual(nets.inUse(), []);
});
