// The membership table and SWIM's merge rules: how alive/suspect/dead news about a member combine
// with what this node believes. The order of precedence (SWIM §4.2) is by incarnation, then by
// state: for the same incarnation suspect overrides alive, and dead overrides both. Only the member
// itself raises its incarnation, which is how it refutes a suspicion: news about a newer
// incarnation beats every older claim.
import { Awareness, Suspicion, suspicionBounds } from './lifeguard.js';
import type { Member, MemberEvent, MemberSnapshot, SwimConfig, SwimMessage } from './types.js';

export interface MemberTableHooks {
  /** Queue a membership message for piggyback dissemination (keyed by node: newest news wins). */
  broadcast(node: string, msg: SwimMessage): void;
  event(ev: MemberEvent): void;
  /** A member appeared (or came back): the prober slots it into its round-robin list. */
  added(id: string): void;
  refutedDeath(): void;
}

export class MemberTable {
  readonly members = new Map<string, Member>();
  private readonly suspicions = new Map<string, Suspicion>();
  incarnation = 0;
  /** Set by a graceful leave: this node no longer refutes, it is going away. */
  leaving = false;

  constructor(
    readonly selfId: string,
    readonly selfAddr: string,
    private readonly cfg: SwimConfig,
    private readonly awareness: Awareness,
    private readonly hooks: MemberTableHooks,
  ) {}

  /** Members believed alive or suspect, plus this node: the n of every log-n formula. */
  liveCount(): number {
    let n = 1;
    for (const m of this.members.values()) if (m.state === 'alive' || m.state === 'suspect') n++;
    return n;
  }

  snapshot(): MemberSnapshot[] {
    const self: MemberSnapshot = {
      id: this.selfId,
      addr: this.selfAddr,
      inc: this.incarnation,
      state: this.leaving ? 'left' : 'alive',
    };
    return [self, ...[...this.members.values()].map((m) => ({ ...snap(m) }))];
  }

  aliveMessage(): SwimMessage {
    return { t: 'alive', node: this.selfId, addr: this.selfAddr, inc: this.incarnation };
  }

  /** Someone believes this node is not alive (or has a stale view of it): out-incarnate the claim. */
  private refute(claimedInc: number): void {
    this.incarnation = Math.max(this.incarnation, claimedInc) + 1;
    this.hooks.broadcast(this.selfId, this.aliveMessage());
  }

  onAlive(m: Extract<SwimMessage, { t: 'alive' }>, now: number): void {
    if (m.node === this.selfId) {
      if (this.leaving || m.inc < this.incarnation) return;
      if (m.inc === this.incarnation && m.addr === this.selfAddr) return;
      // A newer (or conflicting) incarnation of us circulates, e.g. from before a restart.
      this.refute(m.inc);
      return;
    }
    const cur = this.members.get(m.node);
    if (!cur) {
      this.members.set(m.node, { id: m.node, addr: m.addr, incarnation: m.inc, state: 'alive', since: now });
      this.hooks.added(m.node);
      this.hooks.broadcast(m.node, m);
      this.hooks.event({ type: 'join', id: m.node, addr: m.addr, incarnation: m.inc });
      return;
    }
    if (m.inc <= cur.incarnation) return;
    const prev = cur.state;
    const addrChanged = cur.addr !== m.addr;
    cur.incarnation = m.inc;
    cur.addr = m.addr;
    cur.state = 'alive';
    if (prev !== 'alive') cur.since = now;
    this.suspicions.delete(m.node);
    this.hooks.broadcast(m.node, m);
    const ev = { id: m.node, addr: m.addr, incarnation: m.inc };
    if (prev === 'dead' || prev === 'left') {
      this.hooks.added(m.node);
      this.hooks.event({ type: 'join', ...ev });
    } else if (prev === 'suspect') this.hooks.event({ type: 'alive', ...ev });
    else if (addrChanged) this.hooks.event({ type: 'update', ...ev });
  }

  onSuspect(m: Extract<SwimMessage, { t: 'suspect' }>, now: number): void {
    if (m.node === this.selfId) {
      if (this.leaving || m.inc < this.incarnation) return;
      this.awareness.apply(1); // being suspected hints that our own links or CPU are the problem
      this.refute(m.inc);
      return;
    }
    const cur = this.members.get(m.node);
    if (!cur || m.inc < cur.incarnation) return;
    if (cur.state === 'suspect') {
      const s = this.suspicions.get(m.node);
      // A new independent confirmation shortens the timeout; re-gossip it so others count it too.
      if (s?.confirm(m.from)) this.hooks.broadcast(m.node, m);
      return;
    }
    if (cur.state !== 'alive') return;
    cur.incarnation = m.inc;
    cur.state = 'suspect';
    cur.since = now;
    this.suspicions.set(m.node, new Suspicion(now, suspicionBounds(this.liveCount(), this.cfg), m.from));
    this.hooks.broadcast(m.node, m);
    this.hooks.event({ type: 'suspect', id: cur.id, addr: cur.addr, incarnation: cur.incarnation });
  }

  onDead(m: Extract<SwimMessage, { t: 'dead' }>, now: number): void {
    if (m.node === this.selfId) {
      if (this.leaving || m.inc < this.incarnation) return;
      this.refute(m.inc);
      this.hooks.refutedDeath();
      return;
    }
    const cur = this.members.get(m.node);
    if (!cur || m.inc < cur.incarnation) return;
    if (cur.state === 'dead' || cur.state === 'left') return;
    cur.incarnation = m.inc;
    cur.state = m.from === m.node ? 'left' : 'dead';
    cur.since = now;
    this.suspicions.delete(m.node);
    this.hooks.broadcast(m.node, m);
    const type = cur.state === 'left' ? 'leave' : 'dead';
    this.hooks.event({ type, id: cur.id, addr: cur.addr, incarnation: cur.incarnation });
  }

  /** Suspicions whose (confirmation-shortened) timeout has passed become deaths declared by us. */
  expireSuspicions(now: number): void {
    for (const [id, s] of this.suspicions) {
      if (now < s.deadline()) continue;
      const cur = this.members.get(id);
      this.suspicions.delete(id);
      if (cur && cur.state === 'suspect') {
        this.onDead({ t: 'dead', node: id, inc: cur.incarnation, from: this.selfId }, now);
      }
    }
  }

  /** Forgets members dead or gone for longer than deadReapMs. */
  reap(now: number): void {
    for (const [id, m] of this.members) {
      if ((m.state === 'dead' || m.state === 'left') && now - m.since >= this.cfg.deadReapMs) {
        this.members.delete(id);
      }
    }
  }

  /**
   * Merges a peer's full state (push-pull). As in memberlist, a remote "dead" only makes us suspect
   * (we verify it ourselves, and a stale dead cannot kill a live node outright), while "left" is the
   * node's own word and is taken as such. Suspect/dead news about members we never knew is ignored:
   * learning a node only to suspect it would raise a phantom join.
   */
  mergeRemote(states: MemberSnapshot[], now: number): void {
    for (const s of states) {
      if (s.state === 'alive') this.onAlive({ t: 'alive', node: s.id, addr: s.addr, inc: s.inc }, now);
      else if (s.state === 'left') this.onDead({ t: 'dead', node: s.id, inc: s.inc, from: s.id }, now);
      // A peer holds us dead: refute it as a gossiped death (so our tables re-assert too).
      else if (s.id === this.selfId && s.state === 'dead')
        this.onDead({ t: 'dead', node: s.id, inc: s.inc, from: '' }, now);
      else this.onSuspect({ t: 'suspect', node: s.id, inc: s.inc, from: this.selfId }, now);
    }
  }
}

function snap(m: Member): MemberSnapshot {
  return { id: m.id, addr: m.addr, inc: m.incarnation, state: m.state };
}
