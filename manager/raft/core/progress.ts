// Progress: the leader's view of one follower's log, and how it sends to it (etcd's model).
//   Probe:     one AppendEntries at a time (then wait for a reply or the next heartbeat) until a match
//              index is found; rejections move `next` back using the follower's hint.
//   Replicate: the match is known; AppendEntries are pipelined optimistically, bounded by Inflights.
//   Snapshot:  the needed entries are compacted; a snapshot is in flight and replication pauses until
//              it is reported (reportSnapshot) or acknowledged.

import { ProgressState } from '../types.js';
import { Inflights } from './inflights.js';

export class Progress {
  match = 0;
  next: number;
  state = ProgressState.Probe;
  /** In Snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /**
   * Leader ticks since this member was last heard from. recentActive is cleared at every CheckQuorum
   * round, so right after one every member looks gone until its next reply; reachability (shown to
   * operators, checked before a demotion) needs a sliding window instead.
   */
  silentTicks = 0;
  /** In Probe state: a probe is outstanding, so wait (until a reply or a heartbeat response). */
  probeSent = false;
  readonly inflights: Inflights;
  learner: boolean;

  constructor(next: number, maxInflight: number, learner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
    this.learner = learner;
  }

  /** A message from this member reached the leader. */
  heardFrom(): void {
    this.recentActive = true;
    this.silentTicks = 0;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      // The snapshot may have been applied: resume after it rather than re-probing older entries.
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** The follower acknowledged up to n; returns whether match moved (stale acks do not). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** An AppendEntries ending at lastIndex carrying `count` entries went out. */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === ProgressState.Probe) {
      // Every message in Probe is a probe: wait for its answer (or the next heartbeat).
      this.probeSent = true;
    }
  }

  /**
   * The follower rejected an AppendEntries whose preceding index was `rejected`; `matchHint` is the
   * highest index that may match. Returns false for stale rejections (already superseded).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      // The match is known good: restart right after it.
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }
}
