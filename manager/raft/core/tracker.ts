// ProgressTracker: the membership (voters, learners), the leader's Progress per member, and the votes
// of an election in progress.

import type { ConfState, RaftId } from '../types.js';
import { Progress } from './progress.js';
import { majorityCommitIndex, quorumSize, voteResult, type VoteResult } from './quorum.js';

export class ProgressTracker {
  readonly voters = new Set<RaftId>();
  readonly learners = new Set<RaftId>();
  readonly progress = new Map<RaftId, Progress>();
  private readonly votes = new Map<RaftId, boolean>();

  constructor(private readonly maxInflight: number) {}

  confState(): ConfState {
    return {
      voters: [...this.voters].sort((a, b) => a - b),
      learners: [...this.learners].sort((a, b) => a - b),
    };
  }

  /** Replaces the membership (from storage or a snapshot); every member starts probing at `next`. */
  reset(cs: ConfState, next: number): void {
    this.voters.clear();
    this.learners.clear();
    this.progress.clear();
    for (const id of cs.voters) this.addVoter(id, next);
    for (const id of cs.learners) this.addLearner(id, next);
  }

  addVoter(id: RaftId, next: number): void {
    this.learners.delete(id);
    this.voters.add(id);
    const pr = this.progress.get(id);
    if (pr) pr.learner = false;
    else this.progress.set(id, this.newProgress(next, false));
  }

  addLearner(id: RaftId, next: number): void {
    if (this.voters.has(id)) throw new Error(`raft: ${id} is a voter; demotion is not supported`);
    this.learners.add(id);
    if (!this.progress.has(id)) this.progress.set(id, this.newProgress(next, true));
  }

  remove(id: RaftId): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
  }

  private newProgress(next: number, learner: boolean): Progress {
    const pr = new Progress(next, this.maxInflight, learner);
    // A new member has not had a chance to answer yet; do not let CheckQuorum count it as gone.
    pr.recentActive = true;
    return pr;
  }

  isVoter(id: RaftId): boolean {
    return this.voters.has(id);
  }

  /** The highest index replicated to a majority of voters. */
  committed(): number {
    return majorityCommitIndex([...this.voters].map((id) => this.progress.get(id)?.match ?? 0));
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: RaftId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, v] of this.votes) {
      if (!this.voters.has(id)) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: voteResult(this.voters, this.votes) };
  }

  /** Whether a majority of voters (counting `self`) were heard from recently. */
  quorumActive(self: RaftId): boolean {
    let active = 0;
    for (const id of this.voters) {
      if (id === self || this.progress.get(id)?.recentActive) active++;
    }
    return active >= quorumSize(this.voters.size);
  }
}
