// The one rule for whether a manager is reachable, used by the role reconciler (the flag `node ls`
// shows) and by the quorum checks of demote/remove: a manager is reachable when the leader heard from
// its Raft member within one election timeout (the Raft core tracks that per member as `reachable`),
// and the leader is always reachable to itself. Only the leader's view counts: a follower has no
// replication progress and reports every other member as not heard from.
import type { Reachability } from '../api/objects/index.js';

export interface MemberReachability {
  id: number;
  /** On the leader: heard from within the last election timeout. */
  reachable?: boolean;
}

export interface RaftView {
  /** This manager's own Raft id. */
  self: number;
  members: readonly MemberReachability[];
}

export function isManagerReachable(raftId: number, view: RaftView): boolean {
  if (raftId === view.self) return true;
  return view.members.find((m) => m.id === raftId)?.reachable ?? false;
}

export const reachabilityOf = (raftId: number, view: RaftView): Reachability =>
  isManagerReachable(raftId, view) ? 'reachable' : 'unreachable';
