import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DriverRegistry, NetworkDriverError } from './driver.js';
import { DriverBook } from './book.js';
import { HostDriver } from './host/driver.js';
import { NullDriver } from './null/driver.js';
import { nodeDrivers, predefinedNetworks } from './drivers.js';
import { bridgeName } from './bridge/names.js';

const net = (id: string, driver = 'bridge') => ({
  id,
  name: id,
  driver,
  subnets: [],
  internal: false,
  options: {},
});

test('the registry finds drivers by name and names the available ones for an unknown one', () => {
  const r = new DriverRegistry();
  r.register(new HostDriver());
  r.register(new NullDriver());
  assert.equal(r.get('host').capabilities.namespace, 'node');
  assert.equal(r.get('null').capabilities.namespace, 'own');
  assert.deepEqual(r.names(), ['host', 'null']);
  assert.throws(() => r.get('macvlan'), {
    name: 'NetworkDriverError',
    message: "unknown network driver 'macvlan' (available: host, null)",
  });
  assert.throws(() => r.register(new HostDriver()), /registered twice/);
});

test('the book refuses what a user gets wrong and accepts repeats of the same call', () => {
  const b = new DriverBook('bridge');
  b.addNetwork(net('n1'));
  b.addNetwork(net('n1'));
  assert.throws(() => b.addNetwork({ ...net('n1'), internal: true }), /already exists with other settings/);
  assert.throws(() => b.addEndpoint('nope', { id: 'e1' }), NetworkDriverError);
  b.addEndpoint('n1', { id: 'e1', address: '172.19.0.2/16' });
  b.addEndpoint('n1', { id: 'e1', address: '172.19.0.2/16' });
  assert.throws(() => b.addEndpoint('n1', { id: 'e1', address: '172.19.0.3/16' }), /already exists/);
  assert.throws(() => b.removeNetwork('n1'), /has active endpoints \(e1\)/);
  b.endpoint('n1', 'e1').sandbox = { id: 'c1', netnsPath: '/run/netns/x' };
  assert.throws(() => b.removeEndpoint('n1', 'e1'), /still joined to sandbox c1/);
  delete b.endpoint('n1', 'e1').sandbox;
  b.removeEndpoint('n1', 'e1');
  b.removeEndpoint('n1', 'e1');
  assert.equal(b.removeNetwork('n1'), true);
  assert.equal(b.removeNetwork('n1'), false);
});

test('host and none: one network each, no subnets, no addresses', async () => {
  for (const d of [new HostDriver(), new NullDriver()]) {
    await d.createNetwork(net('a', d.name));
    await d.createNetwork(net('a', d.name));
    await assert.rejects(d.createNetwork(net('b', d.name)), /only one instance/);
    await assert.rejects(d.createEndpoint('a', { id: 'e', address: '10.0.0.2/24' }), /address/);
    await assert.rejects(
      d.createEndpoint('a', { id: 'e', ports: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080 }] }),
      /ports cannot be published/,
    );
    await d.createEndpoint('a', { id: 'e' });
    await d.deleteEndpoint('a', 'e');
    await d.deleteNetwork('a');
  }
  await assert.rejects(
    new NullDriver().createNetwork({
      ...net('x', 'null'),
      subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1' }],
    }),
    /takes no subnets/,
  );
});

test('host: join accepts the node namespace and refuses any other', async () => {
  const d = new HostDriver();
  await d.createNetwork(net('h', 'host'));
  await d.createEndpoint('h', { id: 'e' });
  const self = `/proc/${process.pid}/ns/net`;
  assert.deepEqual(
    await d.join('h', 'e', { id: 'c', netnsPath: self }, { ifName: 'eth0', defaultRoute: true }),
    {},
  );
  await assert.rejects(d.deleteEndpoint('h', 'e'), /still joined/);
  await d.leave('h', 'e');
  await d.leave('h', 'e');
  await d.deleteEndpoint('h', 'e');
  // Our UTS namespace file is a namespace file too, but not the node's network namespace.
  await d.createEndpoint('h', { id: 'e2' });
  await assert.rejects(
    d.join(
      'h',
      'e2',
      { id: 'c2', netnsPath: `/proc/${process.pid}/ns/uts` },
      { ifName: 'eth0', defaultRoute: true },
    ),
    /must run in the node's network namespace/,
  );
});

test('a node has bridge, host, ipvlan, macvlan and null (and overlay once in a swarm); the predefined networks', () => {
  const registry = nodeDrivers({ prefix: 'swl' });
  assert.deepEqual(registry.names(), ['bridge', 'host', 'ipvlan', 'macvlan', 'null']);
  const [bridge, host, none] = predefinedNetworks({
    bridge: 'b'.repeat(64),
    host: 'h'.repeat(64),
    none: 'n'.repeat(64),
  });
  assert.deepEqual(bridge!.subnets, [{ subnet: '172.17.0.0/16', gateway: '172.17.0.1' }]);
  assert.equal(bridgeName(bridge!), 'swl0');
  assert.deepEqual([host!.driver, none!.driver], ['host', 'null']);
  for (const n of [bridge!, host!, none!]) assert.ok(registry.has(n.driver));
});
