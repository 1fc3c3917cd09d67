// Types of the SWIM core: configuration, member records, wire messages and membership events.
// Times are plain milliseconds on a monotonic clock supplied by the caller (the shell's clock, or
// the simulation's virtual clock); the core never reads a clock itself.

export interface SwimConfig {
  /** One probe per protocol period (SWIM's T'), scaled by local health (Lifeguard). */
  probeIntervalMs: number;
  /** Direct ping's ack timeout before indirect probes are sent; also scaled by local health. */
  probeTimeoutMs: number;
  /** k: members asked to ping-req a target that did not answer directly. */
  indirectChecks: number;
  /** Suspicion timeout lower bound = mult * max(1, log10 n) * probe interval. */
  suspicionMult: number;
  /** Suspicion timeout upper bound = this * lower bound (Lifeguard starts here, shrinks with confirmations). */
  suspicionMaxTimeoutMult: number;
  /** Piggyback retransmit limit = mult * ceil(log10(n + 1)). */
  retransmitMult: number;
  /** Every gossip interval, pending broadcasts go to `gossipNodes` random members. */
  gossipIntervalMs: number;
  gossipNodes: number;
  /** Full-state anti-entropy with one random member (over TCP in the shell); scaled up past 32 nodes. */
  pushPullIntervalMs: number;
  /** Local health score saturates at max - 1; timeouts are multiplied by score + 1. */
  awarenessMax: number;
  /** Dead members still receive gossip for this long, so a wrongly declared node hears it and refutes. */
  gossipToTheDeadMs: number;
  /**
   * Dead/left member records are forgotten after this long. Until then they shield against stale
   * alive news, and dead (not left) members get a reconnect push-pull every push-pull period, as
   * Serf's reconnect does: that is what re-merges the two sides of a healed partition.
   */
  deadReapMs: number;
  /** Budget of one UDP packet's payload for the main message plus piggybacked broadcasts. */
  packetBudget: number;
}

/** memberlist's LAN profile, which DESIGN.md §5 prescribes. */
export const defaultSwimConfig: SwimConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  pushPullIntervalMs: 30_000,
  awarenessMax: 8,
  gossipToTheDeadMs: 30_000,
  deadReapMs: 24 * 3600_000,
  packetBudget: 1400,
};

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export interface Member {
  id: string;
  /** "host:port" of the node's gossip socket (UDP and TCP). */
  addr: string;
  incarnation: number;
  state: MemberState;
  /** When the state last changed (for reaping and gossip-to-the-dead). */
  since: number;
}

/** A member as carried in push-pull state exchange. */
export interface MemberSnapshot {
  id: string;
  addr: string;
  inc: number;
  state: MemberState;
}

export type SwimMessage =
  | { t: 'ping'; seq: number; target: string }
  | { t: 'ping-req'; seq: number; target: string; targetAddr: string }
  | { t: 'ack'; seq: number }
  | { t: 'nack'; seq: number }
  | { t: 'alive'; node: string; addr: string; inc: number }
  | { t: 'suspect'; node: string; inc: number; from: string }
  | { t: 'dead'; node: string; inc: number; from: string };

export type MemberEventType = 'join' | 'alive' | 'suspect' | 'dead' | 'leave' | 'update';

export interface MemberEvent {
  type: MemberEventType;
  id: string;
  addr: string;
  incarnation: number;
}

/** What the SWIM core asks its host to do; drained after every step/tick. */
export interface SwimEffects {
  /** Send `msgs` (may be empty: a pure gossip packet) to `to`; the host adds piggyback broadcasts. */
  send(to: string, msgs: SwimMessage[]): void;
  /** Start a push-pull state exchange with `to` (TCP in the shell). */
  pushPull(to: string, join: boolean): void;
  event(ev: MemberEvent): void;
  /** This node was declared dead and has refuted it: peers dropped its network state (tables re-assert). */
  refutedDeath(): void;
}
