import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roleSwitch, type NodeRoleView } from './role-supervisor.js';
import type { SwarmRole } from './swarm-state.js';

const view = (role: string, desired: string): NodeRoleView => ({ role, spec: { role: desired } });

const cases: { name: string; current: SwarmRole; node: NodeRoleView; switchTo: SwarmRole | undefined }[] = [
  {
    name: 'a promoted worker becomes a manager at once',
    current: 'worker',
    node: view('worker', 'manager'),
    switchTo: 'manager',
  },
  { name: 'a settled worker stays', current: 'worker', node: view('worker', 'worker'), switchTo: undefined },
  {
    name: 'a settled manager stays',
    current: 'manager',
    node: view('manager', 'manager'),
    switchTo: undefined,
  },
  {
    name: 'a demoted manager waits while the leader still counts it a manager',
    current: 'manager',
    node: view('manager', 'worker'),
    switchTo: undefined,
  },
  {
    name: 'a demoted manager steps down once out of Raft',
    current: 'manager',
    node: view('worker', 'worker'),
    switchTo: 'worker',
  },
  {
    name: 'a manager still joining Raft (observed worker, desired manager) stays',
    current: 'manager',
    node: view('worker', 'manager'),
    switchTo: undefined,
  },
];

for (const c of cases) {
  test(`role switch: ${c.name}`, () => {
    assert.equal(roleSwitch(c.current, c.node), c.switchTo);
  });
}
