// The Raft state machine: terms, roles, elections, and the dispatch of every message. Role-specific
// handling lives in leader.ts and follower.ts; replication in replication.ts. Everything is synchronous
// and deterministic: outputs accumulate in `msgs` and `readStates` and leave through the RawNode's Ready.

import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type RaftConfig,
  type RaftId,
  type ReadState,
  Role,
  type SoftState,
} from '../types.js';
import { applyConfChange, checkProposal, handOverLeadership } from './membership.js';
import { stepCandidate, stepFollower } from './follower.js';
import { stepLeader } from './leader.js';
import { RaftLog } from './log.js';
import { VoteResult } from './quorum.js';
import { ReadOnly } from './readonly.js';
import { bcastAppend } from './replication.js';
import { ProgressTracker } from './tracker.js';
import { CAMPAIGN_TRANSFER, isTransferCampaign, newMessage, voteResponseType } from './util.js';

/** Responses that promise durable state, held until the write before them lands (async writes). */
const DURABLE_ACKS = [MessageType.AppResp, MessageType.VoteResp, MessageType.PreVoteResp];

enum CampaignKind {
  PreElection,
  Election,
  Transfer,
}

export class Raft {
  readonly id: RaftId;
  term = 0;
  vote: RaftId = NONE;
  lead: RaftId = NONE;
  role: Role = Role.Follower;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  readOnly = new ReadOnly();
  /** Outgoing messages and answered reads, drained by RawNode.ready(). */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  /**
   * Acknowledgements to ourselves: a leader's of its own appends (AppResp), a candidate's own vote
   * (VoteResp/PreVoteResp). RawNode hands them back to step() only in advance(), once the Ready holding
   * those entries (or that vote) is durable: a copy still being written must not count toward a
   * quorum, because the same Ready's messages may already be on the wire carrying the commit index
   * that copy would make (etcd-io/raft's msgsAfterAppend).
   */
  msgsAfterAppend: Message[] = [];
  /** Reads received before this leader committed an entry of its term; answered once it has. */
  pendingReadIndexMessages: Message[] = [];
  /** Index of the last conf change proposed (leader); another may be proposed once it is applied. */
  pendingConfIndex = 0;
  leadTransferee: RaftId = NONE;

  readonly maxMsgSize: number;
  readonly maxInflight: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  /** RaftConfig.asyncStorageWrites: durability-dependent responses wait in msgsAfterAppend. */
  readonly asyncStorageWrites: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  private readonly random: () => number;
  /** Ticks since the last election timeout reset (follower: since it heard from the leader). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  /** Drawn from [electionTimeout, 2 * electionTimeout) at every reset, so split votes resolve. */
  randomizedElectionTimeout = 0;

  constructor(c: RaftConfig) {
    if (c.id === NONE) throw new Error('raft: id must not be 0');
    if (c.heartbeatTicks <= 0 || c.electionTicks <= c.heartbeatTicks) {
      throw new Error('raft: electionTicks must be greater than heartbeatTicks > 0');
    }
    this.id = c.id;
    this.log = new RaftLog(c.storage);
    this.maxMsgSize = c.maxSizePerMsg;
    this.maxInflight = c.maxInflightMsgs;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.asyncStorageWrites = c.asyncStorageWrites ?? false;
    this.heartbeatTimeout = c.heartbeatTicks;
    this.electionTimeout = c.electionTicks;
    this.random = c.random;
    this.tracker = new ProgressTracker(c.maxInflightMsgs);

    const { hardState, confState } = c.storage.initialState();
    this.tracker.reset(confState, this.log.lastIndex() + 1);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied > 0) this.log.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.log.committed || hs.commit > this.log.lastIndex()) {
      throw new Error(
        `raft: hard state commit ${hs.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`,
      );
    }
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  /**
   * A voter in its own configuration that has no pending snapshot may campaign; so may a member
   * stranded by its own removal (removedWithTail).
   */
  promotable(): boolean {
    return (
      (this.tracker.isVoter(this.id) || this.removedWithTail()) && this.log.unstable.snapshot === undefined
    );
  }

  /**
   * Whether this member applied its own removal from a pair of voters and holds entries beyond its
   * commit index: a leader that applied its removal and restarted before handing over (membership.ts).
   * The other voter may not have learnt the removal's commit; still in the old configuration, it needs
   * our vote, which our longer log refuses. So we campaign, counting votes in our configuration (the
   * other alone), and if elected hand leadership over at once. Safe as any election: a quorum of our
   * configuration overlaps every quorum of the old one in a member other than us, so at most one
   * leader per term, and it holds every committed entry. With three voters or more the others can
   * elect one of themselves without us; learners and members never added do not campaign.
   */
  removedWithTail(): boolean {
    return (
      !this.tracker.progress.has(this.id) &&
      this.tracker.voters.size === 1 &&
      this.log.lastIndex() > this.log.committed
    );
  }

  send(m: Message): void {
    // A forwarded TransferLeader keeps its `from`: it names the transferee, not the sender.
    if (m.from === NONE) m.from = this.id;
    const isVote = [MessageType.Vote, MessageType.PreVote, MessageType.VoteResp, MessageType.PreVoteResp];
    if (isVote.includes(m.type)) {
      // Vote traffic carries an explicit term: a PreVote names the term the candidate would use.
      if (m.term === 0) throw new Error(`raft: ${MessageType[m.type]} must carry a term`);
    } else if (m.type !== MessageType.Propose && m.type !== MessageType.ReadIndex) {
      // Forwarded proposals and reads keep term 0: the receiver treats them as local requests.
      m.term = this.term;
    }
    if (this.asyncStorageWrites && DURABLE_ACKS.includes(m.type)) {
      // These promise that our log or vote is on disk (the leader counts the append, the candidate the
      // vote): with writes in the background they leave only once the write they follow is durable.
      this.msgsAfterAppend.push(m);
      return;
    }
    this.msgs.push(m);
  }

  // ---- role transitions ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    // Every follower starts over in probe state at our last index + 1; we match ourselves.
    const last = this.log.lastIndex();
    for (const [id, pr] of this.tracker.progress) {
      pr.match = id === this.id ? last : 0;
      pr.becomeProbe();
      pr.next = last + 1;
      pr.recentActive = false;
      // Not heard from as leader yet: unknown, so not reachable until the first reply.
      pr.silentTicks = id === this.id ? 0 : this.electionTimeout;
    }
    this.pendingConfIndex = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
  }

  becomeFollower(term: number, lead: RaftId): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  private becomePreCandidate(): void {
    if (this.role === Role.Leader) throw new Error('raft: invalid transition leader -> pre-candidate');
    // A pre-candidate keeps its term and vote: the pre-vote round changes nothing durable.
    this.tracker.resetVotes();
    this.lead = NONE;
    this.role = Role.PreCandidate;
  }

  private becomeCandidate(): void {
    if (this.role === Role.Leader) throw new Error('raft: invalid transition leader -> candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    if (this.role === Role.Follower) throw new Error('raft: invalid transition follower -> leader');
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    const self = this.tracker.progress.get(this.id);
    if (self) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // Conf changes in the uncommitted tail may be pending; do not allow another until they apply.
    this.pendingConfIndex = this.log.lastIndex();
    // The no-op entry of the new term: committing it commits everything before it (§5.4.2, §8).
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
    // Elected while removed (removedWithTail): only to hand leadership over.
    if (!this.tracker.isVoter(this.id)) handOverLeadership(this);
  }

  // ---- ticks ----

  /** On the leader: heard from within the last election timeout (itself always). */
  reachable(id: RaftId): boolean {
    const pr = this.tracker.progress.get(id);
    return id === this.id || (pr !== undefined && pr.silentTicks < this.electionTimeout);
  }

  tick(): void {
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(newMessage(MessageType.Hup, { from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.silentTicks++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(newMessage(MessageType.CheckQuorum, { from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned; a removed leader's
      // hand-over starts over instead (membership.ts).
      if (this.role === Role.Leader && this.leadTransferee !== NONE) this.leadTransferee = NONE;
      if (this.role === Role.Leader && !this.tracker.isVoter(this.id)) handOverLeadership(this);
    }
    if (this.role !== Role.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage(MessageType.Beat, { from: this.id }));
    }
  }

  // ---- elections ----

  /** Committed conf changes not yet applied: the configuration we would campaign in is stale. */
  private hasUnappliedConfChanges(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    return this.log.nextCommittedEntries().some((e) => e.type === EntryType.ConfChange);
  }

  private hup(kind: CampaignKind): void {
    if (this.role === Role.Leader) return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(kind);
  }

  private campaign(kind: CampaignKind): void {
    let term: number;
    let voteType: MessageType;
    if (kind === CampaignKind.PreElection) {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1; // the term we would use; not adopted until pre-vote succeeds
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    // Our own vote counts once the Ready recording it is durable (advance()), as every other
    // acknowledgement does; a single voter wins then. A pre-vote changes nothing durable but takes the
    // same path, so both rounds follow one rule.
    this.msgsAfterAppend.push(newMessage(voteResponseType(voteType), { from: this.id, to: this.id, term }));
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of [...this.tracker.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send(
        newMessage(voteType, {
          to: id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          context: kind === CampaignKind.Transfer ? CAMPAIGN_TRANSFER : new Uint8Array(0),
        }),
      );
    }
  }

  /** Records a vote response and returns the election's outcome so far. */
  poll(id: RaftId, granted: boolean): VoteResult {
    this.tracker.recordVote(id, granted);
    return this.tracker.tallyVotes().result;
  }

  /** Called by candidates on a vote response of their own round. */
  handleVoteResult(result: VoteResult): void {
    if (result === VoteResult.Won) {
      if (this.role === Role.PreCandidate) this.campaign(CampaignKind.Election);
      else {
        this.becomeLeader();
        bcastAppend(this);
      }
    } else if (result === VoteResult.Lost) {
      // The pre-vote or vote failed: go back to following (the term may have moved meanwhile).
      this.becomeFollower(this.term, NONE);
    }
  }

  campaignForTransfer(): void {
    this.hup(CampaignKind.Transfer);
  }

  // ---- the step function ----

  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = isTransferCampaign(m.context);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // We heard from a leader within the minimum election timeout: it is alive, so do not let a
          // partitioned or removed member depose it (the lease CheckQuorum makes safe to assume).
          return;
        }
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote request never changes our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // The granted pre-vote names the term we would campaign in; the election itself adopts it.
      } else if (
        m.type === MessageType.App ||
        m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else if (m.type === MessageType.Vote && !this.log.isUpToDate(m.index, m.logTerm)) {
        // Figure 2: only hearing from a leader or granting a vote resets the election timer. Adopting
        // the term of a candidate we are going to refuse must not, or an out-of-date member that keeps
        // campaigning (without PreVote) holds off forever the members that could win.
        const elapsed = this.electionElapsed;
        this.becomeFollower(m.term, NONE);
        this.electionElapsed = elapsed;
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === MessageType.Heartbeat || m.type === MessageType.App)
      ) {
        // A stale leader (e.g. healed from a partition) must learn our term, or with CheckQuorum and
        // PreVote nobody would ever send it a higher term and it would go on disrupting us.
        this.send(newMessage(MessageType.AppResp, { to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(newMessage(MessageType.PreVoteResp, { to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? CampaignKind.PreElection : CampaignKind.Election);
        return;
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return;
    }
    switch (this.role) {
      case Role.Leader:
        stepLeader(this, m);
        return;
      case Role.Candidate:
      case Role.PreCandidate:
        stepCandidate(this, m);
        return;
      case Role.Follower:
        stepFollower(this, m);
        return;
    }
  }

  private handleVoteRequest(m: Message): void {
    // We can vote for whoever we already voted for (a retried request), or anyone if we have not voted
    // and know no leader in this term; a pre-vote for a future term is always answerable.
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.PreVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send(newMessage(voteResponseType(m.type), { to: m.from, term: m.term }));
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(newMessage(voteResponseType(m.type), { to: m.from, term: this.term, reject: true }));
    }
  }

  // ---- log ----

  /**
   * Leader: appends entries of the current term to its own log. It counts itself as holding them only
   * when its self-acknowledgement comes back through advance(), after the write (see msgsAfterAppend).
   */
  appendEntries(es: Entry[]): void {
    let li = this.log.lastIndex();
    const stamped = es.map((e) => ({ ...e, term: this.term, index: ++li }));
    li = this.log.append(stamped);
    this.msgsAfterAppend.push(
      newMessage(MessageType.AppResp, { from: this.id, to: this.id, term: this.term, index: li }),
    );
  }

  /** Leader: advances commit to what a quorum stores (current-term entries only). */
  maybeCommit(): boolean {
    const committed = this.log.maybeCommit(this.tracker.committed(), this.term);
    if (committed && this.committedEntryInCurrentTerm()) releasePendingReads(this);
    return committed;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.termOrZero(this.log.committed) === this.term;
  }

  // ---- membership (membership.ts) ----

  applyConfChange(cc: ConfChange): ConfState {
    return applyConfChange(this, cc);
  }

  checkProposal(entries: Entry[], local: boolean): Entry[] | undefined {
    return checkProposal(this, entries, local);
  }
}

/** Answers reads that waited for the leader's first commit in its term. */
function releasePendingReads(r: Raft): void {
  const pending = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of pending) stepLeader(r, m);
}
