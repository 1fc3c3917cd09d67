// What a change of Raft role means for the leader-only parts of a manager, as a pure function: the
// dispatcher and the controllers (role reconciler, allocator, orchestrator, scheduler, key manager)
// run exactly while this manager leads. Starting goes dispatcher first, so nodes find a session as
// soon as the controllers write; stopping goes the same way, so nodes are sent to the new leader
// before anything else winds down. Manager.onRole is the shell.
import { Role } from './raft/types.js';

export type LeadershipStep =
  'start-dispatcher' | 'start-controllers' | 'stop-dispatcher' | 'stop-controllers';

export interface LeadershipPlan {
  leading: boolean;
  steps: LeadershipStep[];
}

export function planLeadership(leading: boolean, role: Role): LeadershipPlan {
  const nowLeading = role === Role.Leader;
  if (nowLeading === leading) return { leading, steps: [] };
  return nowLeading
    ? { leading: true, steps: ['start-dispatcher', 'start-controllers'] }
    : { leading: false, steps: ['stop-dispatcher', 'stop-controllers'] };
}
