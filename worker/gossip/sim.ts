// A deterministic simulated network and clock for the gossip core: a test is a function of its seed.
// Datagrams get a random delay and may be lost; TCP syncs are reliable but fail across partitions
// or to stopped nodes; a partition is a labelling of nodes into groups that cannot talk; a restart
// replaces a node's core with a fresh one (no memory) at the same id and address.
import { decodePacket, decodeSync, encodePacket, encodeSync, type Keyring } from './codec.js';
import { GossipCore, type GossipEvent, type Packet, type SyncMessage } from './core.js';
import { Rng } from './rng.js';
import type { Member, SwimConfig } from './swim/types.js';
import type { TablesConfig } from './tables/types.js';

export interface SimOptions {
  seed: number;
  /** Probability that a datagram is lost. */
  loss?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  stepMs?: number;
  swim?: Partial<SwimConfig>;
  tables?: Partial<TablesConfig>;
  /** Pass every datagram and sync through the real codec with this key ring. */
  keyring?: Keyring;
}

export interface SimNode {
  id: string;
  core: GossipCore;
  up: boolean;
  events: GossipEvent[];
}

interface Scheduled {
  at: number;
  order: number;
  run: () => void;
}

export class SimCluster {
  now = 0;
  readonly nodes = new Map<string, SimNode>();
  readonly rng: Rng;
  /** Extra loss per directed link "from>to" (for targeted packet loss). */
  readonly linkLoss = new Map<string, number>();
  datagrams = 0;
  dropped = 0;
  private readonly queue: Scheduled[] = [];
  private order = 0;
  private groups = new Map<string, number>();
  private restarts = 0;

  constructor(readonly opts: SimOptions) {
    this.rng = new Rng(opts.seed);
  }

  /** n nodes n0..n{n-1}; n1.. join through n0 at random moments of the first two seconds. */
  static started(seed: number, n: number, loss = 0.01, opts: Partial<SimOptions> = {}): SimCluster {
    const sim = new SimCluster({ ...opts, seed, loss });
    for (let i = 0; i < n; i++) sim.add(`n${i}`);
    const joins = Array.from({ length: n - 1 }, (_, i) => ({ id: `n${i + 1}`, at: sim.rng.int(2000) }));
    for (const j of joins.sort((a, b) => a.at - b.at)) {
      sim.run(j.at - sim.now);
      sim.get(j.id).core.join(['n0'], sim.now);
    }
    return sim;
  }

  /** How `observer` sees `target`. */
  view(observer: string, target: string): Member | undefined {
    return this.get(observer)
      .core.members()
      .find((m) => m.id === target);
  }

  /** The first few wrong views, for failure messages. */
  describeDisagreement(): string {
    const live = this.up().map((n) => n.id);
    const out: string[] = [];
    for (const n of this.up()) {
      const wrong = live.filter((id) => id !== n.id && this.view(n.id, id)?.state !== 'alive');
      if (wrong.length === 0) continue;
      out.push(`${n.id} sees ${wrong.map((id) => `${id}:${this.view(n.id, id)?.state ?? '?'}`).join(',')}`);
    }
    return out.slice(0, 8).join('; ');
  }

  /** Node ids double as addresses in the simulation. */
  add(id: string): SimNode {
    const node: SimNode = { id, core: this.newCore(id), up: true, events: [] };
    this.nodes.set(id, node);
    return node;
  }

  private newCore(id: string): GossipCore {
    const seed = (this.opts.seed * 7919 + this.nodes.size * 104_729 + this.restarts++ * 15_485_863) >>> 0;
    return new GossipCore({
      id,
      addr: id,
      seed,
      now: this.now,
      swim: this.opts.swim,
      tables: this.opts.tables,
    });
  }

  get(id: string): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no sim node ${id}`);
    return n;
  }

  up(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  kill(id: string): void {
    this.get(id).up = false;
  }

  /** A paused process (SIGSTOP, a long GC pause): hears nothing, keeps its state for resume(). */
  pause(id: string): void {
    this.get(id).up = false;
  }

  resume(id: string): void {
    this.get(id).up = true;
  }

  /** A fresh process on the same address: empty state, joins through `seeds`. */
  restart(id: string, seeds: string[]): void {
    const n = this.get(id);
    n.core = this.newCore(id);
    n.up = true;
    n.core.join(seeds, this.now);
  }

  /** Nodes in different groups cannot exchange anything; unlisted nodes are in group 0. */
  partition(groups: string[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((id) => this.groups.set(id, i + 1)));
  }

  heal(): void {
    this.groups = new Map();
  }

  private connected(a: string, b: string): boolean {
    return (this.groups.get(a) ?? 0) === (this.groups.get(b) ?? 0);
  }

  private at(delayMs: number, run: () => void): void {
    const item = { at: this.now + delayMs, order: this.order++, run };
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid];
      if (q.at < item.at || (q.at === item.at && q.order < item.order)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, item);
  }

  private delay(): number {
    const min = this.opts.minDelayMs ?? 1;
    const max = this.opts.maxDelayMs ?? 10;
    return min + this.rng.int(max - min + 1);
  }

  private flush(node: SimNode): void {
    const ready = node.core.ready();
    node.events.push(...ready.events);
    const sender = node.core;
    for (const { to, packet } of ready.packets) {
      this.datagrams++;
      const loss = (this.opts.loss ?? 0) + (this.linkLoss.get(`${node.id}>${to}`) ?? 0);
      if (!this.connected(node.id, to) || this.rng.next() < loss) {
        this.dropped++;
        continue;
      }
      const wire = this.roundTripPacket(packet);
      this.at(this.delay(), () => {
        const dest = this.nodes.get(to);
        if (!dest?.up) return;
        dest.core.receive(wire, this.now);
        this.flush(dest);
      });
    }
    for (const { to, request } of ready.syncs) {
      if (!this.connected(node.id, to)) continue;
      const req = this.roundTripSync(request);
      this.at(this.delay(), () => {
        const dest = this.nodes.get(to);
        if (!dest?.up || !this.connected(node.id, to)) return;
        const reply = this.roundTripSync(dest.core.handleSync(req, this.now));
        this.flush(dest);
        this.at(this.delay(), () => {
          // The initiator may have died or restarted meanwhile: a new process never asked.
          if (!node.up || node.core !== sender) return;
          sender.handleSyncReply(reply, this.now);
          this.flush(node);
        });
      });
    }
  }

  private roundTripPacket(p: Packet): Packet {
    if (!this.opts.keyring) return p;
    const d = decodePacket(encodePacket(p, this.opts.keyring), this.opts.keyring);
    if (!d.ok) throw new Error(`codec round trip failed: ${d.reason}`);
    return d.value;
  }

  private roundTripSync(m: SyncMessage): SyncMessage {
    if (!this.opts.keyring) return m;
    const d = decodeSync(encodeSync(m, this.opts.keyring), this.opts.keyring);
    if (!d.ok) throw new Error(`codec round trip failed: ${d.reason}`);
    return d.value;
  }

  /** Lets effects of direct calls on cores (join, setEntry, ...) go out. */
  flushAll(): void {
    for (const n of this.up()) this.flush(n);
  }

  /** Advances virtual time by `ms`, delivering due messages and ticking every live node. */
  run(ms: number): void {
    const end = this.now + ms;
    const step = this.opts.stepMs ?? 10;
    this.flushAll();
    while (this.now < end) {
      this.now = Math.min(end, this.now + step);
      while (this.queue.length > 0 && this.queue[0].at <= this.now) this.queue.shift()!.run();
      for (const n of this.up()) {
        n.core.tick(this.now);
        this.flush(n);
      }
    }
  }

  /** Runs until `done()` holds (checked every `checkMs`); returns the virtual time it took. */
  runUntil(what: string, done: () => boolean, maxMs: number, checkMs = 100): number {
    const start = this.now;
    while (!done()) {
      if (this.now - start >= maxMs) throw new Error(`simulation: ${what} not reached within ${maxMs} ms`);
      this.run(checkMs);
    }
    return this.now - start;
  }

  /** Fraction of (observer, live other) pairs where the observer sees the other alive. */
  agreement(): number {
    const live = this.up();
    let ok = 0;
    for (const n of live) {
      const alive = new Set(
        n.core
          .members()
          .filter((m) => m.state === 'alive')
          .map((m) => m.id),
      );
      for (const o of live) if (o !== n && alive.has(o.id)) ok++;
    }
    return live.length < 2 ? 1 : ok / (live.length * (live.length - 1));
  }

  /** Does every live node see every other live node as alive, and the dead ones as not alive? */
  membershipConverged(): boolean {
    const live = new Set(this.up().map((n) => n.id));
    return this.up().every((n) => {
      const alive = new Set(
        n.core
          .members()
          .filter((m) => m.state === 'alive')
          .map((m) => m.id),
      );
      return alive.size === live.size - 1 && [...live].every((id) => id === n.id || alive.has(id));
    });
  }
}
