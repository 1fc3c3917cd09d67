// Tasks: one address per network, from the same pools as VIPs; release and reuse; exhaustion.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allocateNetwork, releaseNetwork } from './networks.js';
import { allocateService } from './services.js';
import { AllocatorState } from './state.js';
import { allocateTask, releaseTask } from './tasks.js';
import { failure, ingress, network, port, service, task, value } from './test-fixtures.js';

describe('allocateTask', () => {
  it('gives an address on each network (ingress too when the service publishes), after the VIPs', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, ingress()));
    value(allocateNetwork(state, network('n1', 'appnet')));
    const web = service('web', 'web', { networks: ['n1'], ports: [port(5000)] });
    web.spec.task.networks[0].aliases = ['www'];
    value(allocateService(state, web));
    assert.deepEqual(value(allocateTask(state, task('t1', web), web)), [
      { networkId: 'n1', addresses: ['10.0.0.3/24'], aliases: ['www'] },
      { networkId: 'ingress-id', addresses: ['10.255.0.3/16'], aliases: [] },
    ]);
    assert.deepEqual(
      value(allocateTask(state, task('t1', web), web)),
      value(allocateTask(state, task('t1', web), web)),
      'idempotent',
    );
    assert.equal(
      value(allocateTask(state, task('t2', web))).length,
      1,
      'without the service: its own networks only',
    );
  });

  it('never hands out the gateway, network or broadcast address; reuses released ones; then names the pool', () => {
    const state = new AllocatorState();
    value(
      allocateNetwork(
        state,
        network('n', 'appnet', { ipam: [{ subnet: '10.0.1.0/29', gateway: '10.0.1.4' }] }),
      ),
    );
    const svc = service('s', 's', { networks: ['n'], endpointMode: 'dnsrr' });
    const addr = (id: string) => value(allocateTask(state, task(id, svc), svc))[0].addresses[0];
    assert.deepEqual(['a', 'b', 'c', 'd', 'e'].map(addr), [
      '10.0.1.1/29',
      '10.0.1.2/29',
      '10.0.1.3/29',
      '10.0.1.5/29',
      '10.0.1.6/29',
    ]);
    const r = failure(allocateTask(state, task('f', svc), svc));
    assert.deepEqual(r, {
      kind: 'exhausted',
      pool: '10.0.1.0/29',
      message: 'address pool 10.0.1.0/29 of network appnet is exhausted',
    });
    value(releaseTask(state, 'b'));
    assert.equal(addr('g'), '10.0.1.2/29');
  });

  it('uses the next subnet of a network when the first is full, and names all when all are', () => {
    const state = new AllocatorState();
    value(
      allocateNetwork(
        state,
        network('n', 'multi', { ipam: [{ subnet: '10.9.0.0/30' }, { subnet: '10.9.1.0/30' }] }),
      ),
    );
    const svc = service('s', 's', { networks: ['n'], endpointMode: 'dnsrr' });
    const addr = (id: string) => value(allocateTask(state, task(id, svc), svc))[0].addresses[0];
    assert.deepEqual([addr('a'), addr('b')], ['10.9.0.2/30', '10.9.1.2/30']);
    assert.equal(
      failure(allocateTask(state, task('c', svc), svc)).message,
      'address pools 10.9.0.0/30, 10.9.1.0/30 of network multi are exhausted',
    );
  });

  it('hands out addresses from the ip-range only', () => {
    const state = new AllocatorState();
    value(
      allocateNetwork(
        state,
        network('n', 'r', { ipam: [{ subnet: '10.8.0.0/16', ipRange: '10.8.200.0/31' }] }),
      ),
    );
    const svc = service('s', 's', { networks: ['n'] });
    assert.deepEqual(value(allocateService(state, svc)).virtualIps, [
      { networkId: 'n', addr: '10.8.200.0/16' },
    ]);
    assert.deepEqual(value(allocateTask(state, task('a', svc), svc))[0].addresses, ['10.8.200.1/16']);
    assert.equal(failure(allocateTask(state, task('b', svc), svc)).pool, '10.8.200.0/31');
  });

  it('holds nothing when a later network is exhausted or missing', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, network('big')));
    value(allocateNetwork(state, network('tiny', 'tiny', { ipam: [{ subnet: '192.168.5.0/30' }] })));
    const svc = service('s', 's', { networks: ['big', 'tiny'], endpointMode: 'dnsrr' });
    value(allocateTask(state, task('a', svc), svc));
    assert.equal(failure(allocateTask(state, task('b', svc), svc)).kind, 'exhausted');
    const missing = service('m', 'm', { networks: ['big', 'gone'] });
    assert.equal(failure(allocateTask(state, task('c', missing), missing)).kind, 'missing');
    assert.equal(
      value(allocateTask(state, task('d', service('o', 'o', { networks: ['big'] }))))[0].addresses[0],
      '10.0.0.3/24',
    );
  });

  it('lets a network be released once its last task is gone', () => {
    const state = new AllocatorState();
    value(allocateNetwork(state, network('n', 'appnet')));
    const svc = service('s', 's', { networks: ['n'], endpointMode: 'dnsrr' });
    value(allocateTask(state, task('a', svc), svc));
    assert.match(failure(releaseNetwork(state, 'n')).message, /network appnet is in use by task a/);
    value(releaseTask(state, 'a'));
    assert.equal(releaseNetwork(state, 'n').ok, true);
  });
});
