// Errors a RaftNode's callers can act on.
import type { RaftId } from '../types.js';

export { ProposalDroppedError } from '../types.js';

/** This member is not the leader; retry at `leaderAddr` (empty while no leader is known). */
export class NotLeaderError extends Error {
  constructor(
    readonly leaderId: RaftId,
    readonly leaderAddr: string,
  ) {
    super(
      leaderId ? `not the raft leader; the leader is ${leaderId} at ${leaderAddr || '?'}` : 'no raft leader',
    );
    this.name = 'NotLeaderError';
  }
}

/** The request was accepted but not applied in time; it may still take effect later. */
export class RaftTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`raft ${what} timed out after ${ms} ms`);
    this.name = 'RaftTimeoutError';
  }
}

/**
 * A proposal made as leader was pending when this member stepped down, and no leader followed for
 * `ms`: it has lost its quorum. Its entry may still commit once the members reconnect, so the outcome
 * is unknown, as after a timeout, but the caller learns it in seconds rather than at requestTimeoutMs.
 */
export class LeaderlessError extends Error {
  constructor(readonly ms: number) {
    super(`raft proposal abandoned: no leader for ${ms} ms after this member stepped down`);
    this.name = 'LeaderlessError';
  }
}

/** The node stopped before the request finished. */
export class NodeStoppedError extends Error {
  constructor() {
    super('raft node stopped');
    this.name = 'NodeStoppedError';
  }
}
