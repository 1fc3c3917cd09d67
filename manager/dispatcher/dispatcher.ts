// The dispatcher (leader only): one session stream per node. A session marks its node ready, tells
// it the managers (leader first) and the heartbeat period, and is re-sent whenever either or the
// node itself changes; a node that stops beating is marked down. On losing leadership every session
// ends with a redirect to the new leader. What to send and when a session ends is decided by
// DispatcherSessions (sessions.ts); this is its shell: the gRPC streams, the store, the timers.
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { GrpcError, peerHost, requireCaller } from '../ca/authz.js';
import { notLeaderError, type LeaderInfo } from '../leadership.js';
import type { Logger } from '../../lib/log.js';
import { rejected } from '../../lib/rejects.js';
import type { DispatcherHandlers } from '../../api/rpc.js';
import type { Store } from '../store/index.js';
import { isEncryptedNetwork, type Node, type SwarmObjects, type Task } from '../../api/objects/index.js';
import {
  DispatcherSessions,
  type DispatcherAction,
  type EndReason,
  encryptedOverlayNodes,
  type SessionSnapshot,
} from './sessions.js';
import { NodeAssignments } from './assignments.js';
import { attachNetwork, detachNetwork } from './attachments.js';
import {
  checkReport,
  foreignReports,
  reportedStatus,
  StatusBatcher,
  type StatusReport,
} from './task-status.js';
import { NodeWorkRelay, type ExecOutput } from './node-work.js';
import { serveExecCall, type ExecRequest, type ExecSession, type Sink } from '../controlapi/streams.js';

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

/** A node's Session stream, as DispatcherHandlers types it (SessionRequest in, SessionMessage out). */
type SessionStream = Parameters<DispatcherHandlers['Session']>[0];
/** A node's Assignments stream (AssignmentsRequest in, AssignmentsMessage out). */
type AssignmentsCall = Parameters<DispatcherHandlers['Assignments']>[0];

interface SessionCall {
  sessionId: string;
  call: SessionStream;
}

interface AssignmentStream {
  sessionId: string;
  call: AssignmentsCall;
  assignments: NodeAssignments;
  flushQueued: boolean;
}

export class Dispatcher {
  private readonly sessions = new DispatcherSessions();
  /** The session streams, by node: only the live session's stream is written to. */
  private readonly calls = new Map<string, SessionCall>();
  private readonly assignmentStreams = new Map<string, AssignmentStream>();
  private readonly statusBatcher: StatusBatcher;
  /** Log reads and exec sessions relayed to nodes (the control API's streaming calls use it). */
  readonly relay = new NodeWorkRelay();
  private expiryTimer: NodeJS.Timeout | undefined;
  private sessionPushQueued = false;
  private watchStop: (() => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.statusBatcher = new StatusBatcher(deps.store);
  }

  private get leading(): boolean {
    return this.sessions.leading;
  }

  /** Called when this manager becomes leader: every known node gets a grace period to (re)connect. */
  startLeading(): void {
    if (this.leading) return;
    const nodes = this.deps.store.view((tx) => tx.list('node'));
    this.sessions.lead(nodes, this.deps.heartbeatPeriodMs(), this.now());
    // The check runs after the loop's I/O (setImmediate): after a stall the timers come first, and the
    // heartbeats waiting in the sockets must be read before anyone is judged on them.
    this.expiryTimer = setInterval(() => setImmediate(() => void this.expire()), this.expiryCheckMs());
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
          if (event.type === 'object' && event.kind === 'task') {
            const task = event.object as Task;
            const old = event.oldObject as Task | undefined;
            this.routeTask(task, old, event.op === 'delete');
            // A task on an encrypted overlay may bring its node into the key set, or take it out.
            if (this.onEncryptedNetwork(task) || (old && this.onEncryptedNetwork(old)))
              this.queueSessionPush();
          } else if (event.type === 'restored') this.resyncAssignments();
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
    clearInterval(this.expiryTimer);
    this.watchStop?.();
    this.carryOut(this.sessions.unlead());
  }

  private snapshot(): SessionSnapshot {
    return this.deps.store.view((tx) => {
      const networks = tx.list('network');
      return {
        nodes: tx.list('node'),
        clusters: tx.list('cluster'),
        networks,
        serviceNames: tx.list('service').map((sv) => sv.spec.name),
        // The tasks are read only when there is an encrypted network at all.
        encryptedNodes: networks.some((n) => isEncryptedNetwork(n.spec))
          ? encryptedOverlayNodes(networks, tx.list('task'))
          : new Set<string>(),
      };
    });
  }

  private carryOut(actions: DispatcherAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'send': {
          const c = this.calls.get(action.nodeId);
          if (c?.sessionId === action.sessionId) c.call.write(action.message);
          break;
        }
        case 'end':
          this.endSession(action.nodeId, action.sessionId, action.reason);
          break;
        case 'end-all': {
          const err = notLeaderError(this.deps.leader);
          for (const c of this.calls.values()) c.call.emit('error', err);
          this.calls.clear();
          for (const a of this.assignmentStreams.values()) a.call.emit('error', err);
          this.assignmentStreams.clear();
          this.relay.closeAll(err);
          break;
        }
        case 'mark-down':
          void this.markDown(action.nodeIds);
          break;
      }
    }
  }

  private endSession(nodeId: string, sessionId: string, reason: EndReason): void {
    const c = this.calls.get(nodeId);
    if (c && (c.sessionId === sessionId || reason === 'expired')) {
      this.calls.delete(nodeId);
      if (reason === 'removed') {
        c.call.emit(
          'error',
          new GrpcError(grpc.status.PERMISSION_DENIED, `node ${nodeId} was removed from the swarm`),
        );
      } else c.call.end();
    }
    if (reason === 'expired') {
      this.assignmentStreams.get(nodeId)?.call.end();
      this.assignmentStreams.delete(nodeId);
    }
  }

  /** The caller's node id, when its certificate is valid and `sessionId` is its live session. */
  private sessionCaller(call: Parameters<typeof requireCaller>[0], sessionId: string | undefined): string {
    if (!this.leading) throw notLeaderError(this.deps.leader);
    const caller = requireCaller(call, this.deps.caCertPem(), {
      roles: ['manager', 'worker'],
      isRemoved: this.deps.isRemoved,
    });
    if (sessionId !== undefined && !this.sessions.isCurrent(caller.nodeId, sessionId)) {
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

  private assignmentsStream(call: AssignmentsCall): void {
    try {
      if (!this.leading) throw notLeaderError(this.deps.leader);
      const caller = requireCaller(call, this.deps.caCertPem(), {
        roles: ['manager', 'worker'],
        isRemoved: this.deps.isRemoved,
      });
      const sessionId = call.request.sessionId;
      if (!this.sessions.isCurrent(caller.nodeId, sessionId)) {
        throw new GrpcError(grpc.status.NOT_FOUND, 'session is unknown or superseded: open a new one');
      }
      const tasks = this.deps.store.view((tx) => tx.find('task', 'node', caller.nodeId));
      const stream: AssignmentStream = {
        sessionId,
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

  private updateTaskStatus(...[call, callback]: Parameters<DispatcherHandlers['UpdateTaskStatus']>): void {
    try {
      if (!this.leading) throw notLeaderError(this.deps.leader);
      const caller = requireCaller(call, this.deps.caCertPem(), {
        roles: ['manager', 'worker'],
        isRemoved: this.deps.isRemoved,
      });
      if (!this.sessions.isCurrent(caller.nodeId, call.request.sessionId)) {
        throw new GrpcError(grpc.status.NOT_FOUND, 'session is unknown or superseded: open a new one');
      }
      const reports: StatusReport[] = [];
      for (const u of call.request.updates ?? []) {
        const problem = checkReport(u.status);
        if (problem || !u.status)
          throw new GrpcError(grpc.status.INVALID_ARGUMENT, `task ${u.taskId}: ${problem}`);
        reports.push({ nodeId: caller.nodeId, taskId: String(u.taskId), status: reportedStatus(u.status) });
      }
      const foreign = this.deps.store.view((tx) =>
        foreignReports(reports, (id) => tx.get('task', id)?.nodeId),
      );
      if (foreign.length > 0) throw this.refuseForeignReports(call, caller.nodeId, foreign);
      this.statusBatcher.submit(reports).then(
        () => callback(null, {}),
        (err: unknown) =>
          callback(new GrpcError(grpc.status.UNAVAILABLE, `status not recorded: ${String(err)}`)),
      );
    } catch (err) {
      callback(err as grpc.ServiceError);
    }
  }

  /**
   * A node reporting tasks it does not hold: refused, counted and logged (rate-limited, with the peer)
   * through the daemon's reject log, as every refused call on the manager port is.
   */
  private refuseForeignReports(
    call: { getPeer(): string },
    nodeId: string,
    foreign: StatusReport[],
  ): GrpcError {
    const shown = foreign.slice(0, 3).map((r) => r.taskId);
    const more = foreign.length > shown.length ? ` and ${foreign.length - shown.length} more` : '';
    const err = new GrpcError(
      grpc.status.PERMISSION_DENIED,
      `node ${nodeId} may report only its own tasks: task ${shown.join(', ')}${more} is not assigned to it`,
    );
    let peer = 'unknown';
    try {
      peer = peerHost(call.getPeer());
    } catch {
      // the connection is gone: still refused and counted
    }
    rejected('grpc:foreign-task-status', peer, err.message);
    return err;
  }

  private onEncryptedNetwork(task: Task): boolean {
    if (task.networks.length === 0) return false;
    return this.deps.store.view((tx) =>
      task.networks.some((a) => {
        const n = tx.get('network', a.networkId);
        return n !== undefined && isEncryptedNetwork(n.spec);
      }),
    );
  }

  /** Session updates for task changes, one per loop turn (a scale-up writes tasks in bursts). */
  private queueSessionPush(): void {
    if (this.sessionPushQueued) return;
    this.sessionPushQueued = true;
    setImmediate(() => {
      this.sessionPushQueued = false;
      this.pushUpdates();
    });
  }

  private pushUpdates(): void {
    if (this.leading) this.carryOut(this.sessions.updates(this.snapshot()));
  }

  private expiryCheckMs(): number {
    return Math.max(50, this.sessions.periodMs / 4);
  }

  private async expire(): Promise<void> {
    if (!this.leading || !this.deps.leader.isLeader()) return;
    this.carryOut(this.sessions.expire(this.now(), this.expiryCheckMs()));
  }

  private async markDown(nodeIds: string[]): Promise<void> {
    this.deps.log.info({ nodes: nodeIds }, 'heartbeats missed: marking nodes down');
    await this.setState(nodeIds, 'down', 'heartbeat failure').catch((err) => {
      this.deps.log.warn({ err }, 'could not mark nodes down; retrying on the next expiry check');
      this.sessions.markDownFailed(nodeIds, this.now());
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

  handlers(): DispatcherHandlers {
    return {
      Session: (call) => void this.session(call),
      Assignments: (call) => this.assignmentsStream(call),
      Subscriptions: (call) => {
        try {
          this.relay.attachNode(this.sessionCaller(call, call.request.sessionId), call);
        } catch (err) {
          call.emit('error', err);
        }
      },
      PublishLogs: (call, callback) => {
        try {
          this.relay.publishLogs(this.sessionCaller(call, undefined), call, callback);
        } catch (err) {
          callback(err as grpc.ServiceError);
        }
      },
      ExecAttach: (call) => {
        try {
          this.relay.execAttach(this.sessionCaller(call, undefined), call);
        } catch (err) {
          call.emit('error', err);
        }
      },
      Exec: (call) =>
        serveExecCall(
          call,
          (req, sink) => this.deps.exec(req, sink),
          (err) => (err instanceof GrpcError ? err : new GrpcError(grpc.status.UNKNOWN, String(err))),
          () => void this.sessionCaller(call, undefined),
        ),
      UpdateTaskStatus: (call, callback) => this.updateTaskStatus(call, callback),
      AttachNetwork: (call, callback) => {
        (async () => {
          const nodeId = this.sessionCaller(call, call.request.sessionId);
          const a = await attachNetwork(this.deps.store, call.request.network, {
            nodeId,
            containerId: call.request.containerId,
            aliases: call.request.aliases ?? [],
          });
          // The wire Network mirrors the store's shape field for field (proto/objects.proto).
          return { attachmentId: a.attachmentId, network: a.network, address: a.address };
        })().then(
          (r) => callback(null, r),
          (err: unknown) => callback(err as grpc.ServiceError),
        );
      },
      DetachNetwork: (call, callback) => {
        (async () => {
          const nodeId = this.sessionCaller(call, call.request.sessionId);
          await detachNetwork(this.deps.store, nodeId, call.request.attachmentId);
          return {};
        })().then(
          (r) => callback(null, r),
          (err: unknown) => callback(err as grpc.ServiceError),
        );
      },
      Heartbeat: (call, callback) => {
        try {
          if (!this.leading) throw notLeaderError(this.deps.leader);
          const caller = requireCaller(call, this.deps.caCertPem(), {
            roles: ['manager', 'worker'],
            isRemoved: this.deps.isRemoved,
          });
          if (!this.sessions.beat(caller.nodeId, call.request.sessionId, this.now())) {
            throw new GrpcError(grpc.status.NOT_FOUND, 'session is unknown or superseded: open a new one');
          }
          callback(null, { periodMs: this.sessions.periodMs });
        } catch (err) {
          callback(err as grpc.ServiceError);
        }
      },
    };
  }

  private async session(call: SessionStream): Promise<void> {
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
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
        if (this.calls.get(caller.nodeId)?.call === call) this.calls.delete(caller.nodeId);
        this.sessions.streamClosed(caller.nodeId, sessionId);
      });
      await this.setState([caller.nodeId], 'ready', '', extra);
      // Leadership or the caller may have gone while the write was in flight.
      if (cancelled) return;
      if (!this.leading) throw notLeaderError(this.deps.leader);
      const actions = this.sessions.registered(caller.nodeId, sessionId, this.now(), this.snapshot());
      // The older stream is ended first (a superseded 'end'), then this one takes its place.
      const [superseded, rest] = [
        actions.filter((a) => a.type === 'end'),
        actions.filter((a) => a.type !== 'end'),
      ];
      this.carryOut(superseded);
      this.calls.set(caller.nodeId, { sessionId, call });
      this.carryOut(rest);
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
