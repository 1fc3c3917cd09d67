// RaftNode: the shell that drives the pure core on the event loop.
//
// The core runs with asynchronous storage writes (etcd-io/raft's AsyncStorageWrites): each Ready's
// write is handed to storage (group commit: one fsync per batch of writes, off the event loop for the
// WAL) and the loop goes on at once — its messages leave, its committed entries are applied, and the
// next Ready is taken while the write is in flight. Only the acknowledgements that promise the write
// (Ready.messagesAfterWrite: append and vote responses, the leader's own and a candidate's own
// included) wait for it to land. So a leader replicates in parallel with its own fsync, and a
// follower accepts the next AppendEntries while the previous one's fsync runs.
import { EventEmitter } from 'node:events';
import type { ChannelCredentials } from '@grpc/grpc-js';
import {
  ConfChangeType,
  EntryType,
  Role,
  RAFT_DEFAULTS,
  type ConfState,
  type Entry,
  type Message,
  type RaftId,
  type RawNodeApi,
  type Ready,
  type Snapshot,
  type SoftState,
} from '../types.js';
import { RaftTransport } from '../transport/transport.js';
import { bootstrapBatch, decodeConfChange, proposeMessage } from './core-binding.js';
import {
  decodeMemberContext,
  decodeProposal,
  decodeSnapshotData,
  encodeMemberContext,
  encodeProposal,
  encodeSnapshotData,
  RequestIds,
  type RequestId,
} from './envelope.js';
import { LeaderlessError, NodeStoppedError, NotLeaderError, RaftTimeoutError } from './errors.js';
import { emptyHistogram } from './latency-histogram.js';
import { LogMaintenance, snapshotPhase } from './log-maintenance.js';
import { describeMembers, type NodeMetrics, type NodeStatus, type RaftNodeOptions } from './options.js';
import { ReadyWriter } from './ready-writer.js';
import { WriteLatencyTracker } from './write-latency.js';

export type { BootstrapMember, MemberInfo, NodeMetrics, NodeStatus, RaftNodeOptions } from './options.js';
import type { StateMachine } from './state-machine.js';
import type { NodeStorage } from './storage.js';
import { Waiters, type ProposalResult } from './waiters.js';

export class RaftNode extends EventEmitter {
  private readonly counters: NodeMetrics = {
    readies: 0,
    syncedWrites: 0,
    syncedWriteMs: 0,
    syncedWriteHistogram: emptyHistogram(),
    entriesWritten: 0,
    messagesSent: 0,
    entriesApplied: 0,
  };
  private readonly id: RaftId;
  private readonly storage: NodeStorage;
  private readonly sm: StateMachine;
  private readonly core: RawNodeApi;
  private readonly transport: RaftTransport;
  private readonly opts: Required<
    Pick<
      RaftNodeOptions,
      | 'tickMs'
      | 'electionTicks'
      | 'snapshotEveryEntries'
      | 'snapshotKeepEntries'
      | 'requestTimeoutMs'
      | 'leaderlessFailMs'
    >
  >;
  private readonly addresses = new Map<RaftId, string>();
  private readonly waiters = new Waiters();
  private readonly ids: RequestIds;
  private readonly writer: ReadyWriter;
  private readonly maintenance: LogMaintenance;
  private readonly latency = new WriteLatencyTracker();
  private applied: number;
  private soft: SoftState = { leader: 0, role: Role.Follower };
  private ticker: NodeJS.Timeout | undefined;
  /** Runs while no leader is known and proposals are pending (see leaderlessFailMs). */
  private leaderlessTimer: NodeJS.Timeout | undefined;
  private queuedProposals: Array<{ seq: number; data: Uint8Array }> = [];
  private scheduled = false;
  private running = false;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();

  private constructor(opts: RaftNodeOptions, applied: number, snapshotIndex: number) {
    super();
    this.id = opts.id;
    this.ids = new RequestIds(opts.id);
    this.storage = opts.storage;
    this.sm = opts.stateMachine;
    this.applied = applied;
    this.opts = {
      tickMs: opts.tickMs ?? RAFT_DEFAULTS.tickMs,
      electionTicks: opts.electionTicks ?? RAFT_DEFAULTS.electionTicks,
      snapshotEveryEntries: opts.snapshotEveryEntries ?? RAFT_DEFAULTS.snapshotEveryEntries,
      snapshotKeepEntries: opts.snapshotKeepEntries ?? RAFT_DEFAULTS.snapshotKeepEntries,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      leaderlessFailMs:
        opts.leaderlessFailMs ??
        2 * (opts.electionTicks ?? RAFT_DEFAULTS.electionTicks) * (opts.tickMs ?? RAFT_DEFAULTS.tickMs),
    };
    this.core = opts.createCore({
      id: opts.id,
      electionTicks: this.opts.electionTicks,
      heartbeatTicks: opts.heartbeatTicks ?? RAFT_DEFAULTS.heartbeatTicks,
      storage: opts.storage,
      applied,
      maxSizePerMsg: opts.maxSizePerMsg ?? RAFT_DEFAULTS.maxSizePerMsg,
      maxInflightMsgs: opts.maxInflightMsgs ?? RAFT_DEFAULTS.maxInflightMsgs,
      preVote: true,
      checkQuorum: true,
      random: Math.random,
      asyncStorageWrites: true,
    });
    this.transport = new RaftTransport({ ...opts.transport, id: opts.id });
    const fail = (err: unknown): void => this.fail(err);
    this.writer = new ReadyWriter(opts.storage, this.counters, fail);
    this.maintenance = new LogMaintenance(opts.storage, snapshotIndex, this.opts.snapshotKeepEntries, fail);
  }

  /**
   * Opens a member on its storage: bootstraps an empty log if asked, restores the state machine from
   * the last snapshot (the log after it is replayed through apply), starts the transport and ticking.
   */
  static async create(opts: RaftNodeOptions): Promise<RaftNode> {
    const { storage } = opts;
    if (!Number.isSafeInteger(opts.id) || opts.id <= 0) {
      throw new RangeError(`raft id must be a positive safe integer, not ${opts.id}`);
    }
    const empty = storage.lastIndex() === 0 && storage.initialState().hardState.term === 0;
    if (empty && opts.bootstrap) {
      const members =
        opts.bootstrap === true
          ? [{ id: opts.id, addr: opts.transport.advertiseAddr ?? '' }]
          : opts.bootstrap;
      if (!members.some((m) => m.id === opts.id))
        throw new Error(`bootstrap members must include ${opts.id}`);
      await storage.save(bootstrapBatch(members, opts.stateMachine.snapshot()), true);
    }
    const snap = storage.snapshot();
    const node = new RaftNode(opts, snap.metadata.index, snap.metadata.index);
    if (snap.metadata.index > 0) node.restoreSnapshot(snap);
    await node.start();
    return node;
  }

  private async start(): Promise<void> {
    await this.transport.start({
      receive: (messages) => this.receive(messages),
      peerAddress: (id, addr) => {
        if (!this.addresses.has(id)) this.setAddress(id, addr);
      },
      unreachable: (id) => this.onCore(() => this.core.reportUnreachable(id)),
      snapshotStatus: (id, ok) => this.onCore(() => this.core.reportSnapshot(id, ok)),
    });
    this.addresses.set(this.id, this.transport.address);
    this.ticker = setInterval(() => {
      void this.writer.flushDeferredAtTick().catch(() => {});
      this.maintenance.compactStep();
      this.onCore(() => this.core.tick());
    }, this.opts.tickMs);
    this.kick();
  }

  /** The address other members dial to reach this one. */
  get address(): string {
    return this.transport.address;
  }

  get raftId(): RaftId {
    return this.id;
  }

  get isLeader(): boolean {
    return this.soft.role === Role.Leader;
  }

  get leader(): { id: RaftId; addr: string } {
    return { id: this.soft.leader, addr: this.addresses.get(this.soft.leader) ?? '' };
  }

  /**
   * Replicates `data`; resolves once it is committed and applied here, with apply's result.
   * Proposals made in the same turn of the event loop (or while a write is in flight) reach the core as
   * one multi-entry proposal: one append and one AppendEntries per follower for all of them.
   */
  propose(data: Uint8Array): Promise<ProposalResult> {
    const request = this.newRequest();
    if (!request.ok) return Promise.reject(request.error);
    const done = this.waiters.addProposal(request.id.seq, this.opts.requestTimeoutMs);
    this.latency.proposed(request.id.seq);
    done.catch(() => this.latency.dropped(request.id.seq));
    this.queuedProposals.push({ seq: request.id.seq, data: encodeProposal(request.id, data) });
    this.kick();
    return done;
  }

  /**
   * Resolves when this member has applied everything committed before the call: a read of the state
   * machine made then is linearizable. ReadIndex (Raft thesis §6.4, etcd's ReadOnlySafe): the leader
   * records its commit index and proves it still leads with a heartbeat round a majority answers; no
   * clock is trusted, so a deposed leader (partitioned, paused) confirms nothing. A follower forwards
   * the request to its leader. Rejects with NotLeaderError when the leadership the read depended on
   * is lost before confirmation, or RaftTimeoutError. Callers wanting the cheap, possibly stale read
   * (`--consistency local`) skip it and read the local state directly.
   */
  readIndex(): Promise<void> {
    if (this.stopped) return Promise.reject(new NodeStoppedError());
    if (!this.soft.leader) return Promise.reject(new NotLeaderError(0, ''));
    const seq = this.ids.nextSeq();
    const done = this.waiters.addRead(seq, this.opts.requestTimeoutMs);
    try {
      this.core.readIndex(this.ids.readContext(seq));
      this.kick();
    } catch (err) {
      this.waiters.failRead(seq, err as Error);
    }
    return done;
  }

  addVoter(id: RaftId, addr: string): Promise<ConfState> {
    return this.changeMembership(ConfChangeType.AddVoter, id, addr);
  }

  addLearner(id: RaftId, addr: string): Promise<ConfState> {
    return this.changeMembership(ConfChangeType.AddLearner, id, addr);
  }

  removeMember(id: RaftId): Promise<ConfState> {
    return this.changeMembership(ConfChangeType.RemoveMember, id, this.addresses.get(id) ?? '');
  }

  /** Hands leadership to `to`; resolves when `to` leads (as seen here). */
  async transferLeadership(to: RaftId): Promise<void> {
    if (!this.isLeader) throw new NotLeaderError(this.soft.leader, this.leader.addr);
    if (to === this.id) return;
    this.onCore(() => this.core.transferLeader(to));
    const timeoutMs = 2 * this.opts.electionTicks * this.opts.tickMs;
    await new Promise<void>((resolve, reject) => {
      const onLeader = (leader: RaftId): void => {
        if (leader !== to) return;
        clearTimeout(timer);
        this.off('leader', onLeader);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('leader', onLeader);
        reject(new RaftTimeoutError(`leadership transfer to ${to}`, timeoutMs));
      }, timeoutMs);
      this.on('leader', onLeader);
    });
  }

  status(): NodeStatus {
    const { progress, ...raft } = this.core.status();
    return {
      ...raft,
      applied: this.applied,
      leaderAddr: this.addresses.get(raft.leader) ?? '',
      members: describeMembers(raft.confState, progress, this.addresses),
      snapshotIndex: this.maintenance.snapshotIndex,
    };
  }

  metrics(): NodeMetrics {
    return {
      ...this.counters,
      syncedWriteHistogram: [...this.counters.syncedWriteHistogram],
      writeLatency: this.latency.totals(),
    };
  }

  /**
   * Dials the other members with `credentials` from now on (a renewed TLS certificate), without a
   * restart: each peer's stream moves to a new channel; queued messages are kept (see RaftTransport).
   */
  updateChannelCredentials(credentials: ChannelCredentials): void {
    if (this.stopped) return;
    this.transport.setChannelCredentials(credentials);
  }

  /** Stops ticking and networking, fails pending requests, waits for the loop, closes storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.leaderlessTimer);
    this.queuedProposals = [];
    this.waiters.failAll(new NodeStoppedError());
    await this.transport.stop();
    await this.loopDone;
    await this.maintenance.idle();
    await this.writer.flushDeferred().catch(() => {});
    await this.storage.close();
  }

  // ---- requests ----

  private newRequest(): { ok: true; id: RequestId } | { ok: false; error: Error } {
    if (this.stopped) return { ok: false, error: new NodeStoppedError() };
    if (!this.isLeader) return { ok: false, error: new NotLeaderError(this.soft.leader, this.leader.addr) };
    return { ok: true, id: this.ids.next() };
  }

  private submit(seq: number, step: () => void): void {
    try {
      step();
    } catch (err) {
      this.waiters.failProposal(seq, err as Error);
      return;
    }
    this.kick();
  }

  private async changeMembership(type: ConfChangeType, id: RaftId, addr: string): Promise<ConfState> {
    const request = this.newRequest();
    if (!request.ok) throw request.error;
    const done = this.waiters.addProposal(request.id.seq, this.opts.requestTimeoutMs);
    const context = encodeMemberContext({ addr, request: request.id });
    this.submit(request.id.seq, () => this.core.proposeConfChange({ type, id, context }));
    return (await done).result as ConfState;
  }

  // ---- events into the core ----

  private onCore(fn: () => void): void {
    if (this.stopped) return;
    fn();
    this.kick();
  }

  private receive(messages: Message[]): void {
    if (this.stopped) return;
    for (const m of messages) {
      if (m.to !== this.id) continue; // misdirected (an address reused by another member)
      try {
        this.core.step(m);
      } catch (err) {
        this.emit('warning', err);
      }
    }
    this.kick();
  }

  private setAddress(id: RaftId, addr: string): void {
    if (!addr) return;
    this.addresses.set(id, addr);
    if (id !== this.id) this.transport.setPeer(id, addr);
  }

  // ---- the Ready loop ----

  /** Schedules the loop on the next turn, so that a burst of events lands in one Ready. */
  private kick(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.loopDone = this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped) {
        this.stepQueuedProposals();
        if (!this.core.hasReady()) break;
        await this.handleReady(this.core.ready());
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.running = false;
    }
  }

  private stepQueuedProposals(): void {
    if (this.queuedProposals.length === 0) return;
    const batch = this.queuedProposals;
    this.queuedProposals = [];
    try {
      this.core.step(
        proposeMessage(
          this.id,
          batch.map((p) => p.data),
        ),
      );
    } catch (err) {
      for (const p of batch) this.waiters.failProposal(p.seq, err as Error);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    this.counters.readies++;
    this.counters.messagesSent += rd.messages.length + rd.messagesAfterWrite.length;
    this.counters.entriesApplied += rd.committedEntries.length;
    if (rd.softState) this.updateSoftState(rd.softState);
    for (const rs of rd.readStates) {
      const seq = this.ids.readSeq(rs.context);
      if (seq !== undefined) this.waiters.readConfirmed(seq, rs.index, this.applied);
    }
    const appended = this.noteAppended(rd.entries);
    this.latency.committed(this.ownSeqs(rd.committedEntries));
    // The plan (ready-plan.ts): the messages leave now, before the write lands, unless the Ready
    // commits a membership change or installs a snapshot; only then does the loop wait for it.
    const plan = this.writer.plan(rd);
    if (!plan.holdMessages) this.transport.send(rd.messages);
    const durable = this.writer.write(plan);
    const afterWrite = rd.messagesAfterWrite;
    void durable.then(
      () => {
        this.latency.durable(appended);
        if (afterWrite.length > 0) this.release(afterWrite);
      },
      () => {}, // the writer stops the member: nothing after a failed write is released
    );
    if (plan.wait) {
      await durable;
      if (this.stopped) return;
      if (rd.snapshot && rd.snapshot.metadata.index > this.applied) this.restoreSnapshot(rd.snapshot);
      this.transport.send(rd.messages);
    }
    // Committed entries may be applied before this member's own copy is durable: committed means on
    // a quorum's disks, and the state machine is rebuilt from the snapshot and log after a restart
    // (snapshots are written behind the log writes they cover).
    this.applyCommitted(rd.committedEntries);
    this.core.advance(rd);
    this.waiters.appliedUpTo(this.applied);
    this.maybeSnapshot();
  }

  /** A write landed: its acknowledgements leave, and those to ourselves are counted by the core. */
  private release(messages: Message[]): void {
    if (this.stopped) return;
    const remote: Message[] = [];
    for (const m of messages) {
      if (m.to !== this.id) {
        remote.push(m);
        continue;
      }
      try {
        this.core.step(m);
      } catch (err) {
        this.emit('warning', err);
      }
    }
    this.transport.send(remote);
    this.kick();
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    // A failed write leaves this member unable to keep its promises; stop rather than diverge.
    this.emit('fatal', err);
    void this.stop();
  }

  private updateSoftState(s: SoftState): void {
    const leaderChanged = s.leader !== this.soft.leader;
    this.soft = { ...s };
    if (leaderChanged) {
      this.waiters.failUnconfirmedReads(new NotLeaderError(s.leader, this.addresses.get(s.leader) ?? ''));
      this.emit('leader', s.leader);
      this.watchLeaderless();
    }
    this.emit('role', s.role);
  }

  /**
   * A leader cut off from its quorum steps down within an election timeout (CheckQuorum) and then
   * knows no leader; its pending proposals cannot commit until the members reconnect. If no leader
   * appears within leaderlessFailMs they fail, so a write to such a manager fails in seconds, not at
   * the request timeout. A leader appearing in time (an ordinary election) lets them wait on: the
   * new leader commits or replaces their entries.
   */
  private watchLeaderless(): void {
    if (this.soft.leader !== 0) {
      clearTimeout(this.leaderlessTimer);
      this.leaderlessTimer = undefined;
      return;
    }
    if (this.leaderlessTimer || this.waiters.pendingProposals === 0) return;
    const ms = this.opts.leaderlessFailMs;
    this.leaderlessTimer = setTimeout(() => {
      this.leaderlessTimer = undefined;
      if (this.soft.leader === 0 && !this.stopped) this.waiters.failProposals(new LeaderlessError(ms));
    }, ms);
    this.leaderlessTimer.unref();
  }

  /**
   * Remembers where our own proposals landed, so an overwritten one fails instead of timing out;
   * returns their request numbers.
   */
  private noteAppended(entries: Entry[]): number[] {
    if (this.waiters.pendingProposals === 0) return [];
    const seqs: number[] = [];
    for (const e of entries) {
      const seq = this.ids.ownSeq(e);
      if (seq === undefined) continue;
      this.waiters.proposalAppended(seq, e.index);
      seqs.push(seq);
    }
    this.latency.appended(seqs);
    return seqs;
  }

  private ownSeqs(entries: Entry[]): number[] {
    if (this.waiters.pendingProposals === 0) return [];
    const seqs: number[] = [];
    for (const e of entries) {
      const seq = this.ids.ownSeq(e);
      if (seq !== undefined) seqs.push(seq);
    }
    return seqs;
  }

  private applyCommitted(entries: Entry[]): void {
    for (const e of entries) {
      if (e.index <= this.applied) continue; // already covered by a restored snapshot
      if (e.type === EntryType.ConfChange) {
        this.applyConfChange(e);
      } else {
        const { id, payload } = decodeProposal(e.data);
        // Entries without our header and without data are new leaders' no-ops: nothing to apply.
        const result = id || payload.length > 0 ? this.sm.apply({ ...e, data: payload }) : undefined;
        const mine = this.ids.isMine(id) ? id.seq : undefined;
        if (mine !== undefined) this.latency.applied(mine);
        this.waiters.applied(e.index, mine, result);
      }
      this.applied = e.index;
    }
  }

  private applyConfChange(e: Entry): void {
    const cc = decodeConfChange(e.data);
    const ctx = decodeMemberContext(cc.context);
    const confState = this.core.applyConfChange(cc);
    if (cc.type === ConfChangeType.RemoveMember) {
      this.addresses.delete(cc.id);
      this.transport.removePeer(cc.id);
      if (cc.id === this.id) this.emit('removed');
    } else if (ctx.addr) {
      this.setAddress(cc.id, ctx.addr);
    }
    this.waiters.applied(e.index, this.ids.isMine(ctx.request) ? ctx.request.seq : undefined, confState);
    this.emit('membership', confState);
  }

  private restoreSnapshot(snap: Snapshot): void {
    const { members, app } = decodeSnapshotData(snap.data);
    for (const [id, addr] of members) this.setAddress(id, addr);
    this.sm.restore(app);
    this.applied = snap.metadata.index;
    this.maintenance.snapshotIndex = Math.max(this.maintenance.snapshotIndex, snap.metadata.index);
  }

  /**
   * Snapshots the state machine every `snapshotEveryEntries` applied entries (see LogMaintenance), at
   * the indices where this member's own phase (snapshotPhase) crosses a multiple of it. Serializing
   * the state stalls the loop (tens of ms for 10,000 keys on the test machine); at one index for all
   * members, every member stalled at once and so did commitment. Staggered, a follower's stall is
   * covered by the other follower (only the leader's own still holds the cluster up).
   */
  private maybeSnapshot(): void {
    const every = this.opts.snapshotEveryEntries;
    const phase = snapshotPhase(this.id, every);
    const due =
      Math.floor((this.applied + phase) / every) >
      Math.floor((this.maintenance.snapshotIndex + phase) / every);
    if (!due || this.maintenance.busy) return;
    const members: Record<string, string> = {};
    for (const [id, addr] of this.addresses) members[id] = addr;
    const data = encodeSnapshotData(members, this.sm.snapshot());
    // Storage refuses a snapshot past its commit index: write a deferred one first.
    void this.writer.flushDeferred().catch(() => {});
    this.maintenance.snapshot(this.applied, this.core.status().confState, data);
  }
}
