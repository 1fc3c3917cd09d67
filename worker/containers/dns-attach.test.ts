// The DNS wrapper around the attach point, with a stand-in inner attach point and resolver: an attach
// that goes through makes the names table's listeners read the network again, so a container whose
// names were already in the table (adopted at daemon start before its swarm overlay could be attached)
// is announced on the overlay once the late attach is done.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../lib/log.js';
import { ContainerNetworksWithDns } from './dns-attach.js';
import { ContainerNameTable } from './dns-records.js';
import type { ContainerNetworks, NetworkAttachment, NetworkSettings } from './network.js';

const CID = 'c'.repeat(64);
const settings: NetworkSettings = {
  networkId: 'net1',
  networkName: 'app',
  address: '10.0.9.2/24',
  gateway: '',
  macAddress: '',
  ports: [],
  attachmentId: 'att1',
};
const attachment: NetworkAttachment = {
  containerId: CID,
  containerName: 'ctr',
  mode: 'app',
  netnsPath: '/run/netns/x',
  image: 'busybox',
  portBindings: [],
  publishAllPorts: false,
  dns: ['192.0.2.53'],
  settings,
};

test('a late attach makes the table listeners read the network again (its names announced then)', async () => {
  let fail = true;
  const inner: ContainerNetworks = {
    attach: async () => {
      if (fail) throw new Error('this node is not connected to a manager right now; try again shortly');
      return settings;
    },
    detach: async () => undefined,
  };
  const table = new ContainerNameTable();
  const reads: string[] = [];
  table.onChange((networkId) => reads.push(networkId));
  const networks = new ContainerNetworksWithDns(inner, {
    resolver: { attachTask: async () => undefined, updateTask: () => undefined, detachTask: () => undefined },
    table,
    nodeUpstreams: async () => [],
    log: createLogger('silent'),
  });
  // Adopted at daemon start: its names are in the table before the overlay could be attached.
  table.set(CID, [{ containerId: CID, networkId: 'net1', name: 'ctr', ip: '10.0.9.2', aliases: [] }]);
  assert.deepEqual(reads, ['net1']);
  await assert.rejects(networks.attach(attachment), /not connected to a manager/);
  assert.deepEqual(reads, ['net1'], 'a failed attach changes nothing');
  fail = false;
  assert.deepEqual(await networks.attach(attachment), settings);
  assert.deepEqual(reads, ['net1', 'net1'], 'the late attach has the network read again');
});
