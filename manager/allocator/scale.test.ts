// The allocator at scale: 10,000 task addresses on one /16 network, the release and reallocation of
// half of them, and the state rebuilt from the tasks. Behaviour only (distinct addresses, lowest free
// first, a clean rebuild); how long it takes is bench:allocator's figure.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allocateNetwork } from './networks.js';
import { allocatorStateFrom } from './restore.js';
import { AllocatorState } from './state.js';
import { allocateTask, releaseTask } from './tasks.js';
import { network, service, task, value } from './test-fixtures.js';

const COUNT = 10_000;

describe('allocator at scale', () => {
  it(`allocates ${COUNT} distinct task addresses on a /16, reuses the lowest released, rebuilds cleanly`, () => {
    const net = network('n', 'big', { ipam: [{ subnet: '10.50.0.0/16' }] });
    const svc = service('s', 's', { networks: ['n'], endpointMode: 'dnsrr' });
    const tasks = Array.from({ length: COUNT }, (_, i) => task(`t${i}`, svc, i + 1));
    const state = new AllocatorState();
    Object.assign(net, value(allocateNetwork(state, net)));
    const addresses = tasks.map((t) => value(allocateTask(state, t, svc))[0].addresses[0]);
    assert.equal(new Set(addresses).size, COUNT, 'all distinct');
    assert.equal(addresses[0], '10.50.0.2/16');
    assert.equal(addresses[COUNT - 1], '10.50.39.17/16');

    for (let i = 0; i < COUNT; i += 2) value(releaseTask(state, tasks[i].id));
    const again = tasks
      .filter((_, i) => i % 2 === 0)
      .map((t) => value(allocateTask(state, t, svc))[0].addresses[0]);
    assert.deepEqual(
      again.slice(0, 2),
      ['10.50.0.2/16', '10.50.0.4/16'],
      'released addresses come back lowest first',
    );
    assert.deepEqual(new Set(again), new Set(addresses.filter((_, i) => i % 2 === 0)));

    for (const [i, t] of tasks.entries())
      t.networks = [{ networkId: 'n', addresses: [addresses[i]], aliases: [] }];
    const { problems } = allocatorStateFrom({ networks: [net], services: [], tasks });
    assert.deepEqual(problems, []);
  });
});
