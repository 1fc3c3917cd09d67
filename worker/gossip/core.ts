// The pure gossip node: SWIM membership and the networkdb tables behind one stepping interface, in
// the style of a Raft RawNode. Callers feed it packets, sync exchanges and ticks with the current
// time, then drain ready(): packets to send, TCP sync exchanges to start, and events. It wires the
// two machines together: table messages ride in the same UDP packets as SWIM's (cluster-wide network
// attachments piggyback like membership news), a member SWIM declares dead or left loses its table
// entries everywhere, and a node that refutes its own death re-asserts its table state.
import { Rng } from './rng.js';
import { Swim } from './swim/swim.js';
import {
  defaultSwimConfig,
  type Member,
  type MemberEvent,
  type MemberSnapshot,
  type SwimConfig,
  type SwimMessage,
} from './swim/types.js';
import { Tables, type NetworkEntries } from './tables/tables.js';
import {
  defaultTablesConfig,
  type Attachment,
  type EntryRecord,
  type TableEvent,
  type TableMessage,
  type TablesConfig,
} from './tables/types.js';
import { jsonSize } from './transmit-queue.js';

export type WireMessage = SwimMessage | TableMessage;

/** One UDP datagram's content. `addr` is the sender's advertised gossip address. */
export interface Packet {
  from: string;
  addr: string;
  msgs: WireMessage[];
}

/** A TCP exchange: push-pull carries membership and attachments, bulk-sync the tables of networks. */
export interface SyncMessage {
  kind: 'push-pull' | 'bulk-sync';
  from: string;
  addr: string;
  join: boolean;
  members?: MemberSnapshot[];
  attachments?: Attachment[];
  networks?: NetworkEntries[];
}

export type GossipEvent = ({ kind: 'member' } & MemberEvent) | ({ kind: 'table' } & TableEvent);

export interface Ready {
  packets: { to: string; packet: Packet }[];
  syncs: { to: string; request: SyncMessage }[];
  events: GossipEvent[];
}

export interface GossipCoreOptions {
  id: string;
  addr: string;
  seed: number;
  now: number;
  swim?: Partial<SwimConfig>;
  tables?: Partial<TablesConfig>;
}

/** Bytes of packet framing around the messages ({"from":..,"addr":..,"msgs":[...]}). */
const PACKET_OVERHEAD = 64;

export class GossipCore {
  readonly id: string;
  readonly addr: string;
  readonly swimConfig: SwimConfig;
  private readonly swim: Swim;
  private readonly tables: Tables;
  private out: Ready = { packets: [], syncs: [], events: [] };
  private now: number;

  constructor(opts: GossipCoreOptions) {
    this.id = opts.id;
    this.addr = opts.addr;
    this.now = opts.now;
    this.swimConfig = { ...defaultSwimConfig, ...opts.swim };
    const tablesConfig = { ...defaultTablesConfig, ...opts.tables };
    const rng = new Rng(opts.seed);
    this.swim = new Swim(
      opts.id,
      opts.addr,
      this.swimConfig,
      rng,
      {
        send: (to, msgs) => this.send(to, msgs),
        pushPull: (to, join) => this.out.syncs.push({ to, request: this.pushPullMessage(join) }),
        event: (ev) => this.onMemberEvent(ev),
        refutedDeath: () => this.tables.reassert(this.now),
      },
      opts.now,
    );
    this.tables = new Tables(
      opts.id,
      tablesConfig,
      rng,
      {
        send: (toNode, msgs) => {
          const addr = this.swim.table.members.get(toNode)?.addr;
          if (addr) this.send(addr, msgs);
        },
        bulkSync: (toNode, networks) => {
          const addr = this.swim.table.members.get(toNode)?.addr;
          if (!addr) return;
          const request = this.header('bulk-sync', false);
          this.out.syncs.push({
            to: addr,
            request: { ...request, networks: this.tables.bulkPayload(networks) },
          });
        },
        event: (ev) => this.out.events.push({ kind: 'table', ...ev }),
      },
      {
        isAlive: (node) => {
          const s = this.swim.table.members.get(node)?.state;
          return s === 'alive' || s === 'suspect';
        },
        clusterSize: () => this.swim.table.liveCount(),
      },
      opts.now,
    );
  }

  // --- inputs -------------------------------------------------------------------------------

  join(seeds: string[], now: number): void {
    this.now = now;
    this.swim.join(seeds);
  }

  leave(now: number): void {
    this.now = now;
    this.swim.leave();
  }

  joinNetwork(network: string, now: number): void {
    this.now = now;
    this.tables.joinNetwork(network, now);
  }

  leaveNetwork(network: string, now: number): void {
    this.now = now;
    this.tables.leaveNetwork(network, now);
  }

  /** `value` is base64 (the shell converts bytes). Throws if this node is not attached to `network`. */
  setEntry(table: string, network: string, key: string, value: string, now: number): void {
    this.now = now;
    this.tables.setEntry(table, network, key, value, now);
  }

  deleteEntry(table: string, network: string, key: string, now: number): void {
    this.now = now;
    this.tables.deleteEntry(table, network, key, now);
  }

  receive(packet: Packet, now: number): void {
    this.now = now;
    for (const msg of packet.msgs) {
      if (msg.t === 'net' || msg.t === 'entry') this.tables.receive(msg, now);
      else this.swim.receive(msg, packet.addr, now);
    }
  }

  /** Serves a peer's sync request (the TCP server side) and returns the reply to send back. */
  handleSync(req: SyncMessage, now: number): SyncMessage {
    this.now = now;
    if (req.kind === 'push-pull') {
      const reply = this.pushPullMessage(false);
      this.mergeSync(req, now);
      return reply;
    }
    const wanted = (req.networks ?? []).map((n) => n.network);
    const reply = { ...this.header('bulk-sync', false), networks: this.tables.bulkPayload(wanted) };
    this.mergeSync(req, now);
    return reply;
  }

  /** The reply to a sync this node started. */
  handleSyncReply(reply: SyncMessage, now: number): void {
    this.now = now;
    this.mergeSync(reply, now);
  }

  tick(now: number): void {
    this.now = now;
    this.swim.tick(now);
    this.tables.tick(now);
  }

  ready(): Ready {
    const out = this.out;
    this.out = { packets: [], syncs: [], events: [] };
    return out;
  }

  // --- queries ------------------------------------------------------------------------------

  members(): Member[] {
    return this.swim.members();
  }

  /** This node as peers should see it. */
  local(): { id: string; addr: string; incarnation: number } {
    return { id: this.id, addr: this.addr, incarnation: this.swim.table.incarnation };
  }

  incarnation(): number {
    return this.swim.table.incarnation;
  }

  awareness(): number {
    return this.swim.awareness.score;
  }

  networks(): string[] {
    return this.tables.networks();
  }

  /** Nodes (other than this one) attached to `network` and alive. */
  networkPeers(network: string): string[] {
    return this.tables.peersOf(network);
  }

  /** See Tables.isSynced. */
  networkSynced(network: string): boolean {
    return this.tables.isSynced(network);
  }

  /** Live entries, optionally of one table and/or network. */
  entries(table?: string, network?: string): EntryRecord[] {
    return this.tables.store
      .all()
      .filter(
        (e) =>
          !e.deleted &&
          (table === undefined || e.table === table) &&
          (network === undefined || e.network === network),
      );
  }

  /** Whether a graceful leave has been gossiped its full retransmit count. */
  leaveSent(): boolean {
    return this.swim.leaveSent();
  }

  // --- wiring -------------------------------------------------------------------------------

  private header(kind: SyncMessage['kind'], join: boolean): SyncMessage {
    return { kind, from: this.id, addr: this.addr, join };
  }

  private pushPullMessage(join: boolean): SyncMessage {
    return {
      ...this.header('push-pull', join),
      members: this.swim.snapshot(),
      attachments: this.tables.attachments(),
    };
  }

  private mergeSync(m: SyncMessage, now: number): void {
    if (m.members) this.swim.mergeRemote(m.members, now);
    if (m.attachments) this.tables.mergeAttachments(m.attachments, now);
    if (m.networks) this.tables.mergeBulk(m.networks, now);
  }

  /** Adds piggybacked broadcasts (membership first, then network attachments) up to the budget. */
  private send(to: string, msgs: WireMessage[]): void {
    let budget =
      this.swimConfig.packetBudget - PACKET_OVERHEAD - msgs.reduce((n, m) => n + jsonSize(m) + 1, 0);
    const swimNews = this.swim.takeBroadcasts(budget);
    budget -= swimNews.reduce((n, m) => n + jsonSize(m) + 1, 0);
    const all = [...msgs, ...swimNews, ...this.tables.takeClusterBroadcasts(budget)];
    if (all.length === 0) return; // a gossip round with nothing to say
    this.out.packets.push({ to, packet: { from: this.id, addr: this.addr, msgs: all } });
  }

  private onMemberEvent(ev: MemberEvent): void {
    this.out.events.push({ kind: 'member', ...ev });
    if (ev.type === 'dead' || ev.type === 'leave') this.tables.nodeGone(ev.id, this.now);
    else if (ev.type === 'join') {
      this.tables.nodeBack(ev.id, this.now);
      // A member we just heard of may have announced its networks before it knew of us, and we ours
      // before we knew of it: those announcements are piggybacked a bounded number of times and may
      // never reach the other. One push-pull (membership and attachments, both ways) settles it now
      // rather than at the next periodic one (30 s); the attachments it brings start the tables' syncs.
      const addr = this.swim.table.members.get(ev.id)?.addr;
      if (addr) this.out.syncs.push({ to: addr, request: this.pushPullMessage(false) });
    }
  }
}
