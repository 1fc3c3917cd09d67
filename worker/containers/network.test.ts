import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtimeNetworkOptions } from './network.js';

test('runtimeNetworkOptions: the embedded resolv.conf on a user network, made on one or connected to one', () => {
  const rows: [string, string[], object][] = [
    ['host', [], { hostNetwork: true }],
    ['bridge', [], { resolvConf: { mode: 'node', nodeFile: '/r' } }],
    ['bridge', ['bridge'], { resolvConf: { mode: 'node', nodeFile: '/r' } }],
    ['none', [], { resolvConf: { mode: 'node', nodeFile: '/r' } }],
    ['appnet', ['appnet'], { resolvConf: { mode: 'embedded', nodeFile: '/r' } }],
    // Made on the default bridge, then `network connect appnet`: its sandbox made again has the resolver.
    ['bridge', ['bridge', 'appnet'], { resolvConf: { mode: 'embedded', nodeFile: '/r' } }],
    // ... and after `network disconnect bridge` too.
    ['bridge', ['appnet'], { resolvConf: { mode: 'embedded', nodeFile: '/r' } }],
  ];
  for (const [mode, names, want] of rows)
    assert.deepEqual(runtimeNetworkOptions(mode, '/r', names), want, `${mode} ${names.join(',')}`);
  assert.deepEqual(runtimeNetworkOptions('bridge'), {
    resolvConf: { mode: 'node', nodeFile: '/etc/resolv.conf' },
  });
});
