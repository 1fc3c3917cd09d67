// The node's side of `--opt encrypted` (issue 18, fault 2): a task on an encrypted network is refused
// on a node whose kernel cannot encrypt, with the reason; tasks on other networks are not affected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultTaskSpec, type Task } from '../api/objects/index.js';
import { overlayNetwork } from '../api/objects/test-fixtures.js';
import { probeEsp } from '../lib/esp.js';
import { createLogger } from '../lib/log.js';
import { NetworkPlane } from './network-plane.js';

const network = (id: string, name: string, options: Record<string, string>) =>
  overlayNetwork(id, name, { options, vni: 4200 });

const taskOn = (networkId: string): Task => ({
  id: `t-${networkId}`,
  meta: { version: 1, createdAt: '', updatedAt: '' },
  serviceId: 's1',
  slot: 1,
  nodeId: 'n1',
  spec: defaultTaskSpec('host', ['sleep', '1']),
  specVersion: 1,
  serviceName: 'web',
  desiredState: 'running',
  status: { state: 'assigned', timestamp: '', message: '', err: '' },
  networks: [{ networkId, addresses: ['10.0.9.5/24'], aliases: [] }],
  endpoint: { ports: [], virtualIps: [] },
});

test('a task on an encrypted network is refused on a node that cannot encrypt, with the reason', async () => {
  const plane = new NetworkPlane({
    nodeId: 'n1',
    vtep: '198.18.0.11',
    prefix: 'swlnptest',
    resolvConf: '/nonexistent',
    log: createLogger('silent'),
  });
  const attacher = plane.attacher();
  attacher.setNetworks([network('enc1', 'secure', { encrypted: '' }), network('plain1', 'plain', {})]);
  assert.equal((await probeEsp()).esp, false, 'this test expects a kernel without ESP');
  assert.match(
    (await attacher.refusal!(taskOn('enc1')))!,
    /^network secure is encrypted and this node's kernel cannot encrypt overlay traffic/,
  );
  assert.equal(await attacher.refusal!(taskOn('plain1')), undefined);
  await plane.stop();
});
