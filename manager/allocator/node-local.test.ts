// Node-local swarm networks (macvlan/bridge --scope swarm) through the allocator: held with no subnet,
// VNI or VIP; their tasks get an attachment without an address (the node gives one), kept on rebuild.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Network } from '../../api/objects/index.js';
import { allocateNetwork, checkNetwork, releaseNetwork } from './networks.js';
import { allocateService } from './services.js';
import { AllocatorState } from './state.js';
import { allocateTask, releaseTask, restoreTask } from './tasks.js';
import { failure, network, service, task, value } from './test-fixtures.js';

const macvlan = (id: string, spec: Partial<Network['spec']> = {}): Network => {
  const n = network(id);
  return { ...n, spec: { ...n.spec, driver: 'macvlan', configFrom: 'mvcfg', ...spec } };
};

describe('node-local swarm networks in the allocator', () => {
  it('holds one with no subnet and no VNI; overlays carve and number as before', () => {
    const state = new AllocatorState();
    assert.deepEqual(value(allocateNetwork(state, macvlan('mv'))), { ipam: [], vni: 0 });
    assert.deepEqual(value(allocateNetwork(state, macvlan('mv'))), { ipam: [], vni: 0 }, 'idempotent');
    const o = value(allocateNetwork(state, network('o')));
    assert.deepEqual([o.ipam[0]!.subnet, o.vni], ['10.0.0.0/24', 4097]);
    // Its own subnet (no --config-from) is each node's: no clash with an overlay's.
    const own = macvlan('own', {
      configFrom: '',
      ipam: [{ subnet: '10.0.0.0/24', gateway: '', ipRange: '' }],
    });
    assert.deepEqual(value(allocateNetwork(state, own)), { ipam: [], vni: 0 });
  });

  it('refuses bad specs as the control API does', () => {
    const state = new AllocatorState();
    const rows: [Partial<Network['spec']>, RegExp][] = [
      [{ ipam: [{ subnet: '10.1.0.0/24', gateway: '', ipRange: '' }] }, /are exclusive/],
      [{ options: { parent: 'eth0' } }, /are exclusive/],
      [{ configFrom: '' }, /needs one --subnet/],
      [{ driver: 'ipvlan' as 'macvlan' }, /unsupported network driver "ipvlan"/],
    ];
    for (const [spec, re] of rows) {
      assert.match(failure(checkNetwork(state, macvlan('x', spec))).message, re);
      assert.match(failure(allocateNetwork(state, macvlan('x', spec))).message, re);
    }
    assert.equal(state.networks.size, 0);
  });

  it('gives a service no VIP and its tasks an attachment without an address; overlays unchanged', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, macvlan('mv')));
    value(allocateNetwork(state, network('o')));
    const svc = service('s', 's', { networks: ['o', 'mv'] });
    const endpoint = value(allocateService(state, svc));
    assert.deepEqual(
      endpoint.virtualIps.map((v) => v.networkId),
      ['o'],
    );
    const attachments = value(allocateTask(state, task('t1', svc)));
    assert.deepEqual(attachments, [
      { networkId: 'o', addresses: ['10.0.0.3/24'], aliases: [] },
      { networkId: 'mv', addresses: [], aliases: [] },
    ]);
    assert.deepEqual(value(allocateTask(state, task('t1', svc))), attachments, 'idempotent');
    // In use while a task is on it; free once the task is released.
    assert.equal(failure(releaseNetwork(state, 'mv')).kind, 'in-use');
    value(releaseTask(state, 't1'));
    value(releaseNetwork(state, 'mv'));
    assert.equal(state.networks.has('mv'), false);
  });

  it('a rebuilt state keeps a task on a node-local network (its empty attachment)', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, macvlan('mv')));
    const svc = service('s', 's', { networks: ['mv'] });
    const t = { ...task('t1', svc), networks: [{ networkId: 'mv', addresses: [], aliases: [] }] };
    value(restoreTask(state, t));
    assert.deepEqual(value(allocateTask(state, t)), t.networks);
    assert.equal(failure(releaseNetwork(state, 'mv')).kind, 'in-use');
  });
});
