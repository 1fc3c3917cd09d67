// Table tests of the role reconciler's planner: given the nodes, the leader's Raft status and the
// clock, the planned actions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node } from '../api/objects/index.js';
import {
  MEMBER_GRACE_MS,
  missingKey,
  planRoles,
  type RoleAction,
  type RoleMember,
  type RolesInput,
} from './roles-plan.js';
import { sampleManager, sampleNode } from './store/test-fixtures.js';

const meta = { version: 1, createdAt: '', updatedAt: '' };
/** A manager node whose flags already agree with `leaderId` and full reachability. */
const manager = (id: string, raftId: number, leaderId = 1, over: Partial<Node> = {}): Node => {
  const n = sampleManager(id, raftId);
  return { ...n, meta, managerStatus: { ...n.managerStatus!, leader: raftId === leaderId }, ...over };
};
const worker = (id: string): Node => ({ ...sampleNode(id), meta });
const voter = (id: number, over: Partial<RoleMember> = {}): RoleMember => ({
  id,
  addr: `198.18.0.${10 + id}:2377`,
  learner: false,
  match: 100,
  reachable: true,
  ...over,
});
const learner = (id: number, match: number): RoleMember => ({ ...voter(id), learner: true, match });

function input(nodes: Node[], members: RoleMember[], over: Partial<RolesInput> = {}): RolesInput {
  return {
    nodes,
    raft: { self: 1, leader: 1, commit: 100, members },
    now: 1_000_000,
    missingSince: new Map(),
    ...over,
  };
}

const demoted = (n: Node): Node => ({ ...n, spec: { ...n.spec, role: 'worker' } });

const cases: { name: string; input: RolesInput; actions: RoleAction[] }[] = [
  {
    name: 'a settled swarm: nothing to do',
    input: input([manager('a', 1), manager('b', 2), worker('w')], [voter(1), voter(2)]),
    actions: [],
  },
  {
    name: 'a learner within the slack of the commit index becomes a voter',
    input: input([manager('a', 1), { ...manager('b', 2), role: 'worker' }], [voter(1), learner(2, 95)]),
    actions: [{ type: 'add-voter', nodeId: 'b', raftId: 2, addr: '198.18.0.12:2377' }],
  },
  {
    name: 'a learner still behind, or with nothing replicated yet, waits',
    input: input(
      [manager('a', 1), { ...manager('b', 2), role: 'worker' }, { ...manager('c', 3), role: 'worker' }],
      [voter(1), learner(2, 50), learner(3, 0)],
    ),
    actions: [],
  },
  {
    name: 'a voter whose node is not yet a manager becomes one',
    input: input([manager('a', 1), { ...manager('b', 2), role: 'worker' }], [voter(1), voter(2)]),
    actions: [{ type: 'mark-manager', nodeId: 'b' }],
  },
  {
    name: 'a demoted follower leaves Raft, then becomes a worker',
    input: input([manager('a', 1), demoted(manager('b', 2))], [voter(1), voter(2)]),
    actions: [
      { type: 'remove-member', raftId: 2 },
      { type: 'demote', nodeId: 'b' },
    ],
  },
  {
    name: 'a demoted node already out of Raft only becomes a worker; so does a removed one',
    input: input(
      [manager('a', 1), demoted(manager('b', 2)), manager('c', 3, 1, { removed: true })],
      [voter(1)],
    ),
    actions: [
      { type: 'demote', nodeId: 'b' },
      { type: 'demote', nodeId: 'c' },
    ],
  },
  {
    name: 'a demoted leader hands leadership to a reachable voter, skipping learners and the unreachable',
    input: input(
      [demoted(manager('a', 1)), manager('b', 2), manager('c', 3), { ...manager('d', 4), role: 'worker' }],
      [voter(1), voter(2, { reachable: false }), voter(3), learner(4, 0)],
    ),
    actions: [
      { type: 'transfer-leadership', to: 3 },
      { type: 'set-flags', nodeId: 'b', raftId: 2, leader: false, reachability: 'unreachable' },
    ],
  },
  {
    name: 'a demoted leader with nobody to hand over to waits',
    input: input(
      [
        demoted(manager('a', 1)),
        manager('b', 2, 1, {
          managerStatus: { raftId: 2, addr: 'x:2377', reachability: 'unreachable', leader: false },
        }),
      ],
      [voter(1), voter(2, { reachable: false })],
    ),
    actions: [],
  },
  {
    name: 'flags follow Raft: the leader moved, a member went quiet',
    input: input(
      [manager('a', 1), manager('b', 2), manager('c', 3)],
      [voter(1), voter(2), voter(3, { reachable: false })],
      {
        raft: {
          self: 2,
          leader: 2,
          commit: 100,
          members: [voter(1), voter(2, { reachable: undefined }), voter(3, { reachable: false })],
        },
      },
    ),
    actions: [
      { type: 'set-flags', nodeId: 'a', raftId: 1, leader: false, reachability: 'reachable' },
      // The leader itself is reachable even though Raft reports no progress for it.
      { type: 'set-flags', nodeId: 'b', raftId: 2, leader: true, reachability: 'reachable' },
      { type: 'set-flags', nodeId: 'c', raftId: 3, leader: false, reachability: 'unreachable' },
    ],
  },
];

for (const c of cases) {
  test(`roles plan: ${c.name}`, () => {
    assert.deepEqual(planRoles(c.input).actions, c.actions);
  });
}

/** The flag a manager whose member is missing gets while it waits out the grace period. */
const unreachableB: RoleAction = {
  type: 'set-flags',
  nodeId: 'b',
  raftId: 2,
  leader: false,
  reachability: 'unreachable',
};

test('roles plan: a manager whose member is missing becomes a worker only after the grace period', () => {
  const nodes = [manager('a', 1), manager('b', 2)];
  const t0 = 1_000_000;
  const first = planRoles(input(nodes, [voter(1)], { now: t0 }));
  assert.deepEqual(first.actions, [unreachableB]);
  assert.deepEqual([...first.missingSince], [[missingKey('b', 2), t0]]);

  const during = planRoles(
    input(nodes, [voter(1)], { now: t0 + MEMBER_GRACE_MS - 1, missingSince: first.missingSince }),
  );
  assert.deepEqual(during.actions, [unreachableB]);
  assert.equal(during.missingSince.get(missingKey('b', 2)), t0, 'the first sighting is kept');

  const after = planRoles(
    input(nodes, [voter(1)], { now: t0 + MEMBER_GRACE_MS, missingSince: during.missingSince }),
  );
  assert.deepEqual(after.actions, [{ type: 'drop-manager', nodeId: 'b', raftId: 2 }]);
});

test('roles plan: a member that comes back (rejoined under the same id) restarts the grace period', () => {
  const nodes = [manager('a', 1), manager('b', 2)];
  const missing = planRoles(input(nodes, [voter(1)], { now: 0 }));
  const back = planRoles(
    input(nodes, [voter(1), voter(2)], { now: 1_000, missingSince: missing.missingSince }),
  );
  assert.deepEqual(back.actions, []);
  assert.equal(back.missingSince.size, 0);
  const missingAgain = planRoles(
    input(nodes, [voter(1)], { now: MEMBER_GRACE_MS + 1, missingSince: back.missingSince }),
  );
  assert.deepEqual(missingAgain.actions, [unreachableB], 'a new absence starts a new grace period');
});

test('roles plan: a node not yet a manager with no member (JoinRaft under way) is left alone', () => {
  const joining = { ...manager('b', 2), role: 'worker' as const };
  const plan = planRoles(input([manager('a', 1), joining], [voter(1)], { now: MEMBER_GRACE_MS * 10 }));
  assert.deepEqual(plan.actions, [unreachableB], 'only its flag: not heard from');
  assert.equal(plan.missingSince.size, 0);
});
