// The embedded DNS of a node: one resolver in the daemon serving the 127.0.0.11:53 sockets of every
// task (task-sockets.ts opens them inside each task's namespace). A query is answered from the
// names of the networks its task is attached to (answers.ts, from indexes rebuilt per network when
// its endpoint records change), or forwarded upstream (forwarder.ts). Nothing a client sends can
// throw out of here: bad packets are answered FORMERR or dropped, and counted.
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket as TcpSocket } from 'node:net';
import type { Logger } from '../lib/log.js';
import { errorMessage } from '../lib/errors.js';
import { rejected } from '../lib/rejects.js';
import type { EndpointSource } from '../worker/endpoints/records.js';
import { View } from './answers.js';
import { Forwarder } from './forwarder.js';
import { errorResponse, HEADER_BYTES, RCODE, readQuery, sizeLimit, type ParsedQuery } from './messages.js';
import {
  buildNetworkIndex,
  EMPTY_INDEX,
  ownedNames,
  SwarmOwnedNames,
  type NetworkIndex,
  type OwnedNames,
} from './name-index.js';
import { parseUpstream, type Upstream } from '../api/task-dns.js';
import { frame, FrameDecoder } from './tcp-framing.js';
import { openTaskSockets, type OpenOptions } from './task-sockets.js';

export { resolvConf } from './resolv-conf.js';

export interface DnsTask {
  taskId: string;
  netnsPath: string;
  networkIds: string[];
  /** `--dns`: replace the host's upstreams for this task when non-empty. */
  nameservers: string[];
}

export interface EmbeddedDnsOptions {
  source: EndpointSource;
  log: Logger;
  /**
   * Where names that are not the swarm's go for a task without its own `--dns`. The daemon passes
   * none and gives every task its list (from its --resolv-conf); nothing is read behind its back.
   */
  upstreams: string[];
  /** Budget of one forwarded query across its attempts (default 2000 ms), then SERVFAIL. */
  timeoutMs?: number;
  /** Forwarded queries waiting for an upstream at once (default 1024); more get SERVFAIL. */
  maxInFlight?: number;
  /** A TCP client must complete each message within this long, or is disconnected (default 5000 ms). */
  tcpIdleMs?: number;
  /** Open TCP connections per task (default 16); more are closed at once. */
  maxTcpConnections?: number;
  /** Where the helper binds in each namespace (tests and benches only; default 127.0.0.11:53). */
  bind?: Pick<OpenOptions, 'address' | 'port'>;
}

export interface DnsStats {
  /** Messages received (UDP datagrams and TCP messages). */
  queries: number;
  /** Answered from this node's names (records, NODATA or NXDOMAIN). */
  answered: number;
  /** Upstream answers relayed to clients. */
  forwarded: number;
  servfail: number;
  /** FORMERR or NOTIMP answers. */
  formerr: number;
  /** Messages and connections dropped unanswered (no header, responses, broken TCP framing, limits). */
  dropped: number;
}

interface ServedTask {
  task: DnsTask;
  udp: UdpSocket;
  tcp: Server;
  connections: Set<TcpSocket>;
  upstreams: readonly Upstream[];
  view?: View;
}

/** Forwarded TCP queries outstanding per connection before it is read no further. */
const TCP_PIPELINE = 16;

export class EmbeddedDns {
  private readonly log: Logger;
  private readonly hostUpstreams: Upstream[];
  private readonly forwarder: Forwarder;
  private readonly tasks = new Map<string, ServedTask>();
  private readonly attaching = new Map<string, Promise<void>>();
  private readonly indexes = new Map<string, NetworkIndex>();
  private readonly dirty = new Set<string>();
  private owned: OwnedNames = new Set<string>();
  /** Every service name of the swarm (lower case), as the managers last listed them. */
  private swarmServices: ReadonlySet<string> = new Set();
  private views = new Map<string, View>();
  private readonly counters: DnsStats = {
    queries: 0,
    answered: 0,
    forwarded: 0,
    servfail: 0,
    formerr: 0,
    dropped: 0,
  };
  private readonly unsubscribe: () => void;
  private readonly tcpIdleMs: number;
  private readonly maxTcpConnections: number;
  private closed = false;

  constructor(private readonly opts: EmbeddedDnsOptions) {
    this.log = opts.log.child({ component: 'dns' });
    this.hostUpstreams = this.parseUpstreams(opts.upstreams, 'host');
    this.tcpIdleMs = opts.tcpIdleMs ?? 5000;
    this.maxTcpConnections = opts.maxTcpConnections ?? 16;
    this.forwarder = new Forwarder({
      log: this.log,
      timeoutMs: opts.timeoutMs ?? 2000,
      maxInFlight: opts.maxInFlight ?? 1024,
      stats: this.counters,
    });
    // Records change often and in bursts: mark the network, rebuild on the next query that needs it.
    this.unsubscribe = opts.source.onChange((networkId) => this.markDirty(networkId));
  }

  async attachTask(task: DnsTask): Promise<void> {
    if (this.closed) throw new Error('dns: the resolver is closed');
    const served = this.tasks.get(task.taskId);
    if (served) return this.updateTask(task.taskId, task.networkIds);
    const inProgress = this.attaching.get(task.taskId);
    if (inProgress) return inProgress;
    let attach: Promise<void> | undefined = undefined;
    attach = (async () => {
      const sockets = await openTaskSockets(task.netnsPath, this.opts.bind ?? {});
      // Detached (or closed) while the helper ran: the task no longer wants them.
      if (this.closed || this.attaching.get(task.taskId) !== attach) {
        sockets.udp.close();
        sockets.tcp.close();
        return;
      }
      this.serve(task, sockets.udp, sockets.tcp);
    })().finally(() => {
      if (this.attaching.get(task.taskId) === attach) this.attaching.delete(task.taskId);
    });
    this.attaching.set(task.taskId, attach);
    return attach;
  }

  detachTask(taskId: string): void {
    this.attaching.delete(taskId);
    const t = this.tasks.get(taskId);
    if (!t) return;
    this.tasks.delete(taskId);
    t.udp.close();
    t.tcp.close();
    for (const c of t.connections) c.destroy();
  }

  updateTask(taskId: string, networkIds: string[]): void {
    const t = this.tasks.get(taskId);
    if (!t) return;
    t.task = { ...t.task, networkIds: [...networkIds] };
    for (const n of networkIds) if (!this.indexes.has(n)) this.markDirty(n);
    t.view = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    const pending = [...this.attaching.values()];
    this.attaching.clear();
    for (const id of [...this.tasks.keys()]) this.detachTask(id);
    this.forwarder.close();
    // A helper still running is killed by its own timeout; its sockets are closed when it hands them over.
    await Promise.allSettled(pending);
  }

  /**
   * The swarm's service names, from the managers: a name of any of them that the task's networks do
   * not answer is NXDOMAIN on every node, also on one with no sandbox of the service's network.
   */
  setSwarmServices(names: Iterable<string>): void {
    const next = new Set([...names].map((n) => n.toLowerCase()));
    if (next.size === this.swarmServices.size && [...next].every((n) => this.swarmServices.has(n))) return;
    this.swarmServices = next;
    this.recomputeOwned();
  }

  stats(): DnsStats {
    return { ...this.counters };
  }

  private parseUpstreams(addrs: readonly string[], whose: string): Upstream[] {
    const out: Upstream[] = [];
    for (const a of addrs) {
      const up = parseUpstream(a);
      if (up) out.push(up);
      else
        this.log.warn(
          { nameserver: a },
          `dns: ignoring ${whose} nameserver (not an IP address, or 127.0.0.11 itself)`,
        );
    }
    return out;
  }

  private markDirty(networkId: string): void {
    this.dirty.add(networkId);
  }

  /** The indexes of changed networks rebuilt, ownership recomputed, every view dropped. */
  private refresh(): void {
    for (const id of this.dirty) {
      try {
        const idx = buildNetworkIndex(this.opts.source.records(id));
        if (idx.names.size === 0 && idx.ptr.size === 0) this.indexes.set(id, EMPTY_INDEX);
        else this.indexes.set(id, idx);
      } catch (err) {
        this.log.error({ networkId: id, err: errorMessage(err) }, 'dns: cannot index network records');
      }
    }
    this.dirty.clear();
    this.recomputeOwned();
  }

  private recomputeOwned(): void {
    this.owned = new SwarmOwnedNames(ownedNames(this.indexes.values()), this.swarmServices);
    this.views = new Map();
    for (const t of this.tasks.values()) t.view = undefined;
  }

  private viewOf(t: ServedTask): View {
    if (this.dirty.size > 0) this.refresh();
    if (t.view) return t.view;
    const key = t.task.networkIds.join('\0');
    let view = this.views.get(key);
    if (!view) {
      view = new View(
        t.task.networkIds.map((n) => this.indexes.get(n) ?? EMPTY_INDEX),
        this.owned,
      );
      this.views.set(key, view);
    }
    t.view = view;
    return view;
  }

  private serve(task: DnsTask, udp: UdpSocket, tcp: Server): void {
    const own = this.parseUpstreams(task.nameservers, `task ${task.taskId}`);
    const t: ServedTask = {
      task: { ...task, networkIds: [...task.networkIds] },
      udp,
      tcp,
      connections: new Set(),
      upstreams: own.length > 0 ? own : this.hostUpstreams,
    };
    for (const n of task.networkIds) if (!this.indexes.has(n)) this.markDirty(n);
    this.tasks.set(task.taskId, t);
    // The hot path: no closure unless the query is forwarded; send errors go to the 'error' listener.
    udp.on('message', (msg, rinfo) => {
      const out = this.handle(t, msg, 'udp');
      if (Buffer.isBuffer(out)) udp.send(out, rinfo.port, rinfo.address);
      else if (isQuery(out))
        this.forward(t, msg, out, 'udp', (late) => udp.send(late, rinfo.port, rinfo.address));
    });
    udp.on('error', (err) =>
      this.log.warn({ taskId: task.taskId, err: err.message }, 'dns: udp socket error'),
    );
    tcp.on('connection', (sock) => this.serveConnection(t, sock));
    tcp.on('error', (err) =>
      this.log.warn({ taskId: task.taskId, err: err.message }, 'dns: tcp listener error'),
    );
  }

  private serveConnection(t: ServedTask, sock: TcpSocket): void {
    sock.on('error', ignore);
    if (t.connections.size >= this.maxTcpConnections || !this.tasks.has(t.task.taskId)) {
      this.counters.dropped++;
      rejected(
        'dns-tcp:too-many-connections',
        `task ${t.task.taskId}`,
        'DNS TCP connection over the limit closed',
      );
      sock.destroy();
      return;
    }
    t.connections.add(sock);
    sock.setNoDelay(true);
    const decoder = new FrameDecoder();
    let outstanding = 0;
    // Reset by complete messages only: a client trickling bytes (slowloris) is cut off all the same.
    let idle = setTimeout(() => sock.destroy(), this.tcpIdleMs);
    sock.on('close', () => {
      clearTimeout(idle);
      t.connections.delete(sock);
    });
    const write = (out: Buffer) => {
      if (!sock.destroyed) sock.write(frame(out));
    };
    sock.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = decoder.push(chunk);
      } catch (err) {
        this.counters.dropped++;
        rejected('dns-tcp:framing', `task ${t.task.taskId}`, `DNS TCP stream cut: ${errorMessage(err)}`);
        sock.destroy();
        return;
      }
      for (const msg of messages) {
        clearTimeout(idle);
        idle = setTimeout(() => sock.destroy(), this.tcpIdleMs);
        const out = this.handle(t, msg, 'tcp');
        if (Buffer.isBuffer(out)) write(out);
        else if (isQuery(out)) {
          if (++outstanding >= TCP_PIPELINE) sock.pause();
          this.forward(t, msg, out, 'tcp', (late) => {
            write(late);
            if (--outstanding < TCP_PIPELINE && sock.isPaused()) sock.resume();
          });
        }
      }
    });
  }

  private forward(
    t: ServedTask,
    msg: Buffer,
    q: ParsedQuery,
    transport: 'udp' | 'tcp',
    reply: (out: Buffer) => void,
  ) {
    try {
      this.forwarder.forward(msg, q, t.upstreams, sizeLimit(q, transport), reply);
    } catch (err) {
      this.log.error({ taskId: t.task.taskId, err: errorMessage(err) }, 'dns: forwarding failed');
      this.counters.servfail++;
      reply(errorResponse(q.id, q.rd, RCODE.SERVFAIL, msg.subarray(HEADER_BYTES, q.questionEnd)));
    }
  }

  /**
   * The answer to one message when this node knows it; the parsed query when it is to be forwarded;
   * undefined when it is dropped unanswered.
   */
  private handle(t: ServedTask, msg: Buffer, transport: 'udp' | 'tcp'): Buffer | ParsedQuery | undefined {
    this.counters.queries++;
    try {
      const read = readQuery(msg);
      if (read.kind === 'drop') {
        this.counters.dropped++;
        rejected(
          `dns-${transport}:unparsable`,
          `task ${t.task.taskId}`,
          'not a DNS query (dropped unanswered)',
        );
        return undefined;
      }
      if (read.kind === 'error') {
        this.counters.formerr++;
        rejected(
          `dns-${transport}:malformed`,
          `task ${t.task.taskId}`,
          `malformed DNS query (answered rcode ${read.rcode})`,
        );
        return errorResponse(read.id, read.rd, read.rcode);
      }
      const out = this.viewOf(t).answer(msg, read, transport);
      if (!out) return read;
      this.counters.answered++;
      return out;
    } catch (err) {
      // A bug, not a client's fault: the client still gets an answer and the daemon keeps serving.
      this.log.error({ taskId: t.task.taskId, err: errorMessage(err) }, 'dns: query failed');
      if (msg.length < HEADER_BYTES) return undefined;
      this.counters.servfail++;
      return errorResponse(msg.readUInt16BE(0), (msg[2]! & 1) === 1, RCODE.SERVFAIL);
    }
  }
}

const ignore = () => undefined;
const isQuery = (x: Buffer | ParsedQuery | undefined): x is ParsedQuery =>
  x !== undefined && !Buffer.isBuffer(x);
