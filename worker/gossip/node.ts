// The gossip shell: binds UDP and TCP on one address:port (7946 by default), drives the pure
// GossipCore with a real clock and timers, moves its packets over UDP and its sync exchanges over
// TCP, and turns its events into EventEmitter events. All protocol logic lives in the core; this
// file only does I/O, encryption (via the codec) and accounting of what it dropped.
import { rejected } from '../../lib/rejects.js';
import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  decodePacket,
  decodeSync,
  encodePacket,
  encodeSync,
  Keyring,
  MAX_SYNC_BYTES,
  type DropReason,
} from './codec.js';
import { GossipCore, type SyncMessage } from './core.js';
import { FrameError, frame, readFrame } from './stream.js';
import type { Member, MemberEvent, SwimConfig } from './swim/types.js';
import type { TableEventType, TablesConfig } from './tables/types.js';

const DEFAULT_GOSSIP_PORT = 7946;

export interface GossipNodeOptions {
  /** This node's id in the cluster (the swarm node id). */
  id: string;
  /** Address to bind UDP and TCP on, e.g. "0.0.0.0" or "127.0.0.1". */
  bindAddr: string;
  port?: number;
  /** Address peers reach us at (default: bindAddr). Must be a concrete address. */
  advertiseAddr?: string;
  /** Gossip keys (32 bytes each), primary first; none = plaintext (tests, single host). */
  keys?: Uint8Array[];
  swim?: Partial<SwimConfig>;
  tables?: Partial<TablesConfig>;
  /** Timer granularity for the core's tick (default 50 ms: well under the 200 ms gossip interval). */
  tickMs?: number;
  /** Bound on a whole TCP sync exchange (default 10 s, as memberlist's TCP timeout). */
  syncTimeoutMs?: number;
}

export interface TableEntry {
  table: string;
  network: string;
  key: string;
  value: Buffer;
  owner: string;
}

export interface GossipTableEvent extends TableEntry {
  type: TableEventType;
}

/** Why an input was dropped: the codec's reasons, plus a TCP sync frame over the size limit. */
export type ShellDropReason = DropReason | 'sync-too-long';

export interface GossipStats {
  packetsIn: number;
  packetsOut: number;
  syncsIn: number;
  syncsOut: number;
  /** Datagrams and sync frames dropped, by reason (bad crypto, bad shape, oversized). */
  dropped: Partial<Record<ShellDropReason, number>>;
  /** Sync exchanges that failed at the transport: refused, reset, closed early, timed out. */
  syncFailures: number;
  sendErrors: number;
}

export interface GossipNodeEvents {
  member: [MemberEvent];
  table: [GossipTableEvent];
}

export class GossipNode extends EventEmitter<GossipNodeEvents> {
  readonly keyring: Keyring;
  readonly addr: string;
  private readonly core: GossipCore;
  private readonly udp: UdpSocket;
  private readonly tcp: Server;
  private readonly timer: NodeJS.Timeout;
  private readonly syncTimeoutMs: number;
  private readonly openSockets = new Set<Socket>();
  private closed = false;
  private readonly counters: GossipStats = {
    packetsIn: 0,
    packetsOut: 0,
    syncsIn: 0,
    syncsOut: 0,
    dropped: {},
    syncFailures: 0,
    sendErrors: 0,
  };

  private constructor(opts: GossipNodeOptions, udp: UdpSocket, tcp: Server, port: number) {
    super();
    this.keyring = new Keyring(opts.keys ?? []);
    this.addr = `${opts.advertiseAddr ?? opts.bindAddr}:${port}`;
    this.syncTimeoutMs = opts.syncTimeoutMs ?? 10_000;
    this.udp = udp;
    this.tcp = tcp;
    this.core = new GossipCore({
      id: opts.id,
      addr: this.addr,
      seed: randomInt(2 ** 31),
      now: now(),
      swim: opts.swim,
      tables: opts.tables,
    });
    udp.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo));
    udp.on('error', () => this.counters.sendErrors++);
    tcp.on('connection', (sock) => void this.serveSync(sock));
    this.timer = setInterval(() => this.step((t) => this.core.tick(t)), opts.tickMs ?? 50);
  }

  /** Binds UDP and TCP on bindAddr:port (the same port for both) and starts the timers. */
  static async start(opts: GossipNodeOptions): Promise<GossipNode> {
    const port = opts.port ?? DEFAULT_GOSSIP_PORT;
    const tcp = createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, opts.bindAddr, () => resolve());
    });
    const boundPort = (tcp.address() as { port: number }).port;
    const udp = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(boundPort, opts.bindAddr, () => resolve());
      });
    } catch (err) {
      tcp.close();
      throw err;
    }
    return new GossipNode(opts, udp, tcp, boundPort);
  }

  get id(): string {
    return this.core.id;
  }

  // --- API -----------------------------------------------------------------------------------

  /** Joins the cluster through any of `seeds` ("host:port"); returns at once, membership follows. */
  join(seeds: string[]): void {
    this.step((t) => this.core.join(seeds, t));
  }

  /** Gossips a graceful leave, waits (up to timeoutMs) until it went out, then closes. */
  async leave(timeoutMs = 3_000): Promise<void> {
    this.step((t) => this.core.leave(t));
    const deadline = Date.now() + timeoutMs;
    while (!this.core.leaveSent() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await this.close();
  }

  joinNetwork(network: string): void {
    this.step((t) => this.core.joinNetwork(network, t));
  }

  leaveNetwork(network: string): void {
    this.step((t) => this.core.leaveNetwork(network, t));
  }

  /** Creates or updates an entry owned by this node. Throws if the node has not joined `network`. */
  setEntry(table: string, network: string, key: string, value: Uint8Array): void {
    const b64 = Buffer.from(value).toString('base64');
    this.step((t) => this.core.setEntry(table, network, key, b64, t));
  }

  deleteEntry(table: string, network: string, key: string): void {
    this.step((t) => this.core.deleteEntry(table, network, key, t));
  }

  /** This node: id, advertised address, current incarnation. */
  local(): { id: string; addr: string; incarnation: number } {
    return this.core.local();
  }

  /** Other members as this node sees them (alive, suspect, dead or left). */
  members(): Member[] {
    return this.core.members();
  }

  entries(table?: string, network?: string): TableEntry[] {
    return this.core.entries(table, network).map((e) => ({
      table: e.table,
      network: e.network,
      key: e.key,
      value: Buffer.from(e.value, 'base64'),
      owner: e.owner,
    }));
  }

  /** Node ids attached to `network` and alive, other than this one. */
  networkPeers(network: string): string[] {
    return this.core.networkPeers(network);
  }

  /** Whether this node's copy of the network's tables has been synced with a member (or it is alone). */
  networkSynced(network: string): boolean {
    return this.core.networkSynced(network);
  }

  stats(): GossipStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const s of this.openSockets) s.destroy();
    await Promise.all([
      new Promise<void>((r) => this.udp.close(() => r())),
      new Promise<void>((r) => this.tcp.close(() => r())),
    ]);
  }

  // --- I/O -------------------------------------------------------------------------------------

  /** Runs one core input, then carries out everything the core asked for. */
  private step(input: (now: number) => void): void {
    if (this.closed) return;
    input(now());
    this.flush();
  }

  private flush(): void {
    const ready = this.core.ready();
    for (const { to, packet } of ready.packets) {
      const target = splitAddr(to);
      if (!target) continue;
      this.counters.packetsOut++;
      this.udp.send(encodePacket(packet, this.keyring), target.port, target.host, (err) => {
        if (err) this.counters.sendErrors++;
      });
    }
    for (const { to, request } of ready.syncs) void this.startSync(to, request);
    for (const ev of ready.events) {
      if (ev.kind === 'member') {
        const { kind: _kind, ...member } = ev;
        this.emit('member', member);
      } else {
        const { kind: _kind, value, ...rest } = ev;
        this.emit('table', { ...rest, value: Buffer.from(value, 'base64') });
      }
    }
  }

  /** Counted here (stats) and in the daemon's reject log (rate-limited lines, `swarmlite info`). */
  private drop(reason: ShellDropReason, source: string, transport: 'udp' | 'tcp'): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
    rejected(`gossip-${transport}:${reason}`, source, `gossip ${transport} input dropped (${reason})`);
  }

  private streamFailed(err: unknown, source: string): void {
    if (err instanceof FrameError && err.reason === 'too-long') this.drop('sync-too-long', source, 'tcp');
    else this.counters.syncFailures++;
  }

  private onDatagram(buf: Buffer, from: { address: string; port: number }): void {
    const d = decodePacket(buf, this.keyring);
    if (!d.ok) return this.drop(d.reason, from.address, 'udp');
    this.counters.packetsIn++;
    this.step((t) => this.core.receive(d.value, t));
  }

  /** Client side of push-pull / bulk sync: send our state, merge the reply. */
  private async startSync(to: string, request: SyncMessage): Promise<void> {
    const target = splitAddr(to);
    if (!target || this.closed) return;
    const sock = connect(target.port, target.host);
    this.openSockets.add(sock);
    try {
      sock.on('error', () => undefined); // surfaced through readFrame
      sock.write(frame(encodeSync(request, this.keyring)));
      const body = await readFrame(sock, MAX_SYNC_BYTES, this.syncTimeoutMs);
      const d = decodeSync(body, this.keyring);
      if (!d.ok) return this.drop(d.reason, target.host, 'tcp');
      this.counters.syncsOut++;
      this.step((t) => this.core.handleSyncReply(d.value, t));
    } catch (err) {
      this.streamFailed(err, target.host);
    } finally {
      this.openSockets.delete(sock);
      sock.destroy();
    }
  }

  /** Server side: one request frame in, one reply frame out. */
  private async serveSync(sock: Socket): Promise<void> {
    if (this.closed) return void sock.destroy();
    this.openSockets.add(sock);
    sock.on('error', () => undefined);
    const source = sock.remoteAddress ?? 'unknown';
    try {
      const body = await readFrame(sock, MAX_SYNC_BYTES, this.syncTimeoutMs);
      const d = decodeSync(body, this.keyring);
      if (!d.ok) return this.drop(d.reason, source, 'tcp');
      this.counters.syncsIn++;
      let reply: SyncMessage | undefined;
      this.step((t) => (reply = this.core.handleSync(d.value, t)));
      if (reply) await new Promise<void>((r) => sock.end(frame(encodeSync(reply!, this.keyring)), () => r()));
    } catch (err) {
      this.streamFailed(err, source);
      // A connection that never delivered one whole frame (garbage, a port scan, a slowloris).
      if (err instanceof FrameError && err.reason !== 'too-long')
        rejected(
          `gossip-tcp:${err.reason}`,
          source,
          `gossip connection ended without a whole frame (${err.reason})`,
        );
    } finally {
      this.openSockets.delete(sock);
      sock.destroy();
    }
  }
}

function now(): number {
  return performance.now();
}

/** "host:port" (IPv4 or a name; IPv6 as "[addr]:port"). */
function splitAddr(addr: string): { host: string; port: number } | undefined {
  const i = addr.lastIndexOf(':');
  if (i <= 0) return undefined;
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) return undefined;
  return { host, port };
}
