// One simulated member: the "shell" around a RawNode. Its MemoryStorage is its disk; everything else
// (the RawNode, the key-value store, requests waiting for answers) is memory that a crash loses.
//
// A Ready is handled in two steps, as a real shell with an fsync does: ready() takes the Ready and
// starts the write; only when the write is durable (a later event on the virtual clock) are the
// messages sent, the committed entries applied and advance() called. Messages and ticks keep being
// stepped while the write is in flight. A crash in between loses the write — or, when the write had
// reached the disk but the process died before sending, keeps it without sending anything.

import { MemoryStorage } from '../core/memory-storage.js';
import { RawNode } from '../core/rawnode.js';
import { type RaftId, type Ready } from '../types.js';
import { KvStore } from './kv.js';
import type { ClientRequest } from './workload.js';

export interface PendingRead {
  request: ClientRequest;
  /** Set once the ReadState arrived: the read may be served once applied >= index. */
  index?: number;
}

export class SimNode {
  readonly storage = new MemoryStorage();
  raw: RawNode | undefined;
  kv = new KvStore();
  /** Bumped at every crash so that callbacks scheduled by a previous life do nothing. */
  incarnation = 0;
  inflightReady: Ready | undefined;
  /** Client requests this member accepted and will answer when it applies them (lost on crash). */
  readonly waitingProposals = new Map<number, ClientRequest>();
  readonly waitingReads = new Map<string, PendingRead>();
  /** The last term in which this member was seen leading. */
  ledTerm = 0;
  /** Virtual time until which the process is stalled. */
  pausedUntil = 0;
  /** Permanently stopped (removed from the cluster and shut down). */
  retired = false;

  constructor(readonly id: RaftId) {}

  get alive(): boolean {
    return this.raw !== undefined;
  }

  /** Writes a Ready's durable parts to the disk. */
  persist(rd: Ready): void {
    if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
    this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
  }

  /** Loses all memory; `writeLanded` keeps the in-flight write (it reached the disk before the crash). */
  crash(writeLanded: boolean): void {
    if (writeLanded && this.inflightReady) this.persist(this.inflightReady);
    this.raw = undefined;
    this.inflightReady = undefined;
    this.incarnation++;
    this.waitingProposals.clear();
    this.waitingReads.clear();
  }

  /** Rebuilds the state machine from the disk's snapshot; the log's committed tail is re-applied. */
  recoverStateMachine(): number {
    const snap = this.storage.snapshot();
    this.kv = KvStore.deserialize(snap.data);
    if (snap.data.byteLength > 0 && this.kv.applied !== snap.metadata.index) {
      throw new Error(`sim: snapshot at ${snap.metadata.index} holds state at ${this.kv.applied}`);
    }
    this.kv.applied = snap.metadata.index;
    this.kv.confState = snap.metadata.confState;
    return snap.metadata.index;
  }
}
