// Configuration and reporting types of RaftNode.
import type { Histogram } from './latency-histogram.js';
import type { WriteLatency } from './write-latency.js';
import type { ConfState, MemberProgress, RaftConfig, RaftId, RaftStatus, RawNodeApi } from '../types.js';
import type { RaftTransportOptions } from '../transport/transport.js';
import type { StateMachine } from './state-machine.js';
import type { NodeStorage } from './storage.js';

export interface BootstrapMember {
  id: RaftId;
  addr: string;
}

export interface RaftNodeOptions {
  id: RaftId;
  storage: NodeStorage;
  stateMachine: StateMachine;
  createCore: (config: RaftConfig) => RawNodeApi;
  /** Transport settings; `id` is filled in. Listen defaults to 0.0.0.0:2377. */
  transport: Omit<RaftTransportOptions, 'id'>;
  /**
   * For a member whose storage is empty: `true` starts a new single-member cluster; a list starts a new
   * cluster with exactly those voters (each member must be given the same list). Ignored once the log
   * has anything in it. Absent: the member joins an existing cluster and learns it from the leader.
   */
  bootstrap?: boolean | BootstrapMember[];
  tickMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  snapshotEveryEntries?: number;
  snapshotKeepEntries?: number;
  /** How long propose()/readIndex()/membership changes wait before failing with RaftTimeoutError. */
  requestTimeoutMs?: number;
  /**
   * How long proposals this member made as leader keep waiting once it knows no leader (it stepped
   * down: CheckQuorum found no quorum): past it they fail with LeaderlessError instead of running to
   * requestTimeoutMs. Default two election timeouts, enough for an election among reachable members.
   */
  leaderlessFailMs?: number;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
}

export interface MemberInfo {
  id: RaftId;
  addr: string;
  learner: boolean;
  /** Replication progress, on the leader only. */
  match?: number;
  next?: number;
  state?: string;
  recentActive?: boolean;
  /** On the leader: heard from within the last election timeout. */
  reachable?: boolean;
}

export interface NodeStatus extends Omit<RaftStatus, 'progress'> {
  leaderAddr: string;
  members: MemberInfo[];
  snapshotIndex: number;
}

/** Counters of the Ready loop, for benchmarks and diagnosis. */
export interface NodeMetrics {
  readies: number;
  syncedWrites: number;
  /** Total time spent waiting for synced writes, in ms. */
  syncedWriteMs: number;
  /** The same synced writes' durations, counted per log-spaced bucket (latency-histogram.ts). */
  syncedWriteHistogram: Histogram;
  entriesWritten: number;
  messagesSent: number;
  entriesApplied: number;
  /** Where this member's own proposals spent their time (write-latency.ts); filled by metrics(). */
  writeLatency?: WriteLatency;
}

/** The members of a configuration with their addresses and (on the leader) replication progress. */
export function describeMembers(
  confState: ConfState,
  progress: MemberProgress[],
  addresses: ReadonlyMap<RaftId, string>,
): MemberInfo[] {
  const byId = new Map(progress.map((p) => [p.id, p]));
  const describe = (id: RaftId, learner: boolean): MemberInfo => {
    const p = byId.get(id);
    return {
      id,
      addr: addresses.get(id) ?? '',
      learner,
      ...(p && {
        match: p.match,
        next: p.next,
        state: p.state,
        recentActive: p.recentActive,
        reachable: p.reachable,
      }),
    };
  };
  return [
    ...confState.voters.map((id) => describe(id, false)),
    ...confState.learners.map((id) => describe(id, true)),
  ];
}
