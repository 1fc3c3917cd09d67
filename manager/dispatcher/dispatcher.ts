// The dispatcher (leader only): one session stream per node. A session marks its node ready, tells
// it the managers (leader first) and the heartbeat period, and is re-sent whenever either or the
// node itself changes; a node that stops beating is marked down. On losing leadership every session
// ends with a redirect to the new leader.
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { GrpcError, requireCaller } from '../ca/authz.js';
import { notLeaderError, type LeaderInfo } from '../leadership.js';
import { nodeToWire, type WireNodeDescription } from '../controlapi/convert.js';
import type { Logger } from '../../lib/log.js';
import type { Node, Store, SwarmObjects } from '../store/index.js';
import { HEARTBEAT_DEFAULTS, HeartbeatTracker } from './heartbeats.js';

/** Heartbeat periods a new leader waits for nodes that were connected to its predecessor. */
export const NEW_LEADER_GRACE_PERIODS = 1.5;

export interface DispatcherDeps {
  store: Store<SwarmObjects>;
  leader: LeaderInfo;
  caCertPem: () => string;
  isRemoved: (nodeId: string) => boolean;
  heartbeatPeriodMs: () => number;
  log: Logger;
  now?: () => number;
}

interface LiveSession {
  nodeId: string;
  sessionId: string;
  call: grpc.ServerWritableStream<unknown, unknown>;
  lastSent: string;
}

interface SessionRequest {
  description?: WireNodeDescription;
  addr?: string;
}

export class Dispatcher {
  private tracker: HeartbeatTracker;
  private readonly sessions = new Map<string, LiveSession>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private watchStop: (() => void) | undefined;
  private leading = false;
  private readonly now: () => number;

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.tracker = new HeartbeatTracker({ ...HEARTBEAT_DEFAULTS, periodMs: deps.heartbeatPeriodMs() });
  }

  /** Called when this manager becomes leader: every known node gets a grace period to (re)connect. */
  startLeading(): void {
    if (this.leading) return;
    this.leading = true;
    this.tracker = new HeartbeatTracker({ ...HEARTBEAT_DEFAULTS, periodMs: this.deps.heartbeatPeriodMs() });
    // Nodes had sessions with the old leader, whose last beats this leader never saw: each gets a
    // short grace to reconnect here. Live nodes retry every 500 ms at most and are sent on to the
    // leader by any follower, so they are back well within it; a node that died with the old leader
    // is down an election plus the grace after its death (about 2 + 1.5 s with the defaults).
    const now = this.now();
    const grace = this.tracker.periodMs * NEW_LEADER_GRACE_PERIODS;
    for (const node of this.deps.store.view((tx) => tx.list('node'))) {
      if (!node.removed && node.status.state !== 'down')
        this.tracker.open(node.id, 'awaiting-session', now, grace);
    }
    this.expiryTimer = setInterval(() => void this.expire(), Math.max(50, this.tracker.periodMs / 4));
    this.expiryTimer.unref();
    const sub = this.deps.store.watch({ kinds: ['node', 'cluster'] });
    let stopped = false;
    this.watchStop = () => {
      stopped = true;
      sub.close();
    };
    void (async () => {
      try {
        for await (const _event of sub) {
          if (stopped) break;
          this.pushUpdates();
        }
      } catch (err) {
        if (!stopped)
          this.deps.log.warn({ err }, 'dispatcher store watch ended; sessions will resync on reconnect');
      }
    })();
  }

  /** Called when leadership is lost: sessions are sent to the new leader. */
  stopLeading(): void {
    if (!this.leading) return;
    this.leading = false;
    clearInterval(this.expiryTimer);
    this.watchStop?.();
    for (const s of this.sessions.values()) s.call.emit('error', notLeaderError(this.deps.leader));
    this.sessions.clear();
  }

  private managers(): { addr: string; nodeId: string; leader: boolean }[] {
    return this.deps.store.view((tx) =>
      tx
        .list('node')
        .filter((n) => n.managerStatus && n.role === 'manager' && !n.removed)
        .map((n) => ({ addr: n.managerStatus!.addr, nodeId: n.id, leader: n.managerStatus!.leader }))
        .sort((a, b) => Number(b.leader) - Number(a.leader) || a.addr.localeCompare(b.addr)),
    );
  }

  private message(s: LiveSession, node: Node) {
    return {
      sessionId: s.sessionId,
      heartbeatPeriodMs: this.tracker.periodMs,
      managers: this.managers(),
      node: nodeToWire(node),
    };
  }

  private send(s: LiveSession): void {
    const node = this.deps.store.view((tx) => tx.get('node', s.nodeId));
    if (!node || node.removed) {
      s.call.emit(
        'error',
        new GrpcError(grpc.status.PERMISSION_DENIED, `node ${s.nodeId} was removed from the swarm`),
      );
      this.sessions.delete(s.nodeId);
      return;
    }
    const msg = this.message(s, node);
    // Only what a node acts on is compared: volatile fields (versions, timestamps) would resend constantly.
    const key = JSON.stringify([msg.managers, node.spec, node.role]);
    if (key === s.lastSent) return;
    s.lastSent = key;
    s.call.write(msg);
  }

  private pushUpdates(): void {
    for (const s of this.sessions.values()) this.send(s);
  }

  private async expire(): Promise<void> {
    if (!this.leading || !this.deps.leader.isLeader()) return;
    const expired = this.tracker.takeExpired(this.now());
    if (expired.length === 0) return;
    for (const nodeId of expired) this.sessions.get(nodeId)?.call.end();
    for (const nodeId of expired) this.sessions.delete(nodeId);
    this.deps.log.info({ nodes: expired }, 'heartbeats missed: marking nodes down');
    await this.setState(expired, 'down', 'heartbeat failure').catch((err) => {
      this.deps.log.warn({ err }, 'could not mark nodes down; retrying on the next expiry check');
      // Back into the tracker, already expired, so the next check tries again.
      for (const nodeId of expired) this.tracker.open(nodeId, 'expired', this.now(), 0);
    });
  }

  private async setState(
    nodeIds: string[],
    state: Node['status']['state'],
    message: string,
    extra?: Partial<Node>,
  ) {
    await this.deps.store.update((tx) => {
      for (const id of nodeIds) {
        const n = tx.get('node', id);
        if (!n || n.removed) continue;
        tx.update('node', {
          ...n,
          ...extra,
          status: { ...n.status, ...(extra?.status ?? {}), state, message },
        });
      }
    });
  }

  handlers(): grpc.UntypedServiceImplementation {
    return {
      Session: (call: grpc.ServerWritableStream<SessionRequest, unknown>) => void this.session(call),
      Heartbeat: (
        call: grpc.ServerUnaryCall<{ sessionId: string }, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        try {
          if (!this.leading) throw notLeaderError(this.deps.leader);
          const caller = requireCaller(call, this.deps.caCertPem(), {
            roles: ['manager', 'worker'],
            isRemoved: this.deps.isRemoved,
          });
          if (!this.tracker.beat(caller.nodeId, call.request.sessionId, this.now())) {
            throw new GrpcError(grpc.status.NOT_FOUND, 'session is unknown or superseded: open a new one');
          }
          callback(null, { periodMs: this.tracker.periodMs });
        } catch (err) {
          callback(err as grpc.ServiceError);
        }
      },
    };
  }

  private async session(call: grpc.ServerWritableStream<SessionRequest, unknown>): Promise<void> {
    try {
      if (!this.leading) throw notLeaderError(this.deps.leader);
      const caller = requireCaller(call, this.deps.caCertPem(), {
        roles: ['manager', 'worker'],
        isRemoved: this.deps.isRemoved,
      });
      const sessionId = randomBytes(12).toString('hex');
      const d = call.request.description;
      const extra: Partial<Node> = { status: { state: 'ready', message: '', addr: call.request.addr ?? '' } };
      if (d) {
        extra.description = {
          hostname: d.hostname,
          platform: { os: d.os, arch: d.arch },
          resources: { nanoCpus: Number(d.nanoCpus), memoryBytes: Number(d.memoryBytes) },
          engineVersion: d.engineVersion,
        };
      }
      const live: LiveSession = { nodeId: caller.nodeId, sessionId, call, lastSent: '' };
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
        if (this.sessions.get(caller.nodeId) === live) this.sessions.delete(caller.nodeId);
        // The heartbeat deadline, not the stream, decides when the node is down: a reconnect may be quick.
      });
      await this.setState([caller.nodeId], 'ready', '', extra);
      // Leadership or the caller may have gone while the write was in flight.
      if (cancelled) return;
      if (!this.leading) throw notLeaderError(this.deps.leader);
      this.sessions.get(caller.nodeId)?.call.end(); // a newer session replaces an older one
      this.sessions.set(caller.nodeId, live);
      this.tracker.open(caller.nodeId, sessionId, this.now());
      this.send(live);
    } catch (err) {
      call.emit(
        'error',
        err instanceof GrpcError || (err as grpc.ServiceError).code !== undefined
          ? err
          : new GrpcError(grpc.status.INTERNAL, String(err)),
      );
    }
  }
}
