// Majority-quorum arithmetic, as pure functions. Membership changes are single-server (one voter
// added or removed at a time), so any two consecutive configurations' majorities overlap and no joint
// consensus is needed.

import type { RaftId } from '../types.js';

export enum VoteResult {
  Pending = 'pending',
  Won = 'won',
  Lost = 'lost',
}

export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The highest index stored on a majority of voters, given each voter's match index. With no voters
 * nothing can commit, so 0.
 */
export function majorityCommitIndex(matches: readonly number[]): number {
  if (matches.length === 0) return 0;
  const sorted = [...matches].sort((a, b) => b - a);
  return sorted[quorumSize(sorted.length) - 1];
}

/** The outcome of an election so far; voters that have not answered count as neither. */
export function voteResult(voters: Iterable<RaftId>, votes: ReadonlyMap<RaftId, boolean>): VoteResult {
  let granted = 0;
  let missing = 0;
  let n = 0;
  for (const id of voters) {
    n++;
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  if (n === 0) return VoteResult.Won; // an empty configuration cannot be outvoted; callers avoid it
  const q = quorumSize(n);
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
