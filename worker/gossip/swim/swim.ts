// The SWIM protocol engine: failure detection by randomized round-robin probing (direct ping, then
// k indirect ping-reqs, with Lifeguard's nacks and local health), dissemination by piggybacking, and
// periodic push-pull anti-entropy. Pure: stepped with (now, packet) and tick(now); everything it wants
// done goes through SwimEffects, and its only randomness is the injected Rng.
import type { Rng } from '../rng.js';
import { jsonSize, retransmitLimit, TransmitQueue } from '../transmit-queue.js';
import { Awareness } from './lifeguard.js';
import { MemberTable } from './members.js';
import type { Member, MemberSnapshot, SwimConfig, SwimEffects, SwimMessage } from './types.js';

/** The probe of the current protocol period. */
interface Probe {
  target: string;
  seq: number;
  ackDeadline: number;
  periodEnd: number;
  indirectSent: boolean;
  expectedNacks: number;
  nacks: number;
}

/** A ping-req we are serving for another member: answer it with an ack, or a nack on timeout. */
interface Relay {
  origin: string;
  originSeq: number;
  deadline: number;
}

export class Swim {
  readonly table: MemberTable;
  readonly awareness: Awareness;
  private readonly queue = new TransmitQueue<SwimMessage>();
  private probeList: string[] = [];
  private probeIndex = 0;
  private probe: Probe | undefined;
  private readonly relays = new Map<number, Relay>();
  /** When this node last probed each member (for probing fresh suspects out of turn). */
  private readonly lastProbed = new Map<string, number>();
  private seq = 0;
  private nextProbeAt: number;
  private nextGossipAt: number;
  private nextPushPullAt: number;

  constructor(
    selfId: string,
    selfAddr: string,
    private readonly cfg: SwimConfig,
    private readonly rng: Rng,
    private readonly fx: SwimEffects,
    now: number,
  ) {
    this.awareness = new Awareness(cfg.awarenessMax);
    this.table = new MemberTable(selfId, selfAddr, cfg, this.awareness, {
      broadcast: (node, msg) => this.queue.enqueue(node, msg, jsonSize(msg)),
      event: (ev) => fx.event(ev),
      added: (id) => this.addToProbeList(id),
      refutedDeath: () => fx.refutedDeath(),
    });
    // Stagger the first period so that nodes started together do not probe in lockstep.
    this.nextProbeAt = now + rng.int(cfg.probeIntervalMs);
    this.nextGossipAt = now + rng.int(cfg.gossipIntervalMs);
    this.nextPushPullAt = now + cfg.pushPullIntervalMs + rng.int(cfg.pushPullIntervalMs);
  }

  get selfId(): string {
    return this.table.selfId;
  }

  members(): Member[] {
    return [...this.table.members.values()];
  }

  /** Asks each seed for a push-pull state exchange; their reply makes this node a member. */
  join(seeds: string[]): void {
    this.table.leaving = false;
    for (const addr of seeds) if (addr !== this.table.selfAddr) this.fx.pushPull(addr, true);
  }

  /** Graceful leave: gossip our own "dead" (which peers read as "left"); stop probing. */
  leave(): void {
    this.table.leaving = true;
    this.queue.enqueue(this.selfId, this.leaveMessage(), jsonSize(this.leaveMessage()));
  }

  /** True once the leave notice used up its retransmit count (or there is nobody to tell). */
  leaveSent(): boolean {
    return !this.queue.has(this.selfId) || this.liveMembers().length === 0;
  }

  private leaveMessage(): SwimMessage {
    return { t: 'dead', node: this.selfId, inc: this.table.incarnation, from: this.selfId };
  }

  /** Membership broadcasts to piggyback on an outgoing packet. */
  takeBroadcasts(budget: number): SwimMessage[] {
    return this.queue.take(budget, retransmitLimit(this.cfg.retransmitMult, this.table.liveCount()));
  }

  snapshot(): MemberSnapshot[] {
    return this.table.snapshot();
  }

  mergeRemote(states: MemberSnapshot[], now: number): void {
    this.table.mergeRemote(states, now);
  }

  /** Handles one message from `fromAddr` (the sender's advertised gossip address). */
  receive(msg: SwimMessage, fromAddr: string, now: number): void {
    switch (msg.t) {
      case 'ping':
        // A ping meant for a previous owner of this address (restart under a new id) is not ours.
        if (msg.target === this.selfId) this.fx.send(fromAddr, [{ t: 'ack', seq: msg.seq }]);
        return;
      case 'ping-req': {
        const seq = ++this.seq;
        this.relays.set(seq, {
          origin: fromAddr,
          originSeq: msg.seq,
          // Nack at 80% of a probe timeout: the requester sent this at its own ack timeout and
          // judges at its period's end (1 s vs 500 ms), so a nack must beat that by a round trip.
          deadline: now + this.awareness.scale(0.8 * this.cfg.probeTimeoutMs),
        });
        this.fx.send(msg.targetAddr, [{ t: 'ping', seq, target: msg.target }]);
        return;
      }
      case 'ack':
        return this.onAck(msg.seq, now);
      case 'nack':
        if (this.probe && this.probe.seq === msg.seq) this.probe.nacks++;
        return;
      case 'alive':
        return this.table.onAlive(msg, now);
      case 'suspect':
        return this.table.onSuspect(msg, now);
      case 'dead':
        return this.table.onDead(msg, now);
    }
  }

  private onAck(seq: number, now: number): void {
    const relay = this.relays.get(seq);
    if (relay) {
      this.relays.delete(seq);
      this.fx.send(relay.origin, [{ t: 'ack', seq: relay.originSeq }]);
      return;
    }
    const p = this.probe;
    if (!p || p.seq !== seq || now > p.periodEnd) return;
    this.probe = undefined;
    this.awareness.apply(-1);
  }

  tick(now: number): void {
    this.table.expireSuspicions(now);
    this.expireRelays(now);
    if (!this.table.leaving) this.runProbe(now);
    if (now >= this.nextGossipAt) {
      this.nextGossipAt = now + this.cfg.gossipIntervalMs;
      this.gossip(now);
    }
    if (!this.table.leaving && now >= this.nextPushPullAt) {
      this.nextPushPullAt = now + pushPullScale(this.cfg.pushPullIntervalMs, this.table.liveCount());
      const peer = this.rng.sample(this.liveMembers(), 1)[0];
      if (peer) this.fx.pushPull(peer.addr, false);
      // Reconnect: a "dead" member may be alive on the far side of a partition that has healed.
      const dead = this.rng.sample(
        this.members().filter((m) => m.state === 'dead'),
        1,
      )[0];
      if (dead) this.fx.pushPull(dead.addr, false);
    }
    this.table.reap(now);
    for (const id of this.lastProbed.keys()) if (!this.table.members.has(id)) this.lastProbed.delete(id);
  }

  private expireRelays(now: number): void {
    for (const [seq, r] of this.relays) {
      if (now < r.deadline) continue;
      this.relays.delete(seq);
      // Lifeguard: tell the origin we tried and failed, so it knows its own link is fine.
      this.fx.send(r.origin, [{ t: 'nack', seq: r.originSeq }]);
    }
  }

  private runProbe(now: number): void {
    const p = this.probe;
    if (p) {
      if (!p.indirectSent && now >= p.ackDeadline) this.sendIndirect(p);
      if (now < p.periodEnd) return;
      this.probe = undefined;
      this.probeFailed(p, now);
    }
    if (now < this.nextProbeAt) return;
    const target = this.nextProbeTarget(now);
    const period = this.awareness.scale(this.cfg.probeIntervalMs);
    this.nextProbeAt = now + period;
    if (!target) return;
    const seq = ++this.seq;
    this.probe = {
      target: target.id,
      seq,
      ackDeadline: now + this.awareness.scale(this.cfg.probeTimeoutMs),
      periodEnd: now + period,
      indirectSent: false,
      expectedNacks: 0,
      nacks: 0,
    };
    const ping: SwimMessage = { t: 'ping', seq, target: target.id };
    // Lifeguard's buddy system: a suspect hears of its suspicion from every prober, directly, and
    // can refute at once, even if the gossiped suspicion was used up on packets that were lost.
    if (target.state === 'suspect') {
      const suspect: SwimMessage = {
        t: 'suspect',
        node: target.id,
        inc: target.incarnation,
        from: this.selfId,
      };
      this.fx.send(target.addr, [ping, suspect]);
    } else this.fx.send(target.addr, [ping]);
  }

  private sendIndirect(p: Probe): void {
    p.indirectSent = true;
    const target = this.table.members.get(p.target);
    if (!target) return;
    const helpers = this.rng.sample(
      this.liveMembers().filter((m) => m.id !== p.target && m.state === 'alive'),
      this.cfg.indirectChecks,
    );
    p.expectedNacks = helpers.length;
    for (const h of helpers) {
      this.fx.send(h.addr, [{ t: 'ping-req', seq: p.seq, target: target.id, targetAddr: target.addr }]);
    }
  }

  private probeFailed(p: Probe, now: number): void {
    // Missing nacks mean the helpers could not answer us either: our side is likely the sick one.
    const missingNacks = p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1;
    this.awareness.apply(missingNacks);
    // Probing a member already suspect adds our independent confirmation (shortening its timeout).
    const m = this.table.members.get(p.target);
    if (!m || (m.state !== 'alive' && m.state !== 'suspect')) return;
    this.table.onSuspect({ t: 'suspect', node: m.id, inc: m.incarnation, from: this.selfId }, now);
  }

  private addToProbeList(id: string): void {
    // Insert at a random position so a newcomer is probed within one round, not always last.
    this.probeList.splice(this.rng.int(this.probeList.length + 1), 0, id);
  }

  private nextProbeTarget(now: number): Member | undefined {
    // A suspect not probed by us for two periods goes first, out of turn: either we confirm the
    // suspicion (shortening it), or our ping carries the suspicion to it (the buddy system) and it
    // refutes. Without this a suspicion whose gossip was lost waits out its full timeout, then
    // kills a live node. Probe slots spent on suspects are bounded by the number of suspects.
    const recent = now - 2 * this.awareness.scale(this.cfg.probeIntervalMs);
    for (const m of this.table.members.values()) {
      if (m.state === 'suspect' && (this.lastProbed.get(m.id) ?? -Infinity) < Math.max(m.since, recent)) {
        this.lastProbed.set(m.id, now);
        return m;
      }
    }
    for (let tries = 0; tries <= this.probeList.length; tries++) {
      if (this.probeIndex >= this.probeList.length) {
        this.probeList = this.rng.shuffle(this.liveMembers().map((m) => m.id));
        this.probeIndex = 0;
        if (this.probeList.length === 0) return undefined;
      }
      const m = this.table.members.get(this.probeList[this.probeIndex++]);
      if (m && (m.state === 'alive' || m.state === 'suspect')) {
        this.lastProbed.set(m.id, now);
        return m;
      }
    }
    return undefined;
  }

  private liveMembers(): Member[] {
    return this.members().filter((m) => m.state === 'alive' || m.state === 'suspect');
  }

  /** Gossip targets: random live members, plus the recently dead so a wrongly killed node can refute. */
  private gossip(now: number): void {
    const candidates = this.members().filter(
      (m) =>
        m.state === 'alive' ||
        m.state === 'suspect' ||
        (m.state === 'dead' && now - m.since < this.cfg.gossipToTheDeadMs),
    );
    for (const m of this.rng.sample(candidates, this.cfg.gossipNodes)) this.fx.send(m.addr, []);
  }
}

/** memberlist's push-pull back-off: past 32 nodes the interval grows with log2(n / 32). */
function pushPullScale(intervalMs: number, n: number): number {
  if (n <= 32) return intervalMs;
  return intervalMs * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1);
}
