// Which swarm networks a worker lists by itself: ingress always, its tasks' overlays, nothing else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { overlayNetwork } from '../../api/objects/test-fixtures.js';
import { nodeSwarmNetworks } from './node-networks.js';

const net = (id: string, name: string, ingress = false) => overlayNetwork(id, name, { ingress });

const ingress = net('i', 'ingress', true);
const front = net('f', 'front');
const back = net('b', 'back');
const known = new Map([front, back].map((n) => [n.id, n]));

test('a worker with no task lists ingress alone', () => {
  assert.deepEqual(nodeSwarmNetworks(ingress, [], known), [ingress]);
});

test('before ingress is allocated, and without tasks, nothing', () => {
  assert.deepEqual(nodeSwarmNetworks(null, [], known), []);
});

test("the tasks' overlays join ingress, once each, by name; a network not attached is left out", () => {
  assert.deepEqual(nodeSwarmNetworks(ingress, ['f', 'f', 'i'], known), [front, ingress]);
});

test('a task network the assignments never described is not guessed', () => {
  assert.deepEqual(nodeSwarmNetworks(ingress, ['zzz', 'b'], known), [back, ingress]);
});
