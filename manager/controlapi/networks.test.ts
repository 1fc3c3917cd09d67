import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { encryptionRefusal, probeEsp } from '../../lib/esp.js';
import { attachmentTask } from './attachments.js';
import { addTask, assertRefused, assertUnsendable, fixture, wireSpec } from './service-test-fixtures.js';

const S = grpc.status;
const overlay = (name: string, extra: Record<string, unknown> = {}) => ({
  spec: { name, driver: 'overlay', ...extra },
});

test('network create: stored with an empty allocation, found by id, name and id prefix', async () => {
  const f = await fixture();
  const { network } = await f.call(
    'CreateNetwork',
    overlay('appnet', { attachable: true, labels: { team: 'a' } }),
  );
  assert.equal(network.spec.name, 'appnet');
  assert.deepEqual(network.ipam, []);
  assert.equal(network.vni, 0);
  assert.equal(network.spec.attachable, true);
  assert.deepEqual(network.spec.labels, { team: 'a' });
  assert.ok(network.meta.version > 0);
  // The driver may be left out: overlay is the only one.
  const { network: other } = await f.call('CreateNetwork', { spec: { name: 'other' } });
  assert.equal(other.spec.driver, 'overlay');

  for (const ref of [network.id, 'appnet', network.id.slice(0, 4)]) {
    assert.equal((await f.call('GetNetwork', { ref })).network.id, network.id, ref);
  }
  const { networks } = await f.call('ListNetworks', {});
  assert.deepEqual(
    networks.map((n: { spec: { name: string } }) => n.spec.name),
    ['appnet', 'ingress', 'other'],
  );
});

test('network create: a macvlan network of the swarm, --config-from or with its own subnet', async () => {
  const f = await fixture();
  const { network } = await f.call('CreateNetwork', {
    spec: { name: 'mvswarm', driver: 'macvlan', configFrom: 'mvcfg' },
  });
  assert.deepEqual(
    [network.spec.driver, network.spec.configFrom, network.ipam, network.vni],
    ['macvlan', 'mvcfg', [], 0],
  );
  // Each node's subnet is its own: the same one as another node-local network's is no clash.
  const own = { name: 'br1', driver: 'bridge', ipam: [{ subnet: '10.50.0.0/24' }] };
  await f.call('CreateNetwork', { spec: own });
  await f.call('CreateNetwork', { spec: { ...own, name: 'br2' } });
  assert.equal((await f.call('GetNetwork', { ref: 'mvswarm' })).network.spec.configFrom, 'mvcfg');
});

test('network create: every invalid spec is INVALID_ARGUMENT and changes nothing', async () => {
  const f = await fixture();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ spec: null }, /network spec is required/],
    [overlay(''), /network name is required/],
    [overlay('-bad'), /invalid network name "-bad"/],
    [overlay('a'.repeat(64)), /longer than 63/],
    [overlay('n', { driver: 'ipvlan' }), /unsupported network driver "ipvlan"/],
    [overlay('n', { driver: 'bridge' }), /a bridge network with --scope swarm needs one --subnet/],
    [overlay('n', { driver: 'macvlan', configFrom: 'c', options: { parent: 'eth0' } }), /are exclusive/],
    [overlay('n', { configFrom: 'c' }), /not overlay/],
    [overlay('n', { ingress: true }), /ingress network is created with the swarm/],
    [overlay('n', { ipam: [{ subnet: '10.9.1.5/24' }] }), /did you mean 10\.9\.1\.0\/24/],
    [overlay('n', { ipam: [{ subnet: '10.9.1.0/24' }, { subnet: '10.9.0.0/16' }] }), /overlap/],
    [overlay('n', { options: { mtu: 'big' } }), /invalid mtu option "big"/],
  ];
  for (const [req, message] of cases)
    await assertRefused(f, 'CreateNetwork', req, S.INVALID_ARGUMENT, message);
  // Malformed shapes never reach the handler: the client's encoder refuses them, naming the field.
  const malformed: [Record<string, unknown>, RegExp][] = [
    [{ spec: 'appnet' }, /spec: object expected/],
    [overlay('n', { ipam: [7] }), /ipam: object expected/],
    [overlay('n', { ipam: { subnet: '10.0.0.0/24' } }), /ipam: array expected/],
  ];
  for (const [req, message] of malformed) assertUnsendable('CreateNetwork', req, message);
});

test('network create: unknown --opt keys and --opt encrypted on a node that cannot encrypt are refused', async () => {
  // Issue 18, fault 2: both were stored and ignored (the "encrypted" network carried plaintext).
  const f = await fixture();
  await assertRefused(
    f,
    'CreateNetwork',
    overlay('n', { options: { frobnicate: '1' } }),
    S.INVALID_ARGUMENT,
    /unknown overlay option "frobnicate": the known options are mtu and encrypted/,
  );
  await assertRefused(
    f,
    'CreateNetwork',
    overlay('n', { options: { encrypted: 'maybe' } }),
    S.INVALID_ARGUMENT,
    /invalid encrypted option "maybe"/,
  );
  // This machine's own kernel, asked for real: it has no ESP (DESIGN.md; the multi-VM issue).
  const probe = await probeEsp();
  assert.equal(probe.esp, false, `this test expects a kernel without ESP; it said: ${probe.detail}`);
  await assertRefused(
    f,
    'CreateNetwork',
    overlay('secure', { options: { encrypted: '' } }),
    S.FAILED_PRECONDITION,
    /network secure cannot be encrypted: this node's kernel cannot encrypt overlay traffic .*create it without --opt encrypted/,
  );
  // A kernel with ESP and a data path that programs it: created, and the option is kept.
  f.ctx.encryptionRefusal = async () => encryptionRefusal({ esp: true, detail: '' }, true);
  const { network } = await f.call('CreateNetwork', overlay('secure', { options: { encrypted: '' } }));
  assert.deepEqual(network.spec.options, { encrypted: '' });
});

test('network create: a taken name is ALREADY_EXISTS, whatever its case', async () => {
  const f = await fixture();
  await f.call('CreateNetwork', overlay('appnet'));
  await assertRefused(
    f,
    'CreateNetwork',
    overlay('appnet'),
    S.ALREADY_EXISTS,
    /network appnet already exists/,
  );
  await assertRefused(
    f,
    'CreateNetwork',
    overlay('AppNet'),
    S.ALREADY_EXISTS,
    /network appnet already exists/,
  );
  await assertRefused(
    f,
    'CreateNetwork',
    overlay('ingress'),
    S.ALREADY_EXISTS,
    /network ingress already exists/,
  );
});

test('network create: an overlapping subnet is FAILED_PRECONDITION and changes nothing', async () => {
  const f = await fixture();
  await f.call('CreateNetwork', overlay('appnet', { ipam: [{ subnet: '10.20.0.0/16' }] }));
  await assertRefused(
    f,
    'CreateNetwork',
    overlay('dbnet', { ipam: [{ subnet: '10.20.5.0/24' }] }),
    S.FAILED_PRECONDITION,
    /subnet 10\.20\.5\.0\/24 overlaps subnet 10\.20\.0\.0\/16 of network appnet/,
  );
  // The routing mesh's range (allocated to ingress by the allocator).
  await assertRefused(
    f,
    'CreateNetwork',
    overlay('dbnet', { ipam: [{ subnet: '10.255.1.0/24' }] }),
    S.FAILED_PRECONDITION,
    /overlaps subnet 10\.255\.0\.0\/16 of network ingress/,
  );
});

test('network create: overlap with a network the allocator has not allocated yet is still refused', async () => {
  const f = await fixture({ allocation: 'stale' });
  await f.call('CreateNetwork', overlay('appnet', { ipam: [{ subnet: '10.20.0.0/16' }] }));
  await assertRefused(
    f,
    'CreateNetwork',
    overlay('dbnet', { ipam: [{ subnet: '10.20.0.0/24' }] }),
    S.FAILED_PRECONDITION,
    /overlaps subnet 10\.20\.0\.0\/16 of network appnet/,
  );
});

test('network rm: refused while a service uses it or for ingress; removed otherwise', async () => {
  const f = await fixture();
  await f.call('CreateNetwork', overlay('appnet'));
  await f.call('CreateService', {
    spec: wireSpec('web', { task: { image: 'host', networks: [{ target: 'appnet' }] } }),
  });
  await f.call('CreateService', {
    spec: wireSpec('api', { task: { image: 'host', networks: [{ target: 'appnet' }] } }),
  });
  await assertRefused(
    f,
    'RemoveNetwork',
    { ref: 'appnet' },
    S.FAILED_PRECONDITION,
    /^network appnet is in use by services api, web$/,
  );
  await assertRefused(
    f,
    'RemoveNetwork',
    { ref: 'ingress' },
    S.FAILED_PRECONDITION,
    /ingress network .* cannot be removed/,
  );
  await assertRefused(f, 'RemoveNetwork', { ref: 'nope' }, S.NOT_FOUND, /network nope not found/);
  await assertRefused(
    f,
    'RemoveNetwork',
    {},
    S.INVALID_ARGUMENT,
    /network id, id prefix or name is required/,
  );

  await f.call('RemoveService', { ref: 'api' });
  await assertRefused(
    f,
    'RemoveNetwork',
    { ref: 'appnet' },
    S.FAILED_PRECONDITION,
    /^network appnet is in use by service web$/,
  );
  await f.call('RemoveService', { ref: 'web' });
  assert.deepEqual(await f.call('RemoveNetwork', { ref: 'appnet' }), {});
  assert.equal(
    f.store.view((tx) => tx.find('network', 'name', 'appnet').length),
    0,
  );
});

test('network prune: removes every unused network but ingress, and names them', async () => {
  const f = await fixture();
  for (const name of ['zeta', 'appnet', 'used']) await f.call('CreateNetwork', overlay(name));
  await f.call('CreateService', {
    spec: wireSpec('web', { task: { image: 'host', networks: [{ target: 'used' }] } }),
  });
  assert.deepEqual(await f.call('PruneNetworks', {}), { removed: ['appnet', 'zeta'] });
  const left = f.store.view((tx) => tx.list('network').map((n) => n.spec.name)).sort();
  assert.deepEqual(left, ['ingress', 'used']);
  assert.deepEqual(await f.call('PruneNetworks', {}), { removed: [] });
});

test("network rm and prune: a removed service's tasks still attached keep the network until they stop", async () => {
  const f = await fixture();
  const { network } = await f.call('CreateNetwork', overlay('appnet'));
  await f.call('CreateService', {
    spec: wireSpec('web', { task: { image: 'host', networks: [{ target: 'appnet' }] } }),
  });
  const web = f.store.view((tx) => tx.find('service', 'name', 'web')[0]!);
  await addTask(f.store, web, 't1', { slot: 1, nodeId: 'node-a', desired: 'shutdown' });
  await f.store.update((tx) => {
    const t = tx.get('task', 't1')!;
    tx.update('task', {
      ...t,
      networks: [{ networkId: network.id, addresses: ['10.0.0.3/24'], aliases: [] }],
    });
  });
  await f.call('RemoveService', { ref: 'web' });
  await assertRefused(
    f,
    'RemoveNetwork',
    { ref: 'appnet' },
    S.FAILED_PRECONDITION,
    /^network appnet is in use by task web\.1 \(stopping/,
  );
  assert.deepEqual(await f.call('PruneNetworks', {}), { removed: [] });
  await f.store.update((tx) => {
    const t = tx.get('task', 't1')!;
    tx.update('task', { ...t, status: { ...t.status, state: 'shutdown' } });
  });
  assert.deepEqual(await f.call('PruneNetworks', {}), { removed: ['appnet'] });
});

test('network rm: refused while a standalone container is attached (run --network), allowed once it is gone', async () => {
  const f = await fixture();
  const { network } = await f.call('CreateNetwork', overlay('appnet', { attachable: true }));
  const stored = f.store.view((tx) => tx.get('network', network.id)!);
  const containerId = 'f'.repeat(64);
  await f.store.update((tx) =>
    tx.create('task', attachmentTask(stored, { nodeId: 'node-b', containerId, aliases: [] }, 'att1', 'now')),
  );
  await assertRefused(
    f,
    'RemoveNetwork',
    { ref: 'appnet' },
    S.FAILED_PRECONDITION,
    /^network appnet is in use by container ffffffffffff \(node node-b\): remove them on their nodes first$/,
  );
  await f.store.update((tx) => tx.delete('task', 'att1'));
  await f.call('RemoveNetwork', { ref: 'appnet' });
});
