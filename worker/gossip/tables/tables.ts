// networkdb-style tables: entries keyed (table, network, key), written by their owner node with a
// Lamport time, gossiped only among the nodes attached to that network, bulk-synced on network join
// and periodically, and removed everywhere when their owner dies or leaves. Pure: stepped with
// messages and tick(now); effects go through TablesEffects; randomness from the injected Rng.
//
// The owner is the authority on its own records. When it hears a record about itself that
// contradicts its state and is at least as new (an attachment or entry from before a restart, or
// after it was wrongly declared dead and its entries tombstoned), it re-asserts its truth with a
// newer ltime, the way a SWIM member refutes a suspicion with a newer incarnation.
import type { Rng } from '../rng.js';
import { jsonSize, retransmitLimit, TransmitQueue } from '../transmit-queue.js';
import { NetworkMembership } from './networks.js';
import { EntryStore } from './store.js';
import {
  entryId,
  type Attachment,
  type EntryRecord,
  type TableMessage,
  type TablesConfig,
  type TablesEffects,
} from './types.js';

/** 32 KiB of base64 (24 KiB of bytes): one entry always fits a datagram with room to spare. */
const MAX_VALUE_BASE64 = 32 * 1024;

export interface TablesEnv {
  /** SWIM believes `node` alive (or only suspect). */
  isAlive(node: string): boolean;
  /** Live cluster size, for the retransmit limit of cluster-wide attachment news. */
  clusterSize(): number;
}

interface OwnNetwork {
  nextBulkSyncAt: number;
  initialSyncPending: boolean;
  /** A bulk sync with a member has brought its table here (what a restarted node must wait for). */
  synced: boolean;
}

export interface NetworkEntries {
  network: string;
  entries: EntryRecord[];
}

export class Tables {
  private clock = 0;
  readonly store: EntryStore;
  readonly nets = new NetworkMembership();
  private readonly own = new Map<string, OwnNetwork>();
  private readonly clusterQueue = new TransmitQueue<TableMessage>();
  private readonly netQueues = new Map<string, TransmitQueue<TableMessage>>();
  private nextGossipAt: number;

  constructor(
    readonly selfId: string,
    private readonly cfg: TablesConfig,
    private readonly rng: Rng,
    private readonly fx: TablesEffects,
    private readonly env: TablesEnv,
    now: number,
  ) {
    this.store = new EntryStore(cfg.reapMs);
    this.nextGossipAt = now + rng.int(cfg.gossipIntervalMs);
  }

  get lamport(): number {
    return this.clock;
  }

  networks(): string[] {
    return [...this.own.keys()];
  }

  /** Live members of `network` other than this node, by SWIM's view. */
  peersOf(network: string): string[] {
    return this.nets.membersOf(network).filter((n) => n !== this.selfId && this.env.isAlive(n));
  }

  private witness(ltime: number): void {
    this.clock = Math.max(this.clock, ltime);
  }

  joinNetwork(network: string, now: number): void {
    if (this.own.has(network)) return;
    this.own.set(network, {
      nextBulkSyncAt: now + this.cfg.bulkSyncIntervalMs,
      initialSyncPending: true,
      synced: false,
    });
    this.netQueues.set(network, new TransmitQueue());
    this.announce(network, true, now);
  }

  leaveNetwork(network: string, now: number): void {
    if (!this.own.has(network)) return;
    this.own.delete(network);
    this.netQueues.delete(network);
    this.announce(network, false, now);
    // We stop hearing this network's gossip: drop (tombstone) what we hold so consumers clean up.
    for (const ev of this.store.tombstoneWhere((e) => e.network === network, now)) this.fx.event(ev);
  }

  private announce(network: string, joined: boolean, now: number): void {
    const a: Attachment = { node: this.selfId, network, joined, ltime: ++this.clock };
    this.nets.apply(a, now);
    const msg: TableMessage = { t: 'net', ...a };
    this.clusterQueue.enqueue(`${a.node}\u0000${network}`, msg, jsonSize(msg));
  }

  setEntry(table: string, network: string, key: string, value: string, now: number): void {
    // Entries travel in single UDP datagrams (< 64 KiB); table rows are small (an IP, a MAC, a VTEP).
    if (value.length > MAX_VALUE_BASE64)
      throw new Error(`table value too large (${value.length} base64 chars)`);
    this.write({ table, network, key, value, owner: this.selfId, ltime: 0, deleted: false }, now);
  }

  deleteEntry(table: string, network: string, key: string, now: number): void {
    const cur = this.store.get(table, network, key);
    if (!cur || cur.deleted) return;
    if (cur.owner !== this.selfId)
      throw new Error(`entry ${table}/${network}/${key} is owned by ${cur.owner}`);
    this.write({ ...cur, deleted: true }, now);
  }

  private write(rec: EntryRecord, now: number): void {
    if (!this.own.has(rec.network)) throw new Error(`not attached to network ${rec.network}`);
    const stamped = { ...rec, ltime: ++this.clock };
    const res = this.store.apply(stamped, now);
    if (res.event) this.fx.event(res.event);
    this.enqueueEntry(stamped);
    // Our own write (a task started or stopped here) goes out on the next tick rather than at the
    // next 200 ms round: DNS and load balancers elsewhere wait on its first hop. Bursts still go out
    // as one round per tick, and relayed events keep the regular interval.
    this.nextGossipAt = Math.min(this.nextGossipAt, now);
  }

  private enqueueEntry(rec: EntryRecord): void {
    const msg: TableMessage = { t: 'entry', ...rec };
    this.netQueues.get(rec.network)?.enqueue(entryId(rec.table, rec.network, rec.key), msg, jsonSize(msg));
  }

  receive(msg: TableMessage, now: number): void {
    if (msg.t === 'net') this.applyAttachment(strip(msg), now, true);
    else this.applyEntry(stripEntry(msg), now, true);
  }

  private applyAttachment(a: Attachment, now: number, regossip: boolean): void {
    this.witness(a.ltime);
    if (a.node === this.selfId) {
      const mine = this.nets.get(a.network, this.selfId);
      const joined = this.own.has(a.network);
      if (a.ltime >= (mine?.ltime ?? 0) && a.joined !== joined) this.announce(a.network, joined, now);
      return;
    }
    const change = this.nets.apply(a, now);
    if (change === undefined) return;
    if (regossip) {
      const msg: TableMessage = { t: 'net', ...a };
      this.clusterQueue.enqueue(`${a.node}\u0000${a.network}`, msg, jsonSize(msg));
    }
    if (change === 'joined' && this.own.has(a.network)) {
      // Both sides may have written entries while neither knew of the other (joining at the same
      // time): gossip from before the join did not reach it, and its initial sync may have gone to a
      // peer that was as new as itself. One two-way bulk sync closes that gap at once, instead of at the
      // next periodic sync (30 s). Joins are rare, so this costs one TCP exchange per peer per network.
      this.fx.bulkSync(a.node, [a.network]);
    }
    if (change === 'left') {
      const gone = (e: EntryRecord) => e.owner === a.node && e.network === a.network;
      for (const ev of this.store.tombstoneWhere(gone, now)) this.fx.event(ev);
    }
  }

  private applyEntry(rec: EntryRecord, now: number, regossip: boolean): void {
    this.witness(rec.ltime);
    if (!this.own.has(rec.network)) return; // not our network: we must not hold or spread it
    if (rec.owner === this.selfId) return this.defendOwnEntry(rec, now);
    // A live write from a node we know to be out of the network is a straggler from before it left.
    const att = this.nets.get(rec.network, rec.owner);
    if (!rec.deleted && att && (!att.joined || !this.nets.membersOf(rec.network).includes(rec.owner))) return;
    const res = this.store.apply(rec, now);
    if (res.event) this.fx.event(res.event);
    if (res.applied && regossip) this.enqueueEntry(rec);
  }

  private defendOwnEntry(rec: EntryRecord, now: number): void {
    const mine = this.store.get(rec.table, rec.network, rec.key);
    if (mine && rec.ltime < mine.ltime) return;
    if (!mine && rec.deleted) {
      this.store.apply(rec, now); // a tombstone of ours from before a restart: keep it, it is true
      return;
    }
    const same = mine && mine.deleted === rec.deleted && (mine.deleted || mine.value === rec.value);
    if (same) return;
    // Ours is the truth: live if we hold it live, otherwise a tombstone newer than the stray record.
    const truth = mine ?? { ...rec, deleted: true };
    const stamped = { ...truth, ltime: ++this.clock };
    const res = this.store.apply(stamped, now);
    if (res.event) this.fx.event(res.event);
    this.enqueueEntry(stamped);
    // Our own write (a task started or stopped here) goes out on the next tick rather than at the
    // next 200 ms round: DNS and load balancers elsewhere wait on its first hop. Bursts still go out
    // as one round per tick, and relayed events keep the regular interval.
    this.nextGossipAt = Math.min(this.nextGossipAt, now);
  }

  /** SWIM declared `node` dead or left: it leaves every network and its entries go, here. */
  nodeGone(node: string, now: number): void {
    this.nets.markGone(node, now);
    for (const ev of this.store.tombstoneWhere((e) => e.owner === node, now)) this.fx.event(ev);
  }

  /**
   * SWIM says `node` came back from dead (it refuted, perhaps without ever hearing of its death).
   * We tombstoned its entries; a bulk sync with it carries those tombstones to it, it defends its
   * live entries with newer ltimes (owner authority), and they spread back through gossip.
   */
  nodeBack(node: string, now: number): void {
    const shared = this.nets.unmarkGone(node, now).filter((n) => this.own.has(n));
    if (shared.length > 0) this.fx.bulkSync(node, shared);
  }

  /**
   * This node was declared dead (and refuted): every other node tombstoned our entries and marked
   * us out of our networks. Re-assert both with newer Lamport times.
   */
  reassert(now: number): void {
    for (const network of this.own.keys()) {
      this.announce(network, true, now);
      for (const e of this.store.ofNetwork(network)) {
        if (e.owner === this.selfId && !e.deleted) this.write(e, now);
      }
    }
  }

  attachments(): Attachment[] {
    return this.nets.snapshot();
  }

  mergeAttachments(list: Attachment[], now: number): void {
    for (const a of list) this.applyAttachment(a, now, false);
  }

  /** Full tables of those of `networks` this node is attached to. */
  bulkPayload(networks: string[]): NetworkEntries[] {
    return networks
      .filter((n) => this.own.has(n))
      .map((n) => ({ network: n, entries: this.store.ofNetwork(n) }));
  }

  /**
   * Whether this node holds the network's table as its members do: a bulk sync has come in, or there is
   * no other member to learn from. Until then an empty table may only mean "not heard yet".
   */
  isSynced(network: string): boolean {
    const o = this.own.get(network);
    return !!o && (o.synced || this.peersOf(network).length === 0);
  }

  mergeBulk(list: NetworkEntries[], now: number): void {
    for (const { network, entries } of list) {
      const o = this.own.get(network);
      if (o) o.synced = true;
      for (const e of entries) if (e.network === network) this.applyEntry(e, now, false);
    }
  }

  takeClusterBroadcasts(budget: number): TableMessage[] {
    return this.clusterQueue.take(budget, retransmitLimit(this.cfg.retransmitMult, this.env.clusterSize()));
  }

  tick(now: number): void {
    if (now >= this.nextGossipAt) {
      this.nextGossipAt = now + this.cfg.gossipIntervalMs;
      this.gossip();
    }
    for (const [network, o] of this.own) {
      if (!o.initialSyncPending && now < o.nextBulkSyncAt) continue;
      const peer = this.rng.sample(this.peersOf(network), 1)[0];
      if (!peer) continue; // alone in the network (so far): sync when someone shows up
      o.initialSyncPending = false;
      o.nextBulkSyncAt = now + this.cfg.bulkSyncIntervalMs;
      this.fx.bulkSync(peer, [network]);
    }
    this.store.reap(now);
    this.nets.reap(now, this.cfg.reapMs);
  }

  private gossip(): void {
    for (const [network, queue] of this.netQueues) {
      if (queue.length === 0) continue;
      const peers = this.peersOf(network);
      const limit = retransmitLimit(this.cfg.retransmitMult, peers.length + 1);
      for (const peer of this.rng.sample(peers, this.cfg.gossipNodes)) {
        const msgs = queue.take(this.cfg.packetBudget, limit, 1, true);
        if (msgs.length === 0) break;
        this.fx.send(peer, msgs);
      }
    }
  }
}

function strip(m: Attachment): Attachment {
  return { node: m.node, network: m.network, joined: m.joined, ltime: m.ltime };
}

function stripEntry(m: EntryRecord): EntryRecord {
  const { table, network, key, value, owner, ltime, deleted } = m;
  return { table, network, key, value, owner, ltime, deleted };
}
