// Heartbeat bookkeeping of the dispatcher, as a pure structure over an injected clock reading: which
// nodes have a live session, when each must beat again, and which have missed their deadline.
//
// A node is expected to beat every `period`; it is declared down once `period * graceMultiplier`
// has passed since its last beat (SwarmKit uses a 3x grace). With a 1 s period a dead node is down
// within 3 s of its last beat, inside the 5 s the swarm promises (Docker's default takes ~15 s).

export interface HeartbeatConfig {
  periodMs: number;
  graceMultiplier: number;
}

export const HEARTBEAT_DEFAULTS: HeartbeatConfig = { periodMs: 1_000, graceMultiplier: 3 };

export class HeartbeatTracker {
  private readonly deadlines = new Map<string, { sessionId: string; deadline: number }>();
  /** When the last expiry check ran: a late one means this manager, not its nodes, was stalled. */
  private lastCheck: number | undefined;

  constructor(private readonly config: HeartbeatConfig = HEARTBEAT_DEFAULTS) {}

  get periodMs(): number {
    return this.config.periodMs;
  }

  private deadlineFrom(now: number): number {
    return now + this.config.periodMs * this.config.graceMultiplier;
  }

  /**
   * A session opened (or re-opened: the newest session of a node replaces any older one). `graceMs`
   * overrides the first deadline (a new leader expecting nodes that beat to its predecessor).
   */
  open(nodeId: string, sessionId: string, now: number, graceMs?: number): void {
    this.deadlines.set(nodeId, {
      sessionId,
      deadline: graceMs === undefined ? this.deadlineFrom(now) : now + graceMs,
    });
  }

  /** Records a beat; false when the session is unknown or superseded (the node must re-register). */
  beat(nodeId: string, sessionId: string, now: number): boolean {
    const entry = this.deadlines.get(nodeId);
    if (!entry || entry.sessionId !== sessionId) return false;
    entry.deadline = this.deadlineFrom(now);
    return true;
  }

  /** Ends a session if it is still the node's current one. */
  close(nodeId: string, sessionId: string): void {
    if (this.deadlines.get(nodeId)?.sessionId === sessionId) this.deadlines.delete(nodeId);
  }

  isLive(nodeId: string): boolean {
    return this.deadlines.has(nodeId);
  }

  /**
   * Removes and returns the nodes whose deadline has passed. `checkEveryMs`: how often the caller
   * checks. A check that comes later than that means this manager's own event loop was stalled (a
   * starved process on a loaded machine): the beats that reached its sockets meanwhile were not read,
   * so the stall is added to every deadline before any is judged, as Lifeguard's local health
   * awareness (memberlist) stretches its timeouts while the local member is the slow one. A healthy
   * manager still finds a dead node within period × grace.
   */
  takeExpired(now: number, checkEveryMs?: number): string[] {
    if (checkEveryMs !== undefined && this.lastCheck !== undefined) {
      const stall = now - this.lastCheck - checkEveryMs;
      if (stall > 0) for (const entry of this.deadlines.values()) entry.deadline += stall;
    }
    this.lastCheck = now;
    const expired: string[] = [];
    for (const [nodeId, entry] of this.deadlines) {
      if (entry.deadline <= now) {
        expired.push(nodeId);
        this.deadlines.delete(nodeId);
      }
    }
    return expired.sort();
  }
}
