import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeRolesFromWire, nodeToWire, WireError } from './node-wire.js';
import { node } from './objects/test-fixtures.js';

test('nodeRolesFromWire: a node as sent gives its roles; no spec or an unknown role is refused', () => {
  const wire = nodeToWire(node('n1', { role: 'manager' }));
  assert.deepEqual(nodeRolesFromWire(wire), { role: 'manager', spec: { role: 'manager' } });
  const cases: [string, typeof wire, string][] = [
    ['no spec', { ...wire, spec: null }, 'node.spec'],
    ['unknown role', { ...wire, role: 'overlord' }, 'node.role'],
    ['unknown desired role', { ...wire, spec: { ...wire.spec!, role: '' } }, 'node.spec.role'],
  ];
  for (const [name, m, path] of cases) {
    assert.throws(
      () => nodeRolesFromWire(m),
      (err: unknown) => err instanceof WireError && err.path === path,
      name,
    );
  }
});
