// Networks through the allocator state: subnets against other networks, VNIs, release.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allocateNetwork, checkNetwork, releaseNetwork } from './networks.js';
import { AllocatorState } from './state.js';
import { failure, ingress, network, value } from './test-fixtures.js';

describe('allocateNetwork: subnets', () => {
  it('carves /24s from 10.0.0.0/8 by default, around user subnets, never in the ingress range', () => {
    const state = new AllocatorState();
    assert.deepEqual(value(allocateNetwork(state, ingress())), {
      ipam: [{ subnet: '10.255.0.0/16', gateway: '10.255.0.1', ipRange: '' }],
      vni: 4096,
    });
    assert.equal(value(allocateNetwork(state, network('a'))).ipam[0].subnet, '10.0.0.0/24');
    value(
      allocateNetwork(
        state,
        network('user', 'user', { ipam: [{ subnet: '10.0.1.0/25' }, { subnet: '10.0.3.0/24' }] }),
      ),
    );
    assert.equal(value(allocateNetwork(state, network('b'))).ipam[0].subnet, '10.0.2.0/24');
    assert.equal(value(allocateNetwork(state, network('c'))).ipam[0].subnet, '10.0.4.0/24');
  });

  it('uses the cluster pool and subnet size', () => {
    const state = new AllocatorState({ defaultAddrPool: ['172.28.0.0/16'], subnetSize: 26 });
    assert.equal(value(allocateNetwork(state, network('a'))).ipam[0].subnet, '172.28.0.0/26');
    assert.equal(value(allocateNetwork(state, network('b'))).ipam[0].subnet, '172.28.0.64/26');
  });

  it('keeps the ingress range free while no ingress network exists', () => {
    const state = new AllocatorState({ defaultAddrPool: ['10.255.0.0/16', '10.254.0.0/16'], subnetSize: 24 });
    assert.equal(value(allocateNetwork(state, network('a'))).ipam[0].subnet, '10.254.0.0/24');
    const r = failure(allocateNetwork(state, network('u', 'u', { ipam: [{ subnet: '10.255.3.0/24' }] })));
    assert.equal(r.kind, 'conflict');
    assert.match(r.message, /overlaps subnet 10.255.0.0\/16 of the ingress network/);
  });

  it('names the pool when it is exhausted, and holds nothing', () => {
    const state = new AllocatorState({ defaultAddrPool: ['172.28.0.0/25'], subnetSize: 26 });
    value(allocateNetwork(state, network('a')));
    value(allocateNetwork(state, network('b')));
    const r = failure(allocateNetwork(state, network('c')));
    assert.deepEqual(r, {
      kind: 'exhausted',
      pool: '172.28.0.0/25',
      message: 'default address pool 172.28.0.0/25 has no free /26 subnet left',
    });
    assert.equal(state.networks.size, 2);
    assert.equal(state.vnis.size, 2, 'the VNI chosen before the failure is not held');
  });

  it('rejects user subnets overlapping another network, naming it', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, network('a', 'appnet', { ipam: [{ subnet: '10.20.0.0/16' }] })));
    const r = failure(allocateNetwork(state, network('b', 'other', { ipam: [{ subnet: '10.20.30.0/24' }] })));
    assert.equal(r.kind, 'conflict');
    assert.equal(r.message, 'subnet 10.20.30.0/24 overlaps subnet 10.20.0.0/16 of network appnet');
    assert.deepEqual(
      failure(checkNetwork(state, network('b', 'other', { ipam: [{ subnet: '10.20.30.0/24' }] }))),
      r,
    );
    assert.equal(checkNetwork(state, network('b', 'other', { ipam: [{ subnet: '10.21.0.0/24' }] })).ok, true);
    assert.equal(state.networks.size, 1, 'checkNetwork holds nothing');
  });

  it('reports invalid user subnets as invalid', () => {
    const r = failure(
      allocateNetwork(
        new AllocatorState(),
        network('a', 'a', { ipam: [{ subnet: '10.0.0.0/24', gateway: '10.1.0.1' }] }),
      ),
    );
    assert.equal(r.kind, 'invalid');
    const bridge = network('b');
    bridge.spec.driver = 'bridge' as 'overlay';
    assert.equal(failure(allocateNetwork(new AllocatorState(), bridge)).kind, 'invalid');
  });

  it('reports an unusable cluster pool configuration when it must carve', () => {
    const state = new AllocatorState({ defaultAddrPool: ['10.0.0.0/30'], subnetSize: 24 });
    assert.equal(failure(allocateNetwork(state, network('a'))).kind, 'invalid');
    assert.equal(allocateNetwork(state, network('b', 'b', { ipam: [{ subnet: '10.9.0.0/24' }] })).ok, true);
  });

  it('is idempotent for a network it already allocated', () => {
    const state = new AllocatorState();
    const first = value(allocateNetwork(state, network('a')));
    assert.deepEqual(value(allocateNetwork(state, network('a'))), first);
    assert.equal(state.networks.size, 1);
  });
});

describe('allocateNetwork: VNIs', () => {
  it('gives ingress 4096 and others the lowest free from 4097, reusing released ones', () => {
    const state = new AllocatorState();
    const vni = (id: string) => value(allocateNetwork(state, network(id))).vni;
    assert.equal(vni('a'), 4097);
    assert.equal(value(allocateNetwork(state, ingress())).vni, 4096);
    assert.equal(vni('b'), 4098);
    assert.equal(vni('c'), 4099);
    value(releaseNetwork(state, 'b'));
    assert.equal(vni('d'), 4098);
    assert.equal(vni('e'), 4100);
  });

  it('gives 4096 back to an ingress network made again', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, ingress()));
    value(releaseNetwork(state, 'ingress-id'));
    assert.equal(value(allocateNetwork(state, network('a'))).vni, 4097);
    assert.equal(value(allocateNetwork(state, network('i2', 'ingress', { ingress: true }))).vni, 4096);
  });

  it('refuses a second ingress network', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, ingress()));
    const r = failure(allocateNetwork(state, network('i2', 'ingress2', { ingress: true })));
    assert.equal(r.kind, 'conflict');
    assert.match(r.message, /an ingress network already exists: ingress/);
  });

  it('frees the subnet on release so the next network gets it back', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, network('a')));
    value(allocateNetwork(state, network('b')));
    value(releaseNetwork(state, 'a'));
    assert.deepEqual(value(allocateNetwork(state, network('c'))), {
      ipam: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1', ipRange: '' }],
      vni: 4097,
    });
  });
});
