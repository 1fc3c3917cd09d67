// The attach point on a swarm overlay (cnm-networks.ts attachSwarm/detachSwarm) with a recording
// driver and swarm: the managers' address goes into the endpoint and the record, a replay asks for
// the same attachment again, `-p` is refused before anything is asked, a failed join gives the new
// attachment back, and removal leaves the overlay before giving the address back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DriverRegistry, NetworkDriver } from '../network/driver.js';
import type { LocalNetworks } from '../network/local-networks.js';
import { CnmContainerNetworks } from './cnm-networks.js';
import type { NetworkAttachment } from './network.js';
import type { SwarmNetworks } from './swarm-networks.js';

const CID = 'c'.repeat(64);

function setup(o: { failJoin?: boolean } = {}) {
  const calls: string[] = [];
  const driver = {
    name: 'overlay',
    capabilities: { scope: 'swarm', namespace: 'own', exclusive: false, addressed: true },
    createEndpoint: async (n: string, ep: { id: string; address?: string }) =>
      void calls.push(`createEndpoint ${n} ${ep.id} ${ep.address}`),
    deleteEndpoint: async (n: string, id: string) => void calls.push(`deleteEndpoint ${n} ${id}`),
    join: async (n: string, id: string, sb: { id: string }, j: { ifName: string }) => {
      calls.push(`join ${n} ${id} ${sb.id} ${j.ifName}`);
      if (o.failJoin) throw new Error('no sandbox');
      return { ifName: j.ifName, address: '10.0.9.2/24', mac: '02:42:0a:00:09:02' };
    },
    leave: async (n: string, id: string) => void calls.push(`leave ${n} ${id}`),
  } as unknown as NetworkDriver;
  const swarm: SwarmNetworks = {
    attach: async (ref, containerId, aliases) => {
      calls.push(`attach ${ref} ${containerId.slice(0, 4)} [${aliases.join(',')}]`);
      return { attachmentId: 'att1', networkId: 'net1', networkName: 'app', address: '10.0.9.2/24' };
    },
    detach: async (id) => void calls.push(`detach ${id}`),
    driver: async () => driver,
  };
  const networks = new CnmContainerNetworks({
    networks: { find: () => undefined } as unknown as LocalNetworks,
    drivers: {} as DriverRegistry,
    exposedPorts: async () => [],
    swarm: () => swarm,
  });
  return { calls, networks };
}

const attachment = (over: Partial<NetworkAttachment> = {}): NetworkAttachment => ({
  containerId: CID,
  containerName: 'ctr',
  mode: 'app',
  netnsPath: '/run/netns/x',
  image: 'busybox',
  portBindings: [],
  publishAllPorts: false,
  ...over,
});

test('attach: the managers address, the overlay leg, the attachment kept; a replay asks again by id', async () => {
  const { calls, networks } = setup();
  const s = await networks.attach(attachment({ aliases: ['db'] }));
  assert.deepEqual(calls, [
    'attach app cccc [db]',
    `createEndpoint net1 ${CID} 10.0.9.2/24`,
    `join net1 ${CID} ${CID} eth0`,
  ]);
  assert.equal(s.address, '10.0.9.2/24');
  assert.equal(s.networkName, 'app');
  assert.equal(s.attachmentId, 'att1');
  assert.equal(s.macAddress, '02:42:0a:00:09:02');
  calls.length = 0;
  await networks.attach(attachment({ settings: s }));
  assert.equal(calls[0], 'attach net1 cccc []', 'the replay names the network by id');

  calls.length = 0;
  await networks.detach(attachment({ settings: s }));
  assert.deepEqual(calls, [`leave net1 ${CID}`, `deleteEndpoint net1 ${CID}`, 'detach att1']);
  assert.deepEqual(
    networks.usersOf('net1', () => undefined),
    [],
  );
});

test('attach: -p is refused before the managers are asked; a failed join gives the address back', async () => {
  const a = setup();
  await assert.rejects(
    a.networks.attach(attachment({ portBindings: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080 }] })),
    /publishing ports of a container on overlay network app is not supported yet/,
  );
  assert.deepEqual(a.calls, []);

  const b = setup({ failJoin: true });
  await assert.rejects(b.networks.attach(attachment()), /no sandbox/);
  assert.deepEqual(b.calls.slice(-2), [`deleteEndpoint net1 ${CID}`, 'detach att1']);
});
