// One simulated member: the shell around a RawNode, modelled on RaftNode and its storage.
//
// - `disk` is what survives a crash; `view` is what the core reads: every write the shell hands to
//   storage shows there at once, ahead of the disk, as DiskStorage's in-memory view does.
// - The core runs with asynchronous storage writes, as in RaftNode: each Ready is handled by the
//   ReadyPlanner RaftNode uses (node/ready-plan.ts): its messages leave at once (unless it commits a
//   membership change or installs a snapshot), its write is queued, it is applied and advanced, and
//   the next Ready is taken while the write is in flight; its acknowledgements (messagesAfterWrite)
//   are released once the write, and all before it, is on disk. A commit-only hard state is deferred
//   to the next write or tick.
// - Writes reach the disk through a group-committing writer: everything queued while one group is in
//   flight goes in the next group, landing after a simulated fsync delay. A crash lands a random
//   prefix of the group in flight and loses everything after it; memory (the core, the state machine,
//   waiting requests, the deferred commit index) is lost.

import { MemoryStorage } from '../core/memory-storage.js';
import { RawNode } from '../core/rawnode.js';
import { ReadyPlanner } from '../node/ready-plan.js';
import type { PersistBatch } from '../node/storage.js';
import { type ConfState, type RaftId, type Ready } from '../types.js';
import { KvStore } from './kv.js';
import type { ClientRequest } from './workload.js';

export interface PendingRead {
  request: ClientRequest;
  /** Set once the ReadState arrived: the read may be served once applied >= index. */
  index?: number;
}

/** A snapshot of the applied state, and the compaction after it (RaftNode's LogMaintenance). */
interface LocalSnapshot {
  index: number;
  confState: ConfState;
  data: Uint8Array;
  compactTo: number;
}

interface QueuedWrite {
  batch?: PersistBatch;
  snapshot?: LocalSnapshot;
  /** Called once the write (and every write before it) is on disk. */
  done: Array<() => void>;
}

export class SimNode {
  readonly disk = new MemoryStorage();
  view = new MemoryStorage();
  raw: RawNode | undefined;
  planner = new ReadyPlanner();
  kv = new KvStore();
  /** Bumped at every crash so that callbacks scheduled by a previous life do nothing. */
  incarnation = 0;
  /** The Ready whose write the shell is waiting for (it takes no other Ready meanwhile). */
  inflightReady: Ready | undefined;
  /** Writes handed to storage and not on disk yet, in order; the first `groupSize` are in flight. */
  private queue: QueuedWrite[] = [];
  private groupSize = 0;
  /** Client requests this member accepted and will answer when it applies them (lost on crash). */
  readonly waitingProposals = new Map<number, ClientRequest>();
  readonly waitingReads = new Map<string, PendingRead>();
  /** The last term in which this member was seen leading. */
  ledTerm = 0;
  /** How far its commit index was checked against the disks while it led (see checkDurableCommit). */
  durableCommitChecked = { term: 0, index: 0, voters: [] as RaftId[] };
  /** Virtual time until which the process is stalled. */
  pausedUntil = 0;
  /** Permanently stopped (removed from the cluster and shut down). */
  retired = false;

  constructor(readonly id: RaftId) {}

  get alive(): boolean {
    return this.raw !== undefined;
  }

  /** Hands a write to storage: visible to reads now, on disk once its group lands. */
  write(batch: PersistBatch, done?: () => void): void {
    writeTo(this.view, { batch });
    this.queue.push({ batch, done: done ? [done] : [] });
  }

  /**
   * Calls `done` once every write handed to storage so far is on disk: at once (`now`) when none is
   * pending, else with the last of them (RaftNode's ReadyWriter chains on its last write).
   */
  afterWrites(done: () => void, now: (fn: () => void) => void): void {
    const last = this.queue[this.queue.length - 1];
    if (last) last.done.push(done);
    else now(done);
  }

  /** Queues a snapshot and compaction, behind the writes before it (a deferred commit index first). */
  snapshot(s: LocalSnapshot): void {
    writeTo(this.view, { snapshot: s });
    this.queue.push({ snapshot: s, done: [] });
  }

  /** Starts the next group commit if none is in flight; returns its size (0: nothing to do). */
  startGroup(): number {
    if (this.groupSize > 0 || this.queue.length === 0) return 0;
    this.groupSize = this.queue.length;
    return this.groupSize;
  }

  /** The group in flight is on disk. */
  landGroup(): void {
    const group = this.queue.splice(0, this.groupSize);
    this.groupSize = 0;
    for (const w of group) writeTo(this.disk, w);
    for (const w of group) for (const done of w.done) done();
  }

  /** Loses all memory; `landed` writes of the group in flight reached the disk first. */
  crash(landed: number): void {
    for (const w of this.queue.slice(0, Math.min(landed, this.groupSize))) writeTo(this.disk, w);
    this.queue = [];
    this.groupSize = 0;
    this.raw = undefined;
    this.inflightReady = undefined;
    this.incarnation++;
    this.waitingProposals.clear();
    this.waitingReads.clear();
  }

  get writesInFlight(): number {
    return this.groupSize;
  }

  /** A process starting: storage opens on what the disk holds; the state machine from its snapshot. */
  recover(): number {
    this.view = reopen(this.disk);
    this.planner = new ReadyPlanner();
    const snap = this.view.snapshot();
    this.kv = KvStore.deserialize(snap.data);
    if (snap.data.byteLength > 0 && this.kv.applied !== snap.metadata.index) {
      throw new Error(`sim: snapshot at ${snap.metadata.index} holds state at ${this.kv.applied}`);
    }
    this.kv.applied = snap.metadata.index;
    this.kv.confState = snap.metadata.confState;
    return snap.metadata.index;
  }

  /** Re-reads the state machine from the view's snapshot (one just installed from the leader). */
  restoreFromSnapshot(): void {
    const snap = this.view.snapshot();
    this.kv = KvStore.deserialize(snap.data);
    this.kv.applied = snap.metadata.index;
    this.kv.confState = snap.metadata.confState;
  }

  /** Whether (index, term) is on this member's disk (or covered by the snapshot there). */
  holdsDurably(index: number, term: number): boolean {
    if (index <= this.disk.snapshot().metadata.index) return true;
    if (index > this.disk.lastIndex() || index < this.disk.firstIndex()) return false;
    return this.disk.term(index) === term;
  }
}

function writeTo(s: MemoryStorage, w: Pick<QueuedWrite, 'batch' | 'snapshot'>): void {
  const b = w.batch;
  if (b) {
    if (b.snapshot) s.applySnapshot(b.snapshot);
    s.append(b.entries);
    if (b.hardState) s.setHardState(b.hardState);
  }
  const snap = w.snapshot;
  if (snap && snap.index > s.snapshot().metadata.index) {
    if (snap.index > s.initialState().hardState.commit) {
      throw new Error(`sim: snapshot at ${snap.index} past the stored commit index`);
    }
    s.createSnapshot(snap.index, snap.confState, snap.data);
    if (snap.compactTo >= s.firstIndex()) s.compact(snap.compactTo);
  }
}

/** What opening storage on `disk` yields: its snapshot, hard state and log (from the snapshot on). */
function reopen(disk: MemoryStorage): MemoryStorage {
  const s = new MemoryStorage();
  const snap = disk.snapshot();
  if (snap.metadata.index > 0) s.applySnapshot(snap);
  const from = Math.max(disk.firstIndex(), snap.metadata.index + 1);
  if (from <= disk.lastIndex()) s.append(disk.entries(from, disk.lastIndex() + 1, Infinity));
  s.setHardState(disk.initialState().hardState);
  return s;
}
