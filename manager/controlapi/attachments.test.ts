// The attachment plan of a standalone container on a swarm overlay: which networks take one, the task
// that holds the address, the address the allocator gives it (next to a service's VIP and tasks), and
// its release when the container goes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Task } from '../../api/objects/index.js';
import {
  allocateNetwork,
  allocateService,
  allocateTask,
  AllocatorState,
  releaseTask,
} from '../allocator/index.js';
import { network, service, task, value } from '../allocator/test-fixtures.js';
import {
  attachmentAddress,
  attachmentRequestProblem,
  attachmentTask,
  attachRefusal,
  existingAttachment,
} from './attachments.js';

const CID = 'a'.repeat(64);
const meta = { version: 1, createdAt: '2026-12-07T00:00:00.000Z', updatedAt: '2026-12-07T00:00:00.000Z' };
const attachable = (id: string, name = id) => {
  const n = network(id, name);
  n.spec.attachable = true;
  return n;
};
const stored = (t: ReturnType<typeof attachmentTask>): Task => ({ ...t, meta });

describe('attachRefusal', () => {
  it('takes an attachable overlay, refuses the others in Docker words', () => {
    assert.equal(attachRefusal(attachable('n1', 'app')), undefined);
    assert.match(attachRefusal(network('n2', 'plain'))!, /network plain is not manually attachable/);
    const ing = network('i', 'ingress', { ingress: true });
    ing.spec.attachable = true;
    assert.match(attachRefusal(ing)!, /ingress network: containers cannot attach/);
    const mv = attachable('m', 'mvswarm');
    mv.spec.driver = 'macvlan';
    mv.spec.configFrom = 'mvcfg';
    assert.match(
      attachRefusal(mv)!,
      /mvswarm is a macvlan network of the swarm: standalone containers cannot/,
    );
  });
});

describe('attachmentRequestProblem', () => {
  it('wants a 64-hex container id and plain aliases', () => {
    assert.equal(attachmentRequestProblem({ nodeId: 'n', containerId: CID, aliases: ['db'] }), undefined);
    assert.match(
      attachmentRequestProblem({ nodeId: 'n', containerId: 'xyz', aliases: [] })!,
      /invalid container id "xyz"/,
    );
    assert.match(
      attachmentRequestProblem({ nodeId: 'n', containerId: CID, aliases: ['a b'] })!,
      /invalid alias/,
    );
  });
});

describe('the attachment task', () => {
  it('is new, on its node, no service, the network with its aliases; found again for a retry', () => {
    const net = attachable('n1', 'app');
    const t = stored(
      attachmentTask(net, { nodeId: 'node-2', containerId: CID, aliases: ['db'] }, 't1', 'now'),
    );
    assert.equal(t.serviceId, '');
    assert.equal(t.nodeId, 'node-2');
    assert.equal(t.status.state, 'new');
    assert.equal(t.desiredState, 'running');
    assert.deepEqual(t.spec.networks, [{ target: 'n1', aliases: ['db'] }]);
    assert.deepEqual(t.attachment, { containerId: CID });
    assert.equal(existingAttachment([t], 'n1', { nodeId: 'node-2', containerId: CID }), t);
    assert.equal(existingAttachment([t], 'n1', { nodeId: 'node-1', containerId: CID }), undefined);
    assert.equal(existingAttachment([t], 'other', { nodeId: 'node-2', containerId: CID }), undefined);
    assert.equal(
      existingAttachment([{ ...t, desiredState: 'remove' }], 'n1', { nodeId: 'node-2', containerId: CID }),
      undefined,
      'one being removed is not reused',
    );
  });

  it('gets the lowest free address after the VIP and the tasks, and gives it back on release', () => {
    const state = new AllocatorState();
    const net = attachable('n1', 'app');
    value(allocateNetwork(state, net));
    const web = service('web', 'web', { networks: ['n1'] });
    const vip = value(allocateService(state, web)).virtualIps[0]!.addr;
    const t1 = value(allocateTask(state, task('t1', web), web))[0]!.addresses[0];
    assert.deepEqual([vip, t1], ['10.0.0.2/24', '10.0.0.3/24']);

    const a = stored(attachmentTask(net, { nodeId: 'w', containerId: CID, aliases: [] }, 'att1', 'now'));
    const got = value(allocateTask(state, a));
    const held = { ...a, networks: got };
    assert.equal(attachmentAddress(held, 'n1'), '10.0.0.4/24');
    assert.equal(attachmentAddress(a, 'n1'), undefined, 'none before the allocator ran');
    const t2 = value(allocateTask(state, task('t2', web), web))[0]!.addresses[0];
    assert.equal(t2, '10.0.0.5/24', 'a held attachment address is not handed out again');

    value(releaseTask(state, 'att1'));
    const b = stored(
      attachmentTask(net, { nodeId: 'w', containerId: 'b'.repeat(64), aliases: [] }, 'att2', 'now'),
    );
    assert.equal(attachmentAddress({ ...b, networks: value(allocateTask(state, b)) }, 'n1'), '10.0.0.4/24');
  });
});
