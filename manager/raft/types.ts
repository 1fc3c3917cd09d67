// Data types shared by the Raft core (pure), its storage and its transport.
//
// The core is a deterministic state machine: it is stepped with messages and ticks and hands back a
// Ready describing what the shell must persist, send and apply. Nothing here does I/O.

/** A member's Raft id: a positive integer, unique for the life of the cluster (never reused). */
export type RaftId = number;

/** The sentinel for "no member" (no vote cast, leader unknown). */
export const NONE: RaftId = 0;

export enum EntryType {
  /** An application command (a store batch); empty data marks a new leader's no-op entry. */
  Normal = 0,
  /** A membership change; data is an encoded ConfChange (see encodeConfChange). */
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** State that must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: RaftId;
  commit: number;
}

/** The membership a snapshot or the log's configuration describes. */
export interface ConfState {
  voters: RaftId[];
  learners: RaftId[];
}

export interface SnapshotMetadata {
  /** Index and term of the last entry the snapshot covers. */
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  /** The application's serialized state at metadata.index. */
  data: Uint8Array;
}

export enum ConfChangeType {
  AddVoter = 0,
  AddLearner = 1,
  RemoveMember = 2,
}

/** A single-server membership change; `context` carries application data (e.g. the member's address). */
export interface ConfChange {
  type: ConfChangeType;
  id: RaftId;
  context: Uint8Array;
}

export enum MessageType {
  // Local messages: never sent over the wire.
  Hup = 0, // start an election (campaign) now
  Beat = 1, // leader: send heartbeats now
  Propose = 2, // append entries (from the application)
  Unreachable = 3, // transport: could not reach `from`
  SnapshotStatus = 4, // transport: snapshot send to `from` finished (reject = failed)
  CheckQuorum = 5, // leader: verify it heard from a quorum recently
  TransferLeader = 6, // application: hand leadership to `from`
  ReadIndex = 7, // linearizable read request; `entries[0].data` is the caller's context

  // Wire messages between members.
  App = 10, // AppendEntries
  AppResp = 11,
  Vote = 12,
  VoteResp = 13,
  PreVote = 14,
  PreVoteResp = 15,
  Snap = 16, // InstallSnapshot
  Heartbeat = 17,
  HeartbeatResp = 18,
  TimeoutNow = 19, // leadership transfer: campaign immediately
  ReadIndexResp = 20, // leader → follower answer to a forwarded ReadIndex
}

export interface Message {
  type: MessageType;
  to: RaftId;
  from: RaftId;
  term: number;
  /** App: term of the entry at `index` (the one before `entries`); Vote: candidate's last log term. */
  logTerm: number;
  /** App: index preceding `entries`; AppResp: last index matched (or rejected); Vote: last log index. */
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  /** AppResp rejection: the follower's hint of where the leader should probe next. */
  rejectHint: number;
  /** Heartbeat/ReadIndex: opaque context echoed back (ReadIndex request id). */
  context: Uint8Array;
}

/** Volatile state the application may want to observe; not persisted. */
export enum Role {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

export interface SoftState {
  leader: RaftId;
  role: Role;
}

/** A ReadIndex answer: once `applied >= index`, a read with this context is linearizable. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

/**
 * What the shell must do after the core moved: persist `hardState`, `entries` and `snapshot` (fsync
 * when `mustSync`), then send `messages`, apply `committedEntries`, and call advance(). Messages may
 * depend on the persisted state, so they are sent only after the write is durable.
 *
 * With RaftConfig.asyncStorageWrites the shell instead hands the write to storage (whose reads must
 * reflect it at once), sends `messages` right away, applies, and calls advance() without waiting;
 * `messagesAfterWrite` — the acknowledgements that promise this write (append and vote responses,
 * the member's own included: those addressed to itself are stepped back into the core) — are
 * released only once this write, and every write handed to storage before it, is durable.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  readStates: ReadState[];
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  /** Only with asyncStorageWrites (otherwise empty): see above. */
  messagesAfterWrite: Message[];
  mustSync: boolean;
}

/**
 * Read access to the log that the core needs. A MemoryStorage (pure, in the core) and the LMDB
 * storage (shell) both implement it. Indices below firstIndex() are compacted into the snapshot.
 */
export interface LogStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at most maxBytes in total (at least one entry if any is in range). */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of the entry at index i; i may be snapshot.metadata.index. Throws CompactedError/UnavailableError. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export class CompactedError extends Error {
  constructor(index: number) {
    super(`raft log index ${index} is compacted`);
    this.name = 'CompactedError';
  }
}

export class UnavailableError extends Error {
  constructor(index: number) {
    super(`raft log index ${index} is not available yet`);
    this.name = 'UnavailableError';
  }
}

export class SnapshotTemporarilyUnavailableError extends Error {
  constructor() {
    super('raft snapshot is temporarily unavailable');
    this.name = 'SnapshotTemporarilyUnavailableError';
  }
}

/** Configuration of one member's core. Times are in ticks. */
export interface RaftConfig {
  id: RaftId;
  electionTicks: number; // default 10
  heartbeatTicks: number; // default 1
  storage: LogStorage;
  /** Last applied index at start (0 for a fresh member). */
  applied: number;
  maxSizePerMsg: number; // default 1 MiB
  maxInflightMsgs: number; // default 256
  preVote: boolean; // default true
  checkQuorum: boolean; // default true
  /** Source of randomness for election timeouts; seeded in simulation for exact replays. */
  random: () => number;
  /**
   * The shell writes in the background (etcd-io/raft's AsyncStorageWrites): Ready.messages may leave
   * before the Ready's write is durable, the acknowledgements that depend on it come in
   * Ready.messagesAfterWrite, and a new commit index rides on the next AppendEntries or heartbeat
   * instead of a commit-only round of its own. Default false (the synchronous contract above).
   */
  asyncStorageWrites?: boolean;
}

export const RAFT_DEFAULTS = {
  tickMs: 100,
  electionTicks: 10,
  heartbeatTicks: 1,
  snapshotEveryEntries: 10_000,
  snapshotKeepEntries: 500,
  maxSizePerMsg: 1024 * 1024,
  maxInflightMsgs: 256,
} as const;

/** Where the leader stands with one follower's log. */
export enum ProgressState {
  /** Sending one AppendEntries per heartbeat until the follower's match index is found. */
  Probe = 'probe',
  /** Pipelining AppendEntries optimistically, bounded by the inflight window. */
  Replicate = 'replicate',
  /** A snapshot is being sent; replication pauses until it is reported. */
  Snapshot = 'snapshot',
}

export interface MemberProgress {
  id: RaftId;
  learner: boolean;
  match: number;
  next: number;
  state: ProgressState;
  /** Heard from since the last CheckQuorum round (cleared at every round). */
  recentActive: boolean;
  /** Heard from within the last election timeout: what operators and demotion checks go by. */
  reachable: boolean;
  inflight: number;
}

export interface RaftStatus {
  id: RaftId;
  term: number;
  vote: RaftId;
  commit: number;
  applied: number;
  role: Role;
  leader: RaftId;
  confState: ConfState;
  /** Filled on the leader only. */
  progress: MemberProgress[];
  /** Non-zero while a leadership transfer to that member is in progress. */
  leadTransferee: RaftId;
}

/**
 * The pure Raft core as the shell (and the simulation) drives it. Every method is synchronous and
 * deterministic given the config's random source; output surfaces only through ready().
 */
export interface RawNodeApi {
  tick(): void;
  campaign(): void;
  propose(data: Uint8Array): void;
  proposeConfChange(cc: ConfChange): void;
  /** Applies a committed ConfChange entry to the membership; returns the new configuration. */
  applyConfChange(cc: ConfChange): ConfState;
  step(m: Message): void;
  readIndex(context: Uint8Array): void;
  transferLeader(to: RaftId): void;
  reportUnreachable(id: RaftId): void;
  reportSnapshot(id: RaftId, ok: boolean): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(rd: Ready): void;
  status(): RaftStatus;
}

/** Raised by propose() on a member that cannot accept the proposal (no leader, or a transfer in progress). */
export class ProposalDroppedError extends Error {
  constructor(reason: string) {
    super(`raft proposal dropped: ${reason}`);
    this.name = 'ProposalDroppedError';
  }
}
