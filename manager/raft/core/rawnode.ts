// RawNode: the core as the shell drives it. Input: tick(), step(), propose...; output: ready(), which
// the shell handles in order — persist hardState/entries/snapshot (fsync when mustSync), then send
// messages, then apply committedEntries (and the snapshot) — and then acknowledges with advance(rd).
// Stepping between ready() and advance() is allowed; ready() again before advance() is not.

import {
  type ConfChange,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  ProposalDroppedError,
  type RaftConfig,
  type RaftId,
  type RaftStatus,
  Role,
  type RawNodeApi,
  type Ready,
  type SoftState,
} from '../types.js';
import { encodeConfChange } from './confchange.js';
import { Raft } from './raft.js';
import { newMessage } from './util.js';

export class RawNode implements RawNodeApi {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private pending: Ready | undefined;
  /** The pending Ready's self-acknowledgements, stepped by advance() (the write is durable then). */
  private pendingAcks: Message[] = [];

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  campaign(): void {
    this.raft.step(newMessage(MessageType.Hup, { from: this.raft.id }));
  }

  propose(data: Uint8Array): void {
    this.raft.step(
      newMessage(MessageType.Propose, {
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data }],
      }),
    );
  }

  proposeConfChange(cc: ConfChange): void {
    this.raft.step(
      newMessage(MessageType.Propose, {
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }],
      }),
    );
  }

  applyConfChange(cc: ConfChange) {
    return this.raft.applyConfChange(cc);
  }

  /** Steps a message from the network. Local-only message types are refused. */
  step(m: Message): void {
    const localOnly = [
      MessageType.Hup,
      MessageType.Beat,
      MessageType.CheckQuorum,
      MessageType.Unreachable,
      MessageType.SnapshotStatus,
    ];
    if (localOnly.includes(m.type))
      throw new Error(`raft: ${MessageType[m.type]} cannot come from the network`);
    try {
      this.raft.step(m);
    } catch (e) {
      // A forwarded proposal that cannot be accepted here is dropped silently, as a lost message would
      // be: its proposer learns the outcome only by seeing the entry applied (or by timing out).
      if (e instanceof ProposalDroppedError && m.type === MessageType.Propose) return;
      throw e;
    }
  }

  readIndex(context: Uint8Array): void {
    this.raft.step(
      newMessage(MessageType.ReadIndex, {
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data: context }],
      }),
    );
  }

  transferLeader(to: RaftId): void {
    // `from` names the transferee (the message is handled by whoever is leader).
    this.raft.step(newMessage(MessageType.TransferLeader, { from: to }));
  }

  reportUnreachable(id: RaftId): void {
    this.raft.step(newMessage(MessageType.Unreachable, { from: id }));
  }

  reportSnapshot(id: RaftId, ok: boolean): void {
    this.raft.step(newMessage(MessageType.SnapshotStatus, { from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    if (!softEqual(r.softState(), this.prevSoft)) return true;
    if (!hardEqual(r.hardState(), this.prevHard)) return true;
    if (r.log.unstable.snapshot !== undefined) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0 || r.msgsAfterAppend.length > 0) return true;
    if (r.log.unstable.entries.length > 0) return true;
    return r.log.hasNextCommittedEntries();
  }

  ready(): Ready {
    if (this.pending) throw new Error('raft: ready() called again before advance()');
    const r = this.raft;
    const soft = r.softState();
    const hard = r.hardState();
    const entries = r.log.unstableEntries();
    const rd: Ready = {
      readStates: r.readStates,
      entries,
      committedEntries: r.log.nextCommittedEntries(),
      messages: r.msgs,
      messagesAfterWrite: [],
      // Only term, vote and new entries need fsync; a lost commit index is re-learned from the leader.
      mustSync:
        entries.length > 0 ||
        r.log.unstable.snapshot !== undefined ||
        hard.term !== this.prevHard.term ||
        hard.vote !== this.prevHard.vote,
    };
    if (!softEqual(soft, this.prevSoft)) rd.softState = soft;
    if (!hardEqual(hard, this.prevHard)) rd.hardState = hard;
    if (r.log.unstable.snapshot) rd.snapshot = r.log.unstable.snapshot;
    r.msgs = [];
    r.readStates = [];
    // Synchronous writes: advance() steps the self-acknowledgements (the write is durable by then).
    // Asynchronous: the shell releases them, and the responses to others, once the write lands.
    if (r.asyncStorageWrites) rd.messagesAfterWrite = r.msgsAfterAppend;
    else this.pendingAcks = r.msgsAfterAppend;
    r.msgsAfterAppend = [];
    this.prevSoft = soft;
    this.pending = rd;
    return rd;
  }

  advance(rd: Ready): void {
    if (rd !== this.pending) throw new Error('raft: advance() with a Ready that is not the pending one');
    this.pending = undefined;
    const log = this.raft.log;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      log.stableSnapTo(rd.snapshot.metadata.index);
      log.appliedTo(rd.snapshot.metadata.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      log.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0)
      log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index);
    // The Ready's entries are durable now: the leader may count its own copy (a stale term is ignored).
    const acks = this.pendingAcks;
    this.pendingAcks = [];
    for (const m of acks) this.raft.step(m);
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress =
      r.role === Role.Leader
        ? [...r.tracker.progress.entries()]
            .sort(([a], [b]) => a - b)
            .map(([id, pr]) => ({
              id,
              learner: pr.learner,
              match: pr.match,
              next: pr.next,
              state: pr.state,
              recentActive: pr.recentActive,
              reachable: r.reachable(id),
              inflight: pr.inflights.count,
            }))
        : [];
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      role: r.role,
      leader: r.lead,
      confState: r.tracker.confState(),
      progress,
      leadTransferee: r.leadTransferee,
    };
  }
}

function softEqual(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function hardEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function newRawNode(config: RaftConfig): RawNode {
  return new RawNode(config);
}
