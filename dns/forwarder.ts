// Sending what the embedded resolver does not own to the upstream resolvers, from the daemon's own
// network namespace: over UDP first, over TCP when the answer comes back truncated, upstream after
// upstream (as glibc does: the next one on a timeout, SERVFAIL, REFUSED or NOTIMP), within one time
// budget per query and a bound on queries in flight. Whatever happens, the client gets an answer
// (the upstream's, with its own id, or SERVFAIL) and no query outlives its budget.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket as TcpSocket } from 'node:net';
import type { Logger } from '../lib/log.js';
import { InFlight } from './in-flight.js';
import { errorResponse, HEADER_BYTES, RCODE, responseFlags, setId, type ParsedQuery } from './messages.js';
import type { Upstream } from '../api/task-dns.js';
import { frame, FrameDecoder } from './tcp-framing.js';

export interface ForwardStats {
  forwarded: number;
  servfail: number;
}

interface Pending {
  clientId: number;
  /** The client's query with our id in it: what every attempt sends. */
  query: Buffer;
  /** The question as a lower-cased latin1 string: an upstream's answer must carry the same one. */
  questionKey: string;
  questionEnd: number;
  rd: boolean;
  upstreams: readonly Upstream[];
  attempt: number;
  /** Where the current attempt went, and how. */
  stage: 'udp' | 'tcp';
  tcp?: TcpSocket;
  /** The truncated UDP answer, kept in case the full one is too big for the client's own limit. */
  truncated?: Buffer;
  clientLimit: number;
  overallDeadline: number;
  attemptMs: number;
  reply: (msg: Buffer) => void;
}

export interface ForwarderOptions {
  log: Logger;
  /** Budget of one query across all its attempts. */
  timeoutMs: number;
  maxInFlight: number;
  stats: ForwardStats;
}

/** Rcodes after which the next upstream is asked, if there is one. */
const TRY_NEXT = new Set<number>([RCODE.SERVFAIL, RCODE.NOTIMP, RCODE.REFUSED]);
/** glibc asks at most 3 nameservers (MAXNS); so do we. */
const MAX_UPSTREAMS = 3;

export class Forwarder {
  private readonly table: InFlight<Pending>;
  private udp4?: UdpSocket;
  private udp6?: UdpSocket;
  private sweeper?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: ForwarderOptions) {
    this.table = new InFlight<Pending>(opts.maxInFlight);
  }

  get inFlight(): number {
    return this.table.size;
  }

  /** Forwards `msg` (a validated query) and calls `reply` exactly once with the client's answer. */
  forward(
    msg: Buffer,
    q: ParsedQuery,
    upstreams: readonly Upstream[],
    clientLimit: number,
    reply: (msg: Buffer) => void,
  ): void {
    const question = msg.subarray(HEADER_BYTES, q.questionEnd);
    const fail = () => {
      this.opts.stats.servfail++;
      reply(errorResponse(q.id, q.rd, RCODE.SERVFAIL, question));
    };
    const targets = upstreams.slice(0, MAX_UPSTREAMS);
    if (this.closed || targets.length === 0) return fail();
    const now = Date.now();
    const attemptMs = Math.max(50, Math.floor(this.opts.timeoutMs / targets.length));
    const pending: Pending = {
      clientId: q.id,
      query: Buffer.from(msg),
      questionKey: question.toString('latin1').toLowerCase(),
      questionEnd: q.questionEnd,
      rd: q.rd,
      upstreams: targets,
      attempt: 0,
      stage: 'udp',
      clientLimit,
      overallDeadline: now + this.opts.timeoutMs,
      attemptMs,
      reply,
    };
    const id = this.table.add(pending, Math.min(pending.overallDeadline, now + attemptMs));
    if (id === undefined) {
      this.opts.log.debug({ inFlight: this.table.size }, 'dns: too many queries in flight, SERVFAIL');
      return fail();
    }
    setId(pending.query, id);
    this.sendUdp(id, pending);
    this.sweeper ??= setInterval(() => this.sweep(), Math.max(10, Math.min(50, attemptMs / 4)));
    this.sweeper.unref();
  }

  private socketFor(family: 4 | 6): UdpSocket {
    const existing = family === 4 ? this.udp4 : this.udp6;
    if (existing) return existing;
    const sock = createSocket(family === 4 ? 'udp4' : 'udp6');
    sock.on('message', (m, rinfo) => this.onUdpAnswer(m, rinfo.address, rinfo.port));
    sock.on('error', (err) => this.opts.log.warn({ err: err.message }, 'dns: forwarding socket error'));
    sock.bind(0);
    if (family === 4) this.udp4 = sock;
    else this.udp6 = sock;
    return sock;
  }

  private sendUdp(id: number, p: Pending): void {
    const up = p.upstreams[p.attempt]!;
    p.stage = 'udp';
    this.socketFor(up.family).send(p.query, up.port, up.host, (err) => {
      if (err && this.table.get(id) === p) this.nextAttempt(id, p, `send to ${up.host}: ${err.message}`);
    });
  }

  private onUdpAnswer(msg: Buffer, address: string, port: number): void {
    if (msg.length < HEADER_BYTES) return;
    const id = msg.readUInt16BE(0);
    const p = this.table.get(id);
    if (!p || p.stage !== 'udp') return;
    const up = p.upstreams[p.attempt]!;
    // Only the upstream asked may answer, with the question asked: anything else is late or forged.
    if (port !== up.port || address.toLowerCase() !== up.host.toLowerCase()) return;
    if (!this.sameQuestion(msg, p)) return;
    const { truncated } = responseFlags(msg);
    if (truncated) {
      p.truncated = Buffer.from(msg);
      this.sendTcp(id, p);
      return;
    }
    this.onAnswer(id, p, msg);
  }

  private sameQuestion(msg: Buffer, p: Pending): boolean {
    const { isResponse } = responseFlags(msg);
    if (!isResponse || msg.length < p.questionEnd || msg.readUInt16BE(4) !== 1) return false;
    return msg.toString('latin1', HEADER_BYTES, p.questionEnd).toLowerCase() === p.questionKey;
  }

  private sendTcp(id: number, p: Pending): void {
    const up = p.upstreams[p.attempt]!;
    p.stage = 'tcp';
    this.table.setDeadline(id, Math.min(p.overallDeadline, Date.now() + p.attemptMs));
    const sock = connect({ host: up.host, port: up.port });
    p.tcp = sock;
    const decoder = new FrameDecoder();
    sock.on('connect', () => sock.write(frame(p.query)));
    sock.on('data', (chunk) => {
      let messages: Buffer[];
      try {
        messages = decoder.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const m of messages) {
        if (m.readUInt16BE(0) !== id || this.table.get(id) !== p || p.tcp !== sock) continue;
        if (!this.sameQuestion(m, p)) continue;
        sock.destroy();
        this.onAnswer(id, p, Buffer.from(m));
        return;
      }
    });
    const failed = (why: string) => {
      if (this.table.get(id) === p && p.tcp === sock) this.nextAttempt(id, p, why);
    };
    sock.on('error', (err) => failed(`tcp to ${up.host}: ${err.message}`));
    sock.on('close', () => failed(`tcp to ${up.host}: closed before answering`));
  }

  private onAnswer(id: number, p: Pending, msg: Buffer): void {
    const { rcode } = responseFlags(msg);
    if (TRY_NEXT.has(rcode) && p.attempt + 1 < p.upstreams.length) {
      this.nextAttempt(id, p, `rcode ${rcode}`);
      return;
    }
    this.table.remove(id);
    this.dropTcp(p);
    // A full answer from TCP that a UDP client cannot take: it gets the truncated one and retries
    // over TCP itself.
    const out = msg.length > p.clientLimit && p.truncated ? p.truncated : msg;
    setId(out, p.clientId);
    this.opts.stats.forwarded++;
    p.reply(out);
  }

  private nextAttempt(id: number, p: Pending, why: string): void {
    this.dropTcp(p);
    p.truncated = undefined;
    const now = Date.now();
    if (p.attempt + 1 >= p.upstreams.length || now >= p.overallDeadline) {
      this.table.remove(id);
      this.opts.log.debug({ why, upstream: p.upstreams[p.attempt]?.host }, 'dns: upstreams failed, SERVFAIL');
      this.opts.stats.servfail++;
      p.reply(errorResponse(p.clientId, p.rd, RCODE.SERVFAIL, p.query.subarray(HEADER_BYTES, p.questionEnd)));
      return;
    }
    p.attempt++;
    this.table.setDeadline(id, Math.min(p.overallDeadline, now + p.attemptMs));
    this.sendUdp(id, p);
  }

  private dropTcp(p: Pending): void {
    const sock = p.tcp;
    p.tcp = undefined;
    sock?.destroy();
  }

  private sweep(): void {
    for (const { id, value } of this.table.expired(Date.now())) this.nextAttempt(id, value, 'timeout');
    if (this.table.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Every waiting client gets SERVFAIL; the sockets close. */
  close(): void {
    this.closed = true;
    for (const id of this.table.ids()) {
      const p = this.table.remove(id)!;
      this.dropTcp(p);
      this.opts.stats.servfail++;
      p.reply(errorResponse(p.clientId, p.rd, RCODE.SERVFAIL, p.query.subarray(HEADER_BYTES, p.questionEnd)));
    }
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.udp4?.close();
    this.udp6?.close();
    this.udp4 = this.udp6 = undefined;
  }
}
