import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Role } from './raft/types.js';
import { planLeadership, type LeadershipPlan } from './leading.js';

const cases: { name: string; leading: boolean; role: Role; plan: LeadershipPlan }[] = [
  {
    name: 'elected: the dispatcher, then the controllers',
    leading: false,
    role: Role.Leader,
    plan: { leading: true, steps: ['start-dispatcher', 'start-controllers'] },
  },
  {
    name: 'deposed: nodes are redirected first, then the controllers stop',
    leading: true,
    role: Role.Follower,
    plan: { leading: false, steps: ['stop-dispatcher', 'stop-controllers'] },
  },
  {
    name: 'any role but leader stops leading (as reported after a missed follower step)',
    leading: true,
    role: Role.PreCandidate,
    plan: { leading: false, steps: ['stop-dispatcher', 'stop-controllers'] },
  },
  { name: 'still leading: nothing', leading: true, role: Role.Leader, plan: { leading: true, steps: [] } },
  {
    name: 'follower to candidate: nothing',
    leading: false,
    role: Role.Candidate,
    plan: { leading: false, steps: [] },
  },
];

for (const c of cases) {
  test(`leadership plan: ${c.name}`, () => {
    assert.deepEqual(planLeadership(c.leading, c.role), c.plan);
  });
}
