// Node ingress addresses: from the ingress pool, unique against tasks, released on removal, restored.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allocateNetwork } from './networks.js';
import { allocateNodeIngress, releaseNodeIngress, restoreNodeIngress } from './nodes.js';
import { allocatorStateFrom } from './restore.js';
import { allocateService } from './services.js';
import { AllocatorState } from './state.js';
import { allocateTask } from './tasks.js';
import { failure, ingress, port, service, task, value } from './test-fixtures.js';

describe('node ingress addresses', () => {
  it('come from the ingress pool, are idempotent per node, and never collide with tasks', () => {
    const state = new AllocatorState();
    assert.equal(failure(allocateNodeIngress(state, { id: 'n1' })).kind, 'missing', 'no ingress network yet');
    value(allocateNetwork(state, ingress()));
    const a = value(allocateNodeIngress(state, { id: 'n1' }));
    assert.equal(a, '10.255.0.2/16');
    assert.equal(value(allocateNodeIngress(state, { id: 'n1' })), a, 'idempotent');
    const web = service('web', 'web', { ports: [port(5000)] });
    value(allocateService(state, web));
    const [att] = value(allocateTask(state, task('t1', web), web));
    assert.notEqual(att!.addresses[0], a);
    assert.notEqual(value(allocateNodeIngress(state, { id: 'n2' })), a);
  });

  it('a removed node gives its address back to the next one', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, ingress()));
    const a = value(allocateNodeIngress(state, { id: 'n1' }));
    releaseNodeIngress(state, 'n1');
    releaseNodeIngress(state, 'n1'); // twice is harmless
    assert.equal(value(allocateNodeIngress(state, { id: 'n2' })), a);
  });

  it('a rebuilt state holds what the nodes record, except for removed nodes', () => {
    const net = ingress();
    const live = new AllocatorState();
    const allocated = value(allocateNetwork(live, net));
    const recorded = { ...net, ipam: allocated.ipam, vni: allocated.vni };
    const a = value(allocateNodeIngress(live, { id: 'n1' }));
    const b = value(allocateNodeIngress(live, { id: 'n2' }));
    const { state, problems } = allocatorStateFrom({
      networks: [recorded],
      services: [],
      tasks: [],
      nodes: [
        { id: 'n1', ingressAddress: a },
        { id: 'n2', ingressAddress: b, removed: true },
      ],
    });
    assert.deepEqual(problems, []);
    assert.equal(value(allocateNodeIngress(state, { id: 'n1' })), a);
    assert.equal(value(allocateNodeIngress(state, { id: 'n3' })), b, "the removed node's address is free");
    assert.equal(
      failure(restoreNodeIngress(state, { id: 'n4', ingressAddress: a })).kind,
      'conflict',
      'two nodes claiming one address',
    );
  });
});
