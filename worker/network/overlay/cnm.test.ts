// The CNM adapter against a recording stand-in for the agent: which whole-sandbox states it hands the
// agent on each join and leave. (The agent's and the driver's own behaviour is tested in
// driver.test.ts on real namespaces and in the e2e overlay tests.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayNetworkDriver, type OverlayAttacher } from './cnm.js';
import type { LocalTask } from './types.js';

function recorder() {
  const calls: string[] = [];
  const agent: OverlayAttacher = {
    knows: (id) => id === 'ov1' || id === 'ov2',
    inSubnets: (id, ip) =>
      (id === 'ov1' && ip.startsWith('10.0.1.')) || (id === 'ov2' && ip.startsWith('10.0.2.')),
    attachLocal: async (local: LocalTask) => {
      const legs = local.attachments.map((a) => `${a.ifName}=${a.networkId}:${a.address}`).join(' ');
      calls.push(`attach ${local.taskId} ${legs}${local.egress === false ? ' (no egress)' : ''}`);
    },
    detach: async (id) => void calls.push(`detach ${id}`),
  };
  return { agent, calls };
}

const net = (id: string) => ({ id, name: id, driver: 'overlay', subnets: [], internal: false, options: {} });
const c1 = { id: 'c1', netnsPath: '/run/netns/c1' };

test('joins and leaves hand the agent the sandbox whole, in interface order', async () => {
  const { agent, calls } = recorder();
  const d = new OverlayNetworkDriver(agent);
  assert.equal(d.capabilities.scope, 'swarm');
  await d.createNetwork(net('ov1'));
  await d.createNetwork(net('ov2'));
  await d.createEndpoint('ov2', { id: 'e2', address: '10.0.2.5/24' });
  await d.createEndpoint('ov1', { id: 'e1', address: '10.0.1.5/24' });
  // The container's eth0 is on a bridge network (another driver): the overlay is eth1 and eth2.
  assert.deepEqual(await d.join('ov2', 'e2', c1, { ifName: 'eth2', defaultRoute: false }), {
    ifName: 'eth2',
    address: '10.0.2.5/24',
    mac: '02:42:0a:00:02:05',
  });
  await d.join('ov1', 'e1', c1, { ifName: 'eth1', defaultRoute: false });
  await d.leave('ov2', 'e2');
  await d.leave('ov2', 'e2');
  await assert.rejects(d.deleteEndpoint('ov1', 'e1'), /still joined to sandbox c1/);
  await assert.rejects(d.deleteNetwork('ov1'), /active endpoints \(e1\)/);
  await d.leave('ov1', 'e1');
  await d.deleteEndpoint('ov1', 'e1');
  await d.deleteEndpoint('ov2', 'e2');
  await d.deleteNetwork('ov1');
  assert.deepEqual(calls, [
    'attach c1 eth2=ov2:10.0.2.5/24 (no egress)',
    'attach c1 eth1=ov1:10.0.1.5/24 eth2=ov2:10.0.2.5/24 (no egress)',
    'attach c1 eth1=ov1:10.0.1.5/24 (no egress)',
    'detach c1',
  ]);
});

test('the overlay gives the way out when it carries the default route', async () => {
  const { agent, calls } = recorder();
  const d = new OverlayNetworkDriver(agent);
  await d.createEndpoint('ov1', { id: 'e1', address: '10.0.1.7/24' });
  await d.join('ov1', 'e1', c1, { ifName: 'eth0', defaultRoute: true });
  await d.removeAll();
  assert.deepEqual(calls, ['attach c1 eth0=ov1:10.0.1.7/24', 'detach c1']);
});

test('misuse is refused with the agent untouched', async () => {
  const { agent, calls } = recorder();
  const d = new OverlayNetworkDriver(agent);
  await assert.rejects(d.createNetwork(net('elsewhere')), /not available on this node/);
  await assert.rejects(
    d.createEndpoint('ov1', { id: 'e1', address: '10.0.2.5/24' }),
    /in overlay network ov1's subnets/,
  );
  await assert.rejects(d.createEndpoint('ov1', { id: 'e1' }), /needs an address/);
  await d.createEndpoint('ov1', { id: 'e1', address: '10.0.1.5/24' });
  await assert.rejects(d.createEndpoint('ov1', { id: 'e1', address: '10.0.1.6/24' }), /already exists/);
  await assert.rejects(
    d.join('ov2', 'e1', c1, { ifName: 'eth0', defaultRoute: true }),
    /not found on network ov2/,
  );
  await d.join('ov1', 'e1', c1, { ifName: 'eth0', defaultRoute: true });
  await assert.rejects(
    d.join('ov1', 'e1', { id: 'c2', netnsPath: '/run/netns/c2' }, { ifName: 'eth0', defaultRoute: true }),
    /already joined to sandbox c1/,
  );
  assert.deepEqual(calls, ['attach c1 eth0=ov1:10.0.1.5/24']);
});
