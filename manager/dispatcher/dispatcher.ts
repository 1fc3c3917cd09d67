// The dispatcher (leader only): one session stream per node. A session marks its node ready, tells
// it the managers (leader first) and the heartbeat period, and is re-sent whenever either or the
// node itself changes; a node that stops beating is marked down. On losing leadership every session
// ends with a redirect to the new leader.
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { GrpcError, requireCaller } from '../ca/authz.js';
import { notLeaderError, type LeaderInfo } from '../leadership.js';
import { nodeToWire, type WireNodeDescription } from '../../api/node-wire.js';
import type { Logger } from '../../lib/log.js';
import type { Store } from '../store/index.js';
import type { Network, Node, SwarmObjects, Task, TaskStatus } from '../../api/objects/index.js';
import { HEARTBEAT_DEFAULTS, HeartbeatTracker } from './heartbeats.js';
import { NodeAssignments } from './assignments.js';
import { checkReport, StatusBatcher, type StatusReport } from './task-status.js';
import { NodeWorkRelay, type ExecOutput } from './node-work.js';
import { serveExecCall, type ExecRequest, type ExecSession, type Sink } from '../controlapi/streams.js';

/** Heartbeat periods a new leader waits for nodes that were connected to its predecessor. */
export const NEW_LEADER_GRACE_PERIODS = 1.5;

export interface DispatcherDeps {
  store: Store<SwarmObjects>;
  leader: LeaderInfo;
  caCertPem: () => string;
  isRemoved: (nodeId: string) => boolean;
  heartbeatPeriodMs: () => number;
  /** Opens an exec session on the leader (the Manager's exec). */
  exec: (req: ExecRequest, sink: Sink<ExecOutput>) => ExecSession;
  log: Logger;
  now?: () => number;
}

interface LiveSession {
  nodeId: string;
  sessionId: string;
  call: grpc.ServerWritableStream<unknown, unknown>;
  lastSent: string;
}

interface AssignmentStream {
  sessionId: string;
  call: grpc.ServerWritableStream<unknown, unknown>;
  assignments: NodeAssignments;
  flushQueued: boolean;
}

interface SessionRequest {
  description?: WireNodeDescription;
  addr?: string;
}

export class Dispatcher {
  private tracker: HeartbeatTracker;
  private readonly sessions = new Map<string, LiveSession>();
  private readonly assignmentStreams = new Map<string, AssignmentStream>();
  private readonly statusBatcher: StatusBatcher;
  /** Log reads and exec sessions relayed to nodes (the control API's streaming calls use it). */
  readonly relay = new NodeWorkRelay();
  private expiryTimer: NodeJS.Timeout | undefined;
  private watchStop: (() => void) | undefined;
  private leading = false;
  private readonly now: () => number;

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.statusBatcher = new StatusBatcher(deps.store);
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
    const sub = this.deps.store.watch({ kinds: ['node', 'cluster', 'task', 'network', 'service'] });
    let stopped = false;
    this.watchStop = () => {
      stopped = true;
      sub.close();
    };
    void (async () => {
      try {
        for await (const event of sub) {
          if (stopped) break;
          if (event.type === 'object' && event.kind === 'task')
            this.routeTask(event.object as Task, event.oldObject as Task | undefined, event.op === 'delete');
          else if (event.type === 'restored') this.resyncAssignments();
          // Services matter to sessions by name only (DNS ownership), and an update cannot rename one.
          else if (event.type === 'object' && event.kind === 'service' && event.op === 'update') continue;
          else this.pushUpdates();
        }
      } catch (err) {
        if (!stopped)
          this.deps.log.warn({ err }, 'dispatcher store watch ended; sessions will resync on reconnect');
        // Without the watch, assignments would go stale: workers reconnect and get full sets again.
        if (!stopped) this.resyncAssignments();
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
    for (const a of this.assignmentStreams.values()) a.call.emit('error', notLeaderError(this.deps.leader));
    this.assignmentStreams.clear();
    this.relay.closeAll(notLeaderError(this.deps.leader));
  }

  /** The caller's node id, when its certificate is valid and `sessionId` is its live session. */
  private sessionCaller(call: Parameters<typeof requireCaller>[0], sessionId: string | undefined): string {
    if (!this.leading) throw notLeaderError(this.deps.leader);
    const caller = requireCaller(call, this.deps.caCertPem(), {
      roles: ['manager', 'worker'],
      isRemoved: this.deps.isRemoved,
    });
    if (sessionId !== undefined && this.sessions.get(caller.nodeId)?.sessionId !== sessionId) {
      throw new GrpcError(grpc.status.NOT_FOUND, 'session is unknown or superseded: open a new one');
    }
    return caller.nodeId;
  }

  // ------------------------------------------------------------------------------- assignments

  private routeTask(task: Task, old: Task | undefined, deleted: boolean): void {
    for (const nodeId of new Set([task.nodeId, old?.nodeId ?? ''])) {
      const stream = nodeId ? this.assignmentStreams.get(nodeId) : undefined;
      if (stream && stream.assignments.note(task, deleted)) this.queueFlush(stream);
    }
  }

  private queueFlush(stream: AssignmentStream): void {
    if (stream.flushQueued) return;
    stream.flushQueued = true;
    // Everything one commit changed goes out as one message.
    setImmediate(() => {
      stream.flushQueued = false;
      if (this.assignmentStreams.get(stream.assignments.nodeId) !== stream) return;
      const changes = stream.assignments.take();
      if (!changes) return;
      const networkIds = new Set(changes.tasks.flatMap((t) => t.networks.map((n) => n.networkId)));
      const networks = this.deps.store.view((tx) =>
        [...networkIds].flatMap((id) => tx.get('network', id) ?? []),
      );
      stream.call.write({
        full: changes.full,
        // The wire Task and Network mirror the store's shapes field for field (proto/objects.proto).
        tasks: changes.tasks,
        removed: changes.removed,
        networks,
      });
    });
  }

  /** The store was replaced (snapshot) or the watch lost: every node starts over with a full set. */
  private resyncAssignments(): void {
    for (const a of this.assignmentStreams.values()) a.call.end();
    this.assignmentStreams.clear();
  }

  private assignmentsStream(call: grpc.ServerWritableStream<{ sessionId: string }, unknown>): void {
    try {
      if (!this.leading) throw notLeaderError(this.deps.leader);
      const caller = requireCaller(call, this.deps.caCertPem(), {
        roles: ['manager', 'worker'],
        isRemoved: this.deps.isRemoved,
      });
      const session = this.sessions.get(caller.nodeId);
      if (!session || session.sessionId !== call.request.sessionId) {
        throw new GrpcError(grpc.status.NOT_FOUND, 'session is unknown or superseded: open a new one');
      }
      const tasks = this.deps.store.view((tx) => tx.find('task', 'node', caller.nodeId));
      const stream: AssignmentStream = {
        sessionId: session.sessionId,
        call,
        assignments: new NodeAssignments(caller.nodeId, tasks),
        flushQueued: false,
      };
      this.assignmentStreams.get(caller.nodeId)?.call.end();
      this.assignmentStreams.set(caller.nodeId, stream);
      call.on('cancelled', () => {
        if (this.assignmentStreams.get(caller.nodeId) === stream)
          this.assignmentStreams.delete(caller.nodeId);
      });
      this.queueFlush(stream);
    } catch (err) {
      call.emit('error', err);
    }
  }

  private updateTaskStatus(
    call: grpc.ServerUnaryCall<
      { sessionId: string; updates: { taskId: string; status: TaskStatus }[] },
      unknown
    >,
    callback: grpc.sendUnaryData<unknown>,
  ): void {
    try {
      if (!this.leading) throw notLeaderError(this.deps.leader);
      const caller = requireCaller(call, this.deps.caCertPem(), {
        roles: ['manager', 'worker'],
        isRemoved: this.deps.isRemoved,
      });
      if (this.sessions.get(caller.nodeId)?.sessionId !== call.request.sessionId) {
        throw new GrpcError(grpc.status.NOT_FOUND, 'session is unknown or superseded: open a new one');
      }
      const reports: StatusReport[] = [];
      for (const u of call.request.updates ?? []) {
        const problem = checkReport(u.status);
        if (problem) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `task ${u.taskId}: ${problem}`);
        reports.push({ nodeId: caller.nodeId, taskId: String(u.taskId), status: u.status });
      }
      this.statusBatcher.submit(reports).then(
        () => callback(null, {}),
        (err: unknown) =>
          callback(new GrpcError(grpc.status.UNAVAILABLE, `status not recorded: ${String(err)}`)),
      );
    } catch (err) {
      callback(err as grpc.ServiceError);
    }
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
      networkKeys: this.networkKeys(),
      ingressNetwork: this.ingressNetwork() ?? null,
      ingressAddress: node.ingressAddress ?? '',
      serviceNames: this.deps.store.view((tx) => tx.list('service').map((sv) => sv.spec.name)).sort(),
    };
  }

  /** The ingress network once allocated (every node builds its ingress sandbox on it). */
  private ingressNetwork(): Network | undefined {
    return this.deps.store.view((tx) => tx.list('network').find((n) => n.spec.ingress && n.vni > 0));
  }

  /** The gossip keys, primary (highest Lamport time) first. */
  private networkKeys(): Buffer[] {
    const c = this.deps.store.view((tx) => tx.list('cluster')[0]);
    return (c?.encryptionKeys ?? [])
      .filter((k) => k.subsystem === 'gossip')
      .sort((a, b) => b.lamportTime - a.lamportTime)
      .map((k) => Buffer.from(k.key, 'base64'));
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
    const key = JSON.stringify([
      msg.managers,
      node.spec,
      node.role,
      msg.networkKeys.map((k) => k.toString('hex')),
      msg.ingressAddress,
      msg.ingressNetwork && [msg.ingressNetwork.id, msg.ingressNetwork.vni, msg.ingressNetwork.ipam],
      msg.serviceNames,
    ]);
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
    for (const nodeId of expired) {
      this.sessions.get(nodeId)?.call.end();
      this.sessions.delete(nodeId);
      this.assignmentStreams.get(nodeId)?.call.end();
      this.assignmentStreams.delete(nodeId);
    }
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
      Assignments: (call: grpc.ServerWritableStream<{ sessionId: string }, unknown>) =>
        this.assignmentsStream(call),
      Subscriptions: (call: grpc.ServerWritableStream<{ sessionId: string }, unknown>) => {
        try {
          this.relay.attachNode(this.sessionCaller(call, call.request.sessionId), call);
        } catch (err) {
          call.emit('error', err);
        }
      },
      PublishLogs: (
        call: Parameters<NodeWorkRelay['publishLogs']>[1],
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        try {
          this.relay.publishLogs(this.sessionCaller(call, undefined), call, callback);
        } catch (err) {
          callback(err as grpc.ServiceError);
        }
      },
      ExecAttach: (call: Parameters<NodeWorkRelay['execAttach']>[1]) => {
        try {
          this.relay.execAttach(this.sessionCaller(call, undefined), call);
        } catch (err) {
          call.emit('error', err);
        }
      },
      Exec: (call: Parameters<typeof serveExecCall>[0]) =>
        serveExecCall(
          call,
          (req, sink) => this.deps.exec(req, sink),
          (err) => (err instanceof GrpcError ? err : new GrpcError(grpc.status.UNKNOWN, String(err))),
          () => void this.sessionCaller(call, undefined),
        ),
      UpdateTaskStatus: (
        call: grpc.ServerUnaryCall<
          { sessionId: string; updates: { taskId: string; status: TaskStatus }[] },
          unknown
        >,
        callback: grpc.sendUnaryData<unknown>,
      ) => this.updateTaskStatus(call, callback),
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
