// Deterministic simulation of a Raft cluster: RawNodes (the real core, with asynchronous storage
// writes) wrapped in a model of RaftNode's shell (node.ts: the node's own ReadyPlanner, so messages
// leave ahead of the writes, acknowledgements only after them, and commit-only hard states are
// deferred; a group-committing writer whose fsyncs may outlast network hops; a storage view ahead of a
// disk whose unfinished writes a crash loses), one to five voters (one and two: the join path), a lossy, reordering,
// duplicating, partitionable network (network.ts), crashes, stalled processes, members whose clocks
// run at different rates, newly elected leaders struck down at once, membership changes, leadership
// transfers, log compaction and snapshot installs (faults.ts), and a client workload (workload.ts) —
// all driven by one seeded PRNG on a virtual clock, so a seed replays exactly. Safety is asserted after
// every event (invariants.ts, and checkDurableCommit: every commit rests on a majority of voters'
// disks); at the end the cluster is healed, must converge (liveness), and the client history must be
// linearizable.

import { decodeConfChange } from '../core/confchange.js';
import { bootstrapStorage } from '../core/bootstrap.js';
import { RawNode } from '../core/rawnode.js';
import { contextKey } from '../core/util.js';
import { describeMessage } from '../core/describe.js';
import {
  ConfChangeType,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  ProposalDroppedError,
  type RaftId,
  type Ready,
  Role,
} from '../types.js';
import { EventQueue } from './events.js';
import { SafetyChecker, SafetyViolation } from './invariants.js';
import { decodeCommand, encodeCommand, type KvOutput } from './kv.js';
import { checkLinearizable } from '../../../lib/linearizability.js';
import { Network } from './network.js';
import { SimNode } from './node.js';
import { Prng } from '../../../lib/prng.js';
import { type ClientRequest, Workload } from './workload.js';
import type { PersistBatch } from '../node/storage.js';
import { injectFault } from './faults.js';

export interface SimOptions {
  seed: number;
  /** Virtual milliseconds of faults and traffic, then of healed quiet time. */
  durationMs?: number;
  quiesceMs?: number;
  /** Receives a line per notable event (for debugging a seed). */
  trace?: (line: string) => void;
}

export interface SimResult {
  seed: number;
  voters: number;
  preVote: boolean;
  checkQuorum: boolean;
  events: number;
  leadersElected: number;
  committed: number;
  opsCompleted: number;
  opsPending: number;
  crashes: number;
  snapshotsInstalled: number;
  confChangesApplied: number;
  /** Entries a leader committed while its own copy was not on its disk yet (followers were faster). */
  commitsAheadOfLeaderDisk: number;
  /** Votes granted by members that had applied their own removal (a survivor needed them). */
  votesFromRemovedMembers: number;
}

const TICK_MS = 10;
const CLIENT_TIMEOUT_MS = 400;

export class Simulation {
  readonly rng: Prng;
  readonly clock = new EventQueue();
  readonly net: Network;
  readonly nodes = new Map<RaftId, SimNode>();
  private readonly safety = new SafetyChecker();
  private readonly workload: Workload;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly voters: number;
  private readonly fsyncMax: number;
  private readonly snapEvery: number;
  private readonly faultEvery: number;
  /** Timing of this run's members, in ticks: ratios vary so timeouts race in different ways. */
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  /** How often a freshly elected leader is struck down right away. */
  private readonly newLeaderFaultRate: number;
  readonly trace: (line: string) => void;
  private faultsOn = true;
  private clientsOn = true;
  nextId = 1;
  readonly everMember = new Set<RaftId>();
  /** Members whose removal some member applied (so it is committed), and the removal's index. */
  private readonly removedAt = new Map<RaftId, number>();
  private stats = {
    events: 0,
    crashes: 0,
    snapshotsInstalled: 0,
    confChangesApplied: 0,
    commitsAheadOfLeaderDisk: 0,
    votesFromRemovedMembers: 0,
  };

  constructor(private readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed);
    this.trace = opts.trace ?? (() => {});
    const r = this.rng;
    // One and two voters are the join path (bootstrap one member, add a learner, promote it).
    this.voters = r.pick([1, 2, 3, 3, 5]);
    this.preVote = r.chance(0.8);
    this.checkQuorum = r.chance(0.8);
    // Up to 30 ms: messages sent before a write often arrive, and are answered, before it lands.
    this.fsyncMax = r.pick([0, 2, 8, 30]);
    this.snapEvery = r.pick([4, 15, 60]);
    this.faultEvery = r.pick([15, 40, 100, 250]);
    this.electionTicks = r.pick([5, 10, 10, 20]);
    this.heartbeatTicks = r.pick([1, 1, 2, 3]);
    this.newLeaderFaultRate = r.pick([0, 0.2, 0.5]);
    this.net = new Network(
      this.clock,
      r.fork(),
      {
        dropRate: r.pick([0, 0.02, 0.1, 0.25]),
        duplicateRate: r.pick([0, 0.03, 0.15]),
        minDelay: 1,
        maxDelay: r.pick([3, 12, 35]),
      },
      (m) => this.deliver(m),
      (m, ok) => this.snapshotOutcome(m, ok),
    );
    this.workload = new Workload(r.fork());
  }

  run(): SimResult {
    const duration = this.opts.durationMs ?? this.rng.pick([1000, 2000, 5000]);
    const quiesce = this.opts.quiesceMs ?? 5000;
    const initial: RaftId[] = [];
    for (let i = 0; i < this.voters; i++) initial.push(this.nextId++);
    for (const id of initial) {
      const n = this.addNode(id);
      bootstrapStorage(n.disk, initial);
      this.everMember.add(id);
      this.start(n);
    }
    // A spare member, not yet in the cluster, to be added by a conf change.
    this.start(this.addNode(this.nextId++));
    for (let c = 0; c < 3; c++)
      this.clock.schedule(this.rng.int(0, 50), () => this.clientLoop(this.workload.newClientId()));
    this.scheduleFault();

    const check = () => {
      this.stats.events++;
      this.checkSafety();
      this.retireRemovedMembers();
    };
    this.clock.runUntil(duration, check);
    // Heal everything and let the cluster settle.
    this.faultsOn = false;
    this.clientsOn = false;
    this.net.heal();
    this.net.profile = { ...this.net.profile, dropRate: 0, duplicateRate: 0 };
    this.retireRemovedMembers();
    for (const n of this.nodes.values()) if (!n.alive && !n.retired) this.restart(n);
    // Liveness: once healed, a leader must emerge and every member catch up. Elections are random, so
    // allow several election rounds; stop as soon as the cluster has converged.
    let converged: string | undefined = 'not checked';
    for (let t = duration; t < duration + quiesce && converged !== undefined; t += 100) {
      this.clock.runUntil(t + 100, check);
      this.retireRemovedMembers();
      converged = this.convergenceProblem();
    }
    if (converged !== undefined) throw new Error(`liveness: ${converged}\n${this.describeNodes()}`);
    const lin = checkLinearizable(this.workload.history);
    if (!lin.ok) throw new SafetyViolation(`linearizability: ${lin.reason}`);

    const history = this.workload.history;
    return {
      seed: this.opts.seed,
      voters: this.voters,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      events: this.stats.events,
      leadersElected: this.safety.leadersElected,
      committed: Math.max(...[...this.nodes.values()].map((n) => n.kv.applied)),
      opsCompleted: history.filter((o) => o.ret !== Infinity).length,
      opsPending: history.filter((o) => o.ret === Infinity).length,
      crashes: this.stats.crashes,
      snapshotsInstalled: this.stats.snapshotsInstalled,
      confChangesApplied: this.stats.confChangesApplied,
      commitsAheadOfLeaderDisk: this.stats.commitsAheadOfLeaderDisk,
      votesFromRemovedMembers: this.stats.votesFromRemovedMembers,
    };
  }

  // ---- members ----

  addNode(id: RaftId): SimNode {
    const n = new SimNode(id);
    this.nodes.set(id, n);
    const phase = this.rng.int(0, TICK_MS - 1);
    // Each member's clock runs at its own rate (±20%): timeouts race differently on every member.
    const period = TICK_MS + this.rng.int(-2, 2);
    const tick = () => {
      if (n.retired) return;
      if (n.raw && !this.paused(n)) {
        // RaftNode's ticker: write a deferred commit index (unsynced), then tick the core.
        const deferred = n.planner.takeDeferred();
        if (deferred) this.write(n, { hardState: deferred, entries: [] });
        n.raw.tick();
        this.pump(n);
      }
      this.clock.schedule(period, tick);
    };
    this.clock.schedule(phase, tick);
    return n;
  }

  start(n: SimNode): void {
    const applied = n.recover();
    const random = this.rng.fork();
    n.raw = new RawNode({
      id: n.id,
      electionTicks: this.electionTicks,
      heartbeatTicks: this.heartbeatTicks,
      storage: n.view,
      applied,
      maxSizePerMsg: this.rng.pick([64, 1024, 1024 * 1024]),
      maxInflightMsgs: this.rng.pick([1, 4, 256]),
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      random: () => random.next(),
      asyncStorageWrites: true,
    });
  }

  crash(n: SimNode): void {
    const landed = this.rng.int(0, n.writesInFlight);
    this.trace(`${this.clock.now} crash ${n.id} (${landed} of ${n.writesInFlight} writes in flight kept)`);
    n.crash(landed);
    this.stats.crashes++;
    this.clock.schedule(this.rng.int(20, 400), () => {
      if (this.faultsOn && !n.alive && !n.retired) this.restart(n);
    });
  }

  private restart(n: SimNode): void {
    this.trace(`${this.clock.now} restart ${n.id}`);
    this.start(n);
    this.pump(n);
  }

  /** A removed member shuts down for good (its id is never reused). */
  private retire(n: SimNode, by: SimNode): void {
    this.trace(`${this.clock.now} retire ${n.id} (leader ${by.id} applied its removal)`);
    n.crash(0);
    n.retired = true;
  }

  /**
   * A removed member shuts down once a leader of the configuration without it has applied its
   * removal, as the daemon does: that leader's role reconciler demotes the node in the store, and the
   * node's manager stops when its session reports the demotion (daemon/role-supervisor.ts). Until
   * then it keeps running, answering votes and appends (and campaigning only to hand leadership over,
   * see Raft.removedWithTail): with two voters, a leader that commits its own removal (proposed by
   * itself, or inherited from an earlier leader) may be the only member that knows the commit, and the
   * survivor, still in the old configuration, needs its vote to elect itself and commit the removal.
   * That leader's commit index is on its disk before it is applied (ReadyPlanner), so it holds the
   * removal from then on. A removed member that never learned of its removal would otherwise
   * campaign forever; without PreVote and CheckQuorum that disrupts the cluster (Raft's known
   * limitation, not a bug).
   */
  private retireRemovedMembers(): void {
    for (const [id, index] of this.removedAt) {
      const n = this.nodes.get(id);
      if (!n || n.retired) continue;
      for (const l of this.nodes.values()) {
        if (l.id !== id && l.raw?.raft.role === Role.Leader && l.kv.applied >= index) {
          this.retire(n, l);
          break;
        }
      }
    }
  }

  /** A stalled process (GC pause, VM freeze): it neither ticks nor reads nor writes until it resumes. */
  pause(n: SimNode, ms: number): void {
    this.trace(`${this.clock.now} pause ${n.id} for ${ms} ms`);
    n.pausedUntil = this.clock.now + ms;
  }

  private paused(n: SimNode): boolean {
    return this.clock.now < n.pausedUntil;
  }

  // ---- the shell loop (RaftNode.handleReady, with its ReadyPlanner) ----

  /**
   * Takes the member's Ready, unless it waits for a write, and handles it as RaftNode does: messages
   * out at once (unless held), the write queued, then apply and advance without waiting (unless the
   * plan waits); the acknowledgements leave once the write and all before it are on disk.
   */
  pump(n: SimNode): void {
    const raw = n.raw;
    if (!raw || n.inflightReady || !raw.hasReady()) return;
    const rd = raw.ready();
    if (rd.entries.length > 0) {
      this.safety.recordWrite(n.id, rd.entries, raw.raft.log.termOrZero(rd.entries[0].index - 1));
    }
    const plan = n.planner.plan(rd);
    if (!plan.holdMessages) for (const m of rd.messages) this.net.send(m);
    const inc = n.incarnation;
    const landed = (): void => {
      if (n.incarnation !== inc) return; // crashed before it landed: nothing is released
      if (plan.wait) {
        n.inflightReady = undefined;
        for (const m of rd.messages) this.net.send(m);
        this.releaseAcks(n, rd);
        this.finishReady(n, rd);
      } else {
        this.releaseAcks(n, rd);
        this.pump(n);
      }
    };
    if (plan.batch) this.write(n, plan.batch, landed);
    else n.afterWrites(landed, (fn) => this.clock.schedule(0, fn));
    if (plan.wait) {
      n.inflightReady = rd;
      return;
    }
    this.finishReady(n, rd);
  }

  /** A write landed: its acknowledgements leave; those to itself are stepped into the core. */
  private releaseAcks(n: SimNode, rd: Ready): void {
    for (const m of rd.messagesAfterWrite) {
      if (m.type === MessageType.VoteResp && !m.reject && m.to !== n.id && this.removedItself(n)) {
        this.stats.votesFromRemovedMembers++;
        this.trace(`${this.clock.now} removed member ${n.id} votes for ${m.to}`);
      }
      if (m.to !== n.id) this.net.send(m);
      else n.raw?.step(m);
    }
  }

  /** Whether the member has applied its own removal (it is in no configuration it knows of now). */
  private removedItself(n: SimNode): boolean {
    const cs = n.kv.confState;
    return this.removedAt.has(n.id) && !cs.voters.includes(n.id) && !cs.learners.includes(n.id);
  }

  /** Hands a write to the member's storage; its group commit lands after a simulated fsync. */
  private write(n: SimNode, batch: PersistBatch, done?: () => void): void {
    n.write(batch, done);
    this.startGroupCommit(n);
  }

  private startGroupCommit(n: SimNode): void {
    if (n.startGroup() === 0) return;
    const inc = n.incarnation;
    const land = (): void => {
      if (n.incarnation !== inc) return; // crashed meanwhile: crash() decided what landed
      if (this.paused(n)) {
        this.clock.schedule(n.pausedUntil - this.clock.now, land);
        return;
      }
      n.landGroup();
      this.startGroupCommit(n);
    };
    this.clock.schedule(this.rng.int(0, this.fsyncMax), land);
  }

  /** Once the write is handed to storage (or has landed, when the plan waits): apply, advance. */
  private finishReady(n: SimNode, rd: Ready): void {
    if (rd.snapshot) {
      n.restoreFromSnapshot();
      this.stats.snapshotsInstalled++;
      this.safety.recordState(n.id, n.kv.applied, n.kv.hash);
    }
    for (const e of rd.committedEntries) this.apply(n, e);
    for (const rs of rd.readStates) {
      const pending = n.waitingReads.get(contextKey(rs.context));
      if (pending) pending.index = rs.index;
    }
    n.raw!.advance(rd);
    this.serveReads(n);
    this.maybeCompact(n);
    this.pump(n);
  }

  private apply(n: SimNode, e: Entry): void {
    n.kv.advance(e.index, e.data);
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      n.kv.confState = n.raw!.applyConfChange(cc);
      this.stats.confChangesApplied++;
      this.safety.recordApply(n.id, e, n.kv.hash);
      if (cc.type === ConfChangeType.RemoveMember) this.removedAt.set(cc.id, e.index);
      return;
    }
    this.safety.recordApply(n.id, e, n.kv.hash);
    if (e.data.byteLength === 0) return; // a leader's no-op
    const cmd = decodeCommand(e.data);
    const out = n.kv.execute(cmd);
    const waiting = n.waitingProposals.get(cmd.req);
    if (waiting) {
      n.waitingProposals.delete(cmd.req);
      this.answer(waiting, out);
    }
  }

  private serveReads(n: SimNode): void {
    for (const [key, pending] of n.waitingReads) {
      if (pending.index === undefined || n.kv.applied < pending.index) continue;
      n.waitingReads.delete(key);
      this.answer(pending.request, n.kv.get(pending.request.op.key));
    }
  }

  private maybeCompact(n: SimNode): void {
    const snapIndex = n.view.snapshot().metadata.index;
    if (n.kv.applied - snapIndex < this.snapEvery) return;
    // As RaftNode.maybeSnapshot: the deferred commit index is written first (storage refuses a
    // snapshot past its commit index), then the snapshot and the compaction, in order behind it.
    const deferred = n.planner.takeDeferred();
    if (deferred) n.write({ hardState: deferred, entries: [] });
    const keep = this.rng.int(0, 5);
    n.snapshot({
      index: n.kv.applied,
      confState: n.kv.confState,
      data: n.kv.serialize(),
      compactTo: n.kv.applied - keep,
    });
    this.startGroupCommit(n);
  }

  private deliver(m: Message): boolean {
    const n = this.nodes.get(m.to);
    if (!n || !n.raw) return false;
    if (this.paused(n)) {
      // A stalled process reads its socket later; the message waits in the kernel's buffer.
      const inc = n.incarnation;
      this.clock.schedule(n.pausedUntil - this.clock.now, () => {
        if (n.incarnation === inc) this.deliver(m);
      });
      return true;
    }
    if (m.type !== MessageType.Heartbeat && m.type !== MessageType.HeartbeatResp) {
      this.trace(`${this.clock.now} deliver ${describeMessage(m)}`);
    }
    n.raw.step(m);
    this.pump(n);
    return true;
  }

  private snapshotOutcome(m: Message, ok: boolean): void {
    const sender = this.nodes.get(m.from);
    if (!sender?.raw) return;
    sender.raw.reportSnapshot(m.to, ok);
    if (!ok && this.rng.chance(0.5)) sender.raw.reportUnreachable(m.to);
    this.pump(sender);
  }

  // ---- clients ----

  private clientLoop(clientId: number): void {
    if (!this.clientsOn) return;
    const { req, op } = this.workload.nextOp(clientId, this.clock.now);
    const candidates = [...this.nodes.values()].filter((n) => !n.retired);
    // Mostly ask the member that believes it leads, as real clients converge on the leader.
    const leader = candidates.find((n) => n.raw?.raft.role === Role.Leader);
    const target = leader && this.rng.chance(0.7) ? leader : this.rng.pick(candidates);
    let nextClient = clientId;
    const request: ClientRequest = {
      req,
      op,
      finished: false,
      onDone: () => this.clock.schedule(this.rng.int(0, 20), () => this.clientLoop(nextClient)),
    };
    const raw = target.raw;
    if (!raw) {
      // Connection refused: the operation never started.
      this.clock.schedule(this.rng.int(5, 20), () => this.clientLoop(clientId));
      return;
    }
    this.workload.record(op);
    try {
      this.trace(
        `${this.clock.now} client ${clientId} req ${req} ${op.kind} ${op.key} ${op.value ?? ''} via ${target.id}`,
      );
      if (op.kind === 'get' && this.rng.chance(0.7)) {
        const ctx = new TextEncoder().encode(`read-${req}`);
        target.waitingReads.set(contextKey(ctx), { request });
        raw.readIndex(ctx);
      } else {
        target.waitingProposals.set(req, request);
        raw.propose(
          encodeCommand({ req, kind: op.kind, key: op.key, value: op.value, expected: op.expected }),
        );
      }
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      // Refused before reaching any log: it certainly did not happen.
      target.waitingProposals.delete(req);
      this.workload.forget(op);
      this.clock.schedule(this.rng.int(5, 20), () => this.clientLoop(clientId));
      return;
    }
    this.pump(target);
    this.clock.schedule(CLIENT_TIMEOUT_MS, () => {
      if (request.finished) return;
      request.finished = true; // gave up: the op stays pending forever; a new client carries on
      nextClient = this.workload.newClientId();
      this.clientLoop(nextClient);
    });
  }

  private answer(request: ClientRequest, out: KvOutput): void {
    if (request.finished) return;
    request.finished = true;
    request.op.ret = this.clock.now;
    this.trace(`${this.clock.now} answer req ${request.req} -> ${String(out)}`);
    if (request.op.kind !== 'put') request.op.output = out;
    request.onDone();
  }

  // ---- faults ----

  private scheduleFault(): void {
    this.clock.schedule(this.rng.int(1, 2 * this.faultEvery), () => {
      if (!this.faultsOn) return;
      injectFault(this);
      this.scheduleFault();
    });
  }

  // ---- checks ----

  private checkSafety(): void {
    for (const n of this.nodes.values()) {
      if (!n.raw) continue;
      const r = n.raw.raft;
      this.safety.observe(n.id, r.role === Role.Leader, r.term, r.log);
      if (r.role === Role.Leader) this.checkDurableCommit(n);
      if (r.role === Role.Leader && n.ledTerm !== r.term) {
        n.ledTerm = r.term;
        if (this.faultsOn && this.rng.chance(this.newLeaderFaultRate)) this.strikeNewLeader(n);
      }
    }
  }

  /**
   * Judged on disks, not memory: whenever a leader's commit index moves, every newly committed entry
   * is on the disk of a majority of the voters it counts. A commit resting on an unwritten copy (the
   * leader's own, sent ahead of its write) is what lets a member apply an entry a crash then erases.
   */
  private checkDurableCommit(n: SimNode): void {
    const r = n.raw!.raft;
    const voters = [...r.tracker.voters];
    const checked = n.durableCommitChecked;
    n.durableCommitChecked = { term: r.term, index: r.log.committed, voters };
    if (checked.term !== r.term) return; // what it inherited was judged when its leader committed it
    // An event may apply a conf change and move the commit index, in either order: the commit counted
    // the configuration before the event or the one after it.
    const configs = [checked.voters, voters];
    const quorumHolds = (i: number, term: number): boolean =>
      configs.some((c) => c.filter((id) => this.nodes.get(id)?.holdsDurably(i, term)).length > c.length / 2);
    for (let i = Math.max(checked.index, r.log.firstIndex() - 1) + 1; i <= r.log.committed; i++) {
      const term = r.log.termOrZero(i);
      if (!n.holdsDurably(i, term)) this.stats.commitsAheadOfLeaderDisk++;
      if (!quorumHolds(i, term)) {
        const holders = voters.filter((id) => this.nodes.get(id)?.holdsDurably(i, term));
        throw new SafetyViolation(
          `durable commit: leader ${n.id} of term ${r.term} committed ${i}/${term}, on the disks of only [${holders}] of voters [${voters}] (before: [${checked.voters}])`,
        );
      }
    }
  }

  /**
   * Fails a leader moments after its election, while its no-op and whatever it inherited are only
   * partly replicated: the window in which commitment rules matter most (Figure 8 of the paper).
   */
  private strikeNewLeader(n: SimNode): void {
    const inc = n.incarnation;
    this.clock.schedule(this.rng.int(0, 15), () => {
      if (!this.faultsOn || n.incarnation !== inc || !n.alive) return;
      if (this.rng.chance(0.5)) this.crash(n);
      else {
        const others = [...this.nodes.keys()].filter((id) => id !== n.id);
        this.net.heal();
        this.net.partition([n.id], others);
        this.trace(`${this.clock.now} isolate new leader ${n.id}`);
        this.clock.schedule(this.rng.int(30, 300), () => this.net.heal());
      }
    });
  }

  /** Why the healed cluster has not converged yet, or undefined once it has. */
  private convergenceProblem(): string | undefined {
    const leaders = [...this.nodes.values()].filter((n) => n.raw?.raft.role === Role.Leader);
    if (leaders.length === 0) return 'no leader after the cluster healed';
    const leader = leaders.reduce((a, b) => (b.raw!.raft.term > a.raw!.raft.term ? b : a));
    const r = leader.raw!.raft;
    if (!r.committedEntryInCurrentTerm()) return `leader ${leader.id} has not committed in its term`;
    const cs = r.tracker.confState();
    for (const id of [...cs.voters, ...cs.learners]) {
      const n = this.nodes.get(id)!;
      if (!n.raw) return `member ${id} is down after the cluster healed`;
      if (n.kv.applied !== r.log.committed) {
        return `member ${id} applied ${n.kv.applied}, leader ${leader.id} committed ${r.log.committed}`;
      }
    }
    return undefined;
  }

  private describeNodes(): string {
    return [...this.nodes.values()]
      .map((n) => {
        if (!n.raw) return `  ${n.id}: ${n.retired ? 'retired' : 'down'}`;
        const st = n.raw.status();
        const log = n.raw.raft.log;
        return `  ${n.id}: ${st.role} term ${st.term} vote ${st.vote} lead ${st.leader} commit ${st.commit} applied ${st.applied} last ${log.lastIndex()}/${log.lastTerm()} first ${log.firstIndex()} voters ${st.confState.voters} learners ${st.confState.learners} elapsed ${n.raw.raft.electionElapsed}/${n.raw.raft.randomizedElectionTimeout}`;
      })
      .join('\n');
  }
}

export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}
