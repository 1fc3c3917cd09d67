// Single-server membership changes. A ConfChange takes effect on each member when the application
// applies its committed entry (RawNode.applyConfChange), as in etcd: since a leader proposes the
// next change only after the previous one is applied (pendingConfIndex), any two configurations in
// use at once differ by one member, so their majorities overlap. A new leader treats its whole
// uncommitted tail as possibly holding a change (pendingConfIndex = lastIndex at election).

import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  NONE,
  ProposalDroppedError,
  Role,
} from '../types.js';
import { decodeConfChange } from './confchange.js';
import type { Raft } from './raft.js';
import { bcastAppend, maybeSendAppend, sendAppend, sendTimeoutNow } from './replication.js';

export function applyConfChange(r: Raft, cc: ConfChange): ConfState {
  const next = r.log.lastIndex() + 1;
  switch (cc.type) {
    case ConfChangeType.AddVoter:
      r.tracker.addVoter(cc.id, next); // also promotes a learner, keeping its progress
      break;
    case ConfChangeType.AddLearner:
      // Adding a current voter as a learner would be a demotion, not a single-server change: ignored.
      if (!r.tracker.isVoter(cc.id)) r.tracker.addLearner(cc.id, next);
      break;
    case ConfChangeType.RemoveMember:
      r.tracker.remove(cc.id);
      break;
  }
  const cs = r.tracker.confState();
  if (r.role !== Role.Leader) return cs;
  if (!r.tracker.isVoter(r.id)) {
    handOverLeadership(r);
    return cs;
  }
  if (r.leadTransferee !== NONE && !r.tracker.isVoter(r.leadTransferee)) r.leadTransferee = NONE;
  // A smaller quorum may commit more; a new member needs its first probe.
  if (r.maybeCommit()) bcastAppend(r);
  else for (const id of r.tracker.progress.keys()) if (id !== r.id) maybeSendAppend(r, id, false);
  return cs;
}

/**
 * A leader that applied its own removal steps down by handing leadership over (a transfer, as
 * Openraft does; etcd-io/raft's StepDownOnRemoval steps down outright). Stepping down at once can
 * leave the remaining voters stuck: one that has not learnt the removal's commit is still in the old
 * configuration and needs our vote, which we refuse while our log holds entries it lacks (appended
 * after the removal, before we applied it) — and, removed, we never campaign. So the most caught-up
 * remaining voter is first brought level with our log, then told to campaign at once (TimeoutNow),
 * and only then do we step down; until then we stay leader of a configuration without us, refusing
 * proposals (checkProposal). An abandoned attempt (an election timeout without the voter catching
 * up) is started over, with the then most caught-up voter.
 */
export function handOverLeadership(r: Raft): void {
  let target = NONE;
  let best = -1;
  for (const id of [...r.tracker.voters].sort((a, b) => a - b)) {
    const match = r.tracker.progress.get(id)!.match;
    if (id !== r.id && match > best) [target, best] = [id, match];
  }
  if (target === NONE) {
    r.becomeFollower(r.term, NONE); // nobody to hand over to (the last voter cannot be removed)
    return;
  }
  r.leadTransferee = target;
  r.electionElapsed = 0;
  if (best === r.log.lastIndex()) {
    sendTimeoutNow(r, target);
    r.becomeFollower(r.term, NONE);
  } else {
    sendAppend(r, target);
  }
}

/**
 * Whether the leader may append this proposal batch: returns it, or (for a proposal forwarded by a
 * follower) undefined to drop it silently; a local proposal that cannot be accepted throws.
 */
export function checkProposal(r: Raft, entries: Entry[], local: boolean): Entry[] | undefined {
  const drop = (reason: string): undefined => {
    if (local) throw new ProposalDroppedError(reason);
    return undefined;
  };
  if (!r.tracker.progress.has(r.id)) return drop('this member was removed from the cluster');
  if (r.leadTransferee !== NONE) return drop(`leadership is being transferred to ${r.leadTransferee}`);
  const changes = entries.filter((e) => e.type === EntryType.ConfChange);
  if (changes.length === 0) return entries;
  if (changes.length > 1) return drop('one configuration change at a time');
  if (r.pendingConfIndex > r.log.applied) {
    return drop(`configuration change at ${r.pendingConfIndex} is not applied yet`);
  }
  const cc = decodeConfChange(changes[0].data);
  if (cc.type === ConfChangeType.RemoveMember && r.tracker.voters.size === 1 && r.tracker.isVoter(cc.id)) {
    return drop('cannot remove the last voter');
  }
  return entries;
}
