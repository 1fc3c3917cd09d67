// The role reconciler's decisions as a pure function of what the leader sees: the node objects, its
// Raft status and the clock. The shell (roles.ts) carries the actions out in order, through Raft and
// the store, and keeps only `missingSince` from one pass to the next.
//   - a node asked to be a worker again (or removed) leaves the Raft membership and becomes a worker;
//     when it is this leader, leadership is handed over first and the next leader finishes the job;
//   - a manager whose Raft member has been gone for MEMBER_GRACE_MS is no manager any more;
//   - a learner that caught up becomes a voter, and a voter's node becomes a manager;
//   - each manager's reachability and leader flag follow what Raft observes (reachability.ts).
import type { Node, Reachability } from '../api/objects/index.js';
import { isManagerReachable, reachabilityOf } from './reachability.js';

/** A learner within this many entries of the leader's commit index is caught up. */
const CAUGHT_UP_SLACK = 10;

/** How long a manager's Raft member must be missing before the node is made a worker. */
export const MEMBER_GRACE_MS = 5_000;

export interface RoleMember {
  id: number;
  addr: string;
  learner: boolean;
  match?: number;
  reachable?: boolean;
}

export interface RolesInput {
  nodes: readonly Node[];
  raft: { self: number; leader: number; commit: number; members: readonly RoleMember[] };
  now: number;
  /** When a manager's member was first seen missing, by `missingKey` (the previous plan's output). */
  missingSince: ReadonlyMap<string, number>;
}

export type RoleAction =
  /** This leader is being demoted: hand leadership to `to` (the new leader carries on). */
  | { type: 'transfer-leadership'; to: number }
  | { type: 'remove-member'; raftId: number }
  /** The demotion took effect: the node is a worker without manager status. */
  | { type: 'demote'; nodeId: string }
  /** The node's Raft member is gone for good: it is a worker, in fact and in intent. */
  | { type: 'drop-manager'; nodeId: string; raftId: number }
  | { type: 'add-voter'; nodeId: string; raftId: number; addr: string }
  | { type: 'mark-manager'; nodeId: string }
  | { type: 'set-flags'; nodeId: string; raftId: number; leader: boolean; reachability: Reachability };

export interface RolesPlan {
  actions: RoleAction[];
  /** Managers whose member is missing now, and since when (members that came back are forgotten). */
  missingSince: Map<string, number>;
}

export const missingKey = (nodeId: string, raftId: number) => `${nodeId}/${raftId}`;

export function planRoles(input: RolesInput): RolesPlan {
  const { raft, now } = input;
  const members = new Map(raft.members.map((m) => [m.id, m]));
  const actions: RoleAction[] = [];
  const missingSince = new Map<string, number>();
  for (const node of input.nodes) {
    const ms = node.managerStatus;
    if (!ms) continue;
    const member = members.get(ms.raftId);
    if (node.spec.role === 'worker' || node.removed) {
      actions.push(...planDemotion(node.id, ms.raftId, input));
      continue;
    }
    if (!member && node.role === 'manager') {
      // A member may be missing for a moment while its node rejoins under a new Raft id (JoinRaft
      // retires the old member before adding the new one): only a long absence means it lost it.
      const key = missingKey(node.id, ms.raftId);
      const since = input.missingSince.get(key) ?? now;
      missingSince.set(key, since);
      if (now - since >= MEMBER_GRACE_MS)
        actions.push({ type: 'drop-manager', nodeId: node.id, raftId: ms.raftId });
      continue;
    }
    const match = member?.match ?? 0;
    if (member?.learner && match > 0 && match + CAUGHT_UP_SLACK >= raft.commit) {
      actions.push({ type: 'add-voter', nodeId: node.id, raftId: ms.raftId, addr: ms.addr });
      continue;
    }
    if (member && !member.learner && node.role !== 'manager')
      actions.push({ type: 'mark-manager', nodeId: node.id });
  }
  // A node leaving the managers loses its manager status: no flags to keep for it.
  const leaving = new Set(
    actions.flatMap((a) => (a.type === 'demote' || a.type === 'drop-manager' ? [a.nodeId] : [])),
  );
  actions.push(...planFlags(input, leaving));
  return { actions, missingSince };
}

function planDemotion(nodeId: string, raftId: number, { raft }: RolesInput): RoleAction[] {
  if (raftId === raft.self) {
    const view = { self: raft.self, members: raft.members };
    const successor = raft.members.find(
      (m) => m.id !== raftId && !m.learner && isManagerReachable(m.id, view),
    );
    // Nobody to hand over to: the quorum checks of demote should have prevented this; wait.
    return successor ? [{ type: 'transfer-leadership', to: successor.id }] : [];
  }
  const inRaft = raft.members.some((m) => m.id === raftId);
  return [...(inRaft ? [{ type: 'remove-member' as const, raftId }] : []), { type: 'demote', nodeId }];
}

/** Reachability and the leader flag, planned only where they change (each write is a Raft entry). */
function planFlags({ nodes, raft }: RolesInput, leaving: ReadonlySet<string>): RoleAction[] {
  const view = { self: raft.self, members: raft.members };
  const actions: RoleAction[] = [];
  for (const n of nodes) {
    const ms = n.managerStatus;
    if (!ms || leaving.has(n.id)) continue;
    const leader = ms.raftId === raft.leader;
    const reachability = reachabilityOf(ms.raftId, view);
    if (ms.leader !== leader || ms.reachability !== reachability) {
      actions.push({ type: 'set-flags', nodeId: n.id, raftId: ms.raftId, leader, reachability });
    }
  }
  return actions;
}
