// LocalNetworks' own rules (the predefined networks, names, subnets, refusals, replay) over the real
// host and null drivers and a bridge driver that only books what it is told (the kernel side of the
// bridge is bridge/driver.test.ts's and the containers' e2e test's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../lib/log.js';
import { DriverBook } from './book.js';
import {
  DriverRegistry,
  type DriverCapabilities,
  type EndpointConfig,
  type JoinInfo,
  type NetworkConfig,
  type NetworkDriver,
} from './driver.js';
import { HostDriver } from './host/driver.js';
import { LocalNetworks } from './local-networks.js';
import { LocalNetworkStore, type LocalNetworkRecord } from './local-store.js';
import { gatewayBridgeRecord } from './gateway-record.js';
import { NullDriver } from './null/driver.js';

class BookingBridge implements NetworkDriver {
  readonly name: string = 'bridge';
  readonly capabilities: DriverCapabilities = {
    scope: 'local',
    namespace: 'own',
    exclusive: false,
    addressed: true,
    publishes: true,
  };
  readonly book = new DriverBook('bridge');
  readonly calls: string[] = [];
  async createNetwork(net: NetworkConfig) {
    this.calls.push(`create ${net.name} ${net.subnets.map((s) => s.subnet).join(',')}`);
    this.book.addNetwork(net);
  }
  async deleteNetwork(id: string) {
    this.calls.push(`delete ${this.book.network(id).name}`);
    this.book.removeNetwork(id);
  }
  async createEndpoint(_n: string, _e: EndpointConfig) {}
  async deleteEndpoint() {}
  async join(): Promise<JoinInfo> {
    return {};
  }
  async leave() {}
  async removeAll() {}
}

function node(
  dir: string,
  defaultBridge = true,
  swarmGateway?: () => LocalNetworkRecord | undefined,
  configUsers?: (name: string) => Promise<string[]>,
) {
  const bridge = new BookingBridge();
  const drivers = new DriverRegistry();
  drivers.register(bridge);
  drivers.register(new HostDriver());
  drivers.register(new NullDriver());
  const networks = new LocalNetworks({
    store: new LocalNetworkStore(join(dir, 'networks')),
    drivers,
    nodeSubnets: async () => ['10.0.0.0/8', '198.18.0.0/24'],
    defaultBridge,
    log: createLogger('error'),
    ...(swarmGateway ? { swarmGateway } : {}),
    ...(configUsers ? { configUsers } : {}),
  });
  return { bridge, networks };
}

test('local networks: predefined at first open, user bridges from the pools or --subnet, refusals, replay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-localnets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = node(dir);
  await a.networks.open();
  assert.deepEqual(
    a.networks.list().map((n) => [n.name, n.driver, n.subnets.map((s) => s.subnet).join()]),
    [
      ['bridge', 'bridge', '172.17.0.0/16'],
      ['host', 'host', ''],
      ['none', 'null', ''],
    ],
  );
  assert.deepEqual(a.bridge.calls, ['create bridge 172.17.0.0/16']);
  const ids = a.networks.list().map((n) => n.id);

  const app = await a.networks.create({ name: 'appnet', driver: 'bridge', internal: false, options: {} });
  // 172.18 is the gateway bridge's, always reserved.
  assert.deepEqual(app.subnets, [{ subnet: '172.19.0.0/16', gateway: '172.19.0.1' }]);
  const own = await a.networks.create({
    name: 'own',
    driver: 'bridge',
    subnet: '192.168.50.0/24',
    gateway: '192.168.50.254',
    ipRange: '192.168.50.128/25',
    internal: true,
    options: {},
  });
  assert.deepEqual(own.subnets, [
    { subnet: '192.168.50.0/24', gateway: '192.168.50.254', ipRange: '192.168.50.128/25' },
  ]);
  assert.equal(a.networks.find(own.id.slice(0, 5))?.name, 'own');
  assert.equal(a.networks.find('appnet')?.id, app.id);

  const refusals: [Parameters<LocalNetworks['create']>[0], RegExp][] = [
    [
      { name: 'appnet', driver: 'bridge', internal: false, options: {} },
      /network with name appnet already exists/,
    ],
    [
      { name: 'host', driver: 'bridge', internal: false, options: {} },
      /network with name host already exists/,
    ],
    [{ name: 'x', driver: 'macvlan', internal: false, options: {} }, /unknown network driver 'macvlan'/],
    [{ name: 'x', driver: 'host', internal: false, options: {} }, /only one instance of "host" network/],
    [
      { name: 'x', driver: 'bridge', subnet: '172.19.128.0/17', internal: false, options: {} },
      /subnet 172.19.128.0\/17 overlaps with 172.19.0.0\/16/,
    ],
    [
      { name: 'x', driver: 'bridge', subnet: '10.1.0.0/16', internal: false, options: {} },
      /overlaps with 10.0.0.0\/8/,
    ],
    [
      {
        name: 'x',
        driver: 'bridge',
        subnet: '172.30.0.0/16',
        gateway: '172.31.0.1',
        internal: false,
        options: {},
      },
      /gateway 172.31.0.1 is not a host address/,
    ],
    [{ name: 'x', driver: 'bridge', gateway: '172.30.0.1', internal: false, options: {} }, /need --subnet/],
    [{ name: 'bad name', driver: 'bridge', internal: false, options: {} }, /invalid network name/],
  ];
  for (const [req, want] of refusals) await assert.rejects(a.networks.create(req), want, req.name);
  assert.equal(a.networks.list().length, 5, 'nothing made by a refusal');

  await assert.rejects(
    a.networks.remove('bridge', () => []),
    /bridge is a pre-defined network and cannot be removed/,
  );
  await assert.rejects(
    a.networks.remove('appnet', () => ['c1']),
    new RegExp(`error while removing network: network appnet id ${app.id} has active endpoints \\(c1\\)`),
  );
  await assert.rejects(
    a.networks.remove('nosuch', () => []),
    /network nosuch not found/,
  );

  // A new daemon replays every stored network into its drivers, with the same ids.
  const b = node(dir);
  await b.networks.open();
  assert.deepEqual(b.bridge.calls, [
    'create bridge 172.17.0.0/16',
    'create appnet 172.19.0.0/16',
    'create own 192.168.50.0/24',
  ]);
  assert.deepEqual(
    b.networks
      .list()
      .slice(0, 3)
      .map((n) => n.id),
    ids,
  );
  await b.networks.remove('appnet', () => []);
  assert.deepEqual(b.bridge.calls.at(-1), 'delete appnet');
  assert.equal(b.networks.find('appnet'), undefined);

  // --bridge none: no default bridge, neither listed nor made.
  const c = node(dir, false);
  await c.networks.open();
  assert.deepEqual(
    c.networks.list().map((n) => n.name),
    ['host', 'none', 'own'],
  );
  assert.deepEqual(c.bridge.calls, ['create own 192.168.50.0/24']);
});

test("a network on the wire (macvlan's kind) may take a subnet of the node's routes; a bridge may not", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-localnets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  class OnTheWire extends BookingBridge {
    override readonly name = 'wire';
    override readonly capabilities: DriverCapabilities = {
      ...new BookingBridge().capabilities,
      onTheWire: true,
    };
  }
  const drivers = new DriverRegistry();
  for (const d of [new BookingBridge(), new OnTheWire(), new HostDriver(), new NullDriver()])
    drivers.register(d);
  const networks = new LocalNetworks({
    store: new LocalNetworkStore(join(dir, 'networks')),
    drivers,
    nodeSubnets: async () => ['198.18.0.0/24'],
    defaultBridge: false,
    log: createLogger('error'),
  });
  await networks.open();
  const lan = { subnet: '198.18.0.0/24', gateway: '198.18.0.254', internal: false, options: {} };
  await assert.rejects(
    networks.create({ name: 'br', driver: 'bridge', ...lan }),
    /overlaps with 198.18.0.0\/24/,
  );
  const made = await networks.create({ name: 'lan', driver: 'wire', ...lan });
  assert.deepEqual(made.subnets, [{ subnet: '198.18.0.0/24', gateway: '198.18.0.254' }]);
});

test('the swarm gateway bridge: listed while in a swarm, describes <prefix>_gwbridge, never stored, driven or removed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-localnets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let nodeId: string | undefined;
  const record = (id: string) => gatewayBridgeRecord('swl', id, '2026-01-01T00:00:00.000Z');
  const a = node(dir, true, () => (nodeId ? record(nodeId) : undefined));
  await a.networks.open();
  const names = () => a.networks.list().map((n) => n.name);
  assert.deepEqual(names(), ['bridge', 'host', 'none']);

  nodeId = 'node-a';
  assert.deepEqual(names(), ['bridge', 'host', 'none', 'docker_gwbridge']);
  const gw = a.networks.find('docker_gwbridge')!;
  assert.equal(gw.driver, 'bridge');
  assert.deepEqual(gw.subnets, [{ subnet: '172.18.0.0/16', gateway: '172.18.0.1' }]);
  assert.equal(gw.options['com.docker.network.bridge.name'], 'swl_gwbridge');
  assert.equal(a.networks.find(gw.id.slice(0, 12))?.name, 'docker_gwbridge');
  assert.equal(record('node-a').id, gw.id, 'the same id for the same node');
  assert.notEqual(record('node-b').id, gw.id, 'a new id after a new join');
  assert.ok(a.networks.isSwarmGateway(gw));

  await assert.rejects(
    a.networks.remove('docker_gwbridge', () => []),
    /gateway bridge .* cannot be removed/,
  );
  await assert.rejects(
    a.networks.create({ name: 'docker_gwbridge', driver: 'bridge', internal: false, options: {} }),
    /network with name docker_gwbridge already exists/,
  );
  assert.deepEqual(a.bridge.calls, ['create bridge 172.17.0.0/16'], 'no driver call for the gateway bridge');

  // Not in the store: a daemon opened on the same data, in no swarm, has no such network.
  const b = node(dir);
  await b.networks.open();
  assert.deepEqual(
    b.networks.list().map((n) => n.name),
    ['bridge', 'host', 'none'],
  );
  assert.deepEqual(b.bridge.calls, ['create bridge 172.17.0.0/16']);

  nodeId = undefined; // left the swarm
  assert.deepEqual(names(), ['bridge', 'host', 'none']);
  assert.equal(a.networks.find('docker_gwbridge'), undefined);
});

test('config-only networks: settings stored, no driver told, not replayed, rm refused while a swarm network uses them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'swl-localnet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const users = new Map<string, string[]>([['mvcfg', ['mvswarm']]]);
  const { bridge, networks } = node(dir, true, undefined, async (name) => users.get(name) ?? []);
  await networks.open();
  const made = await networks.create({
    name: 'mvcfg',
    driver: 'macvlan', // ignored: a config-only network has no driver
    subnet: '198.18.0.0/24', // one of the node's routes: a macvlan's subnet is its parent's LAN
    ipRange: '198.18.0.128/28',
    internal: false,
    options: { parent: 'eth0' },
    configOnly: true,
  });
  assert.deepEqual(
    [made.driver, made.configOnly, made.subnets, made.options],
    [
      'null',
      true,
      [{ subnet: '198.18.0.0/24', gateway: '198.18.0.1', ipRange: '198.18.0.128/28' }],
      { parent: 'eth0' },
    ],
  );
  assert.ok(!bridge.calls.some((c) => c.includes('mvcfg')), 'no driver was told');
  assert.ok(networks.list().some((r) => r.name === 'mvcfg' && r.configOnly));
  const refused: [Parameters<LocalNetworks['create']>[0], RegExp][] = [
    [
      { name: 'c2', driver: 'null', internal: false, options: {}, configOnly: true },
      /--config-only needs --subnet/,
    ],
    [
      { name: 'c3', driver: 'null', subnet: '198.18.1.5/24', internal: false, options: {}, configOnly: true },
      /198\.18\.1\.5\/24/,
    ],
    [
      {
        name: 'mvcfg',
        driver: 'null',
        subnet: '198.18.2.0/24',
        internal: false,
        options: {},
        configOnly: true,
      },
      /already exists/,
    ],
  ];
  for (const [req, re] of refused) await assert.rejects(networks.create(req), re);

  // Replayed at the next start: still listed, still no driver told.
  const again = node(dir);
  await again.networks.open();
  assert.ok(again.networks.list().some((r) => r.name === 'mvcfg' && r.configOnly));
  assert.ok(!again.bridge.calls.some((c) => c.includes('mvcfg')));

  await assert.rejects(
    networks.remove('mvcfg', () => []),
    /configuration network mvcfg is in use by swarm network mvswarm: remove it first/,
  );
  assert.ok(networks.find('mvcfg'), 'still there');
  users.clear();
  await networks.remove('mvcfg', () => []);
  assert.equal(networks.find('mvcfg'), undefined);
});
