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
import { bcastAppend, maybeSendAppend } from './replication.js';

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
    // The leader was removed: step down; the remaining voters elect a leader among themselves.
    r.becomeFollower(r.term, NONE);
    return cs;
  }
  if (r.leadTransferee !== NONE && !r.tracker.isVoter(r.leadTransferee)) r.leadTransferee = NONE;
  // A smaller quorum may commit more; a new member needs its first probe.
  if (r.maybeCommit()) bcastAppend(r);
  else for (const id of r.tracker.progress.keys()) if (id !== r.id) maybeSendAppend(r, id, false);
  return cs;
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
