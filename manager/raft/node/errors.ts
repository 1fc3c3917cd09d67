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
  constructor(what: string, ms: number) {
    super(`raft ${what} timed out after ${ms} ms`);
    this.name = 'RaftTimeoutError';
  }
}

/** The node stopped before the request finished. */
export class NodeStoppedError extends Error {
  constructor() {
    super('raft node stopped');
    this.name = 'NodeStoppedError';
  }
}
