// The node's session with the leader's dispatcher: register, learn the managers and the heartbeat
// period, beat, and on any failure move on to the next manager. Only the leader runs a dispatcher;
// a follower answers FAILED_PRECONDITION naming the leader, which is where the session goes next.
import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { serviceClient, unary } from '../../lib/grpc.js';
import type { WireNodeDescription } from '../../api/node-wire.js';
import type { Logger } from '../../lib/log.js';
import type { Network, Task, TaskStatus } from '../../api/objects/index.js';

/** The dispatcher's assignment message (proto/dispatcher.proto): tasks as the store has them. */
export interface AssignmentsMessage {
  full: boolean;
  tasks: Task[];
  removed: string[];
  /** The networks those tasks attach to (absent in the in-process loopback sessions). */
  networks?: Network[];
}

/** A manager's request for logs or an exec session (proto/dispatcher.proto Subscription). */
export interface NodeWorkRequest {
  id: string;
  close: boolean;
  logs?: { taskIds: string[]; follow: boolean; tail: number } | null;
  exec?: { taskId: string; argv: string[]; tty: boolean; stdin: boolean } | null;
}

export interface ExecInputMessage {
  stdin?: Buffer;
  stdinEof?: boolean;
  signal?: string;
}

export interface TaskStatusUpdate {
  taskId: string;
  status: TaskStatus;
}

/** What a node tells the dispatcher about itself. */
export type SessionNodeDescription = WireNodeDescription;

export interface SessionManager {
  addr: string;
  nodeId: string;
  leader: boolean;
}

export interface SessionMessage {
  sessionId: string;
  heartbeatPeriodMs: number;
  managers: SessionManager[];
  node: { id: string; role: string; spec: { role: string; availability: string } } | null;
  /** Gossip encryption keys, primary first. */
  networkKeys?: Buffer[];
  /** The ingress network and this node's address on it (CIDR), once allocated. */
  ingressNetwork?: Network | null;
  ingressAddress?: string;
  /** Every service name of the swarm (the embedded DNS keeps them from being forwarded). */
  serviceNames?: string[];
}

export interface SessionOptions {
  /** Managers to try, in order (the node's persisted list, refreshed from each session message). */
  managers: string[];
  credentials: () => grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  description: SessionNodeDescription;
  addr: string;
  log: Logger;
}

/** Metadata key a follower's dispatcher uses to point at the leader. */
export const LEADER_ADDR_METADATA = 'swarmlite-leader-addr';

const RETRY_MIN_MS = 100;
// Short: after a leader change every node must find the new leader within the dispatcher's grace
// (two heartbeat periods), and a refused connection to a dead manager costs next to nothing.
const RETRY_MAX_MS = 500;

/**
 * Emits 'message' (SessionMessage) for every update, 'assignments' (AssignmentsMessage: a full set after
 * every new session, then changes), 'connected' (manager addr) when a session is established,
 * 'disconnected' when it is lost, and 'removed' when the swarm has removed this node.
 */
export class DispatcherSession extends EventEmitter {
  private managers: string[];
  private next = 0;
  private stopped = false;
  private client: grpc.Client | undefined;
  private stream: grpc.ClientReadableStream<SessionMessage> | undefined;
  private assignments: grpc.ClientReadableStream<AssignmentsMessage> | undefined;
  private subscriptions: grpc.ClientReadableStream<NodeWorkRequest> | undefined;
  private sessionId = '';
  private heartbeat: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private preferred: string | undefined;
  current: string | undefined;

  constructor(private readonly opts: SessionOptions) {
    super();
    this.managers = [...opts.managers];
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.teardown();
  }

  knownManagers(): string[] {
    return [...this.managers];
  }

  private pickManager(): string | undefined {
    if (this.preferred) {
      const addr = this.preferred;
      this.preferred = undefined;
      return addr;
    }
    if (this.managers.length === 0) return undefined;
    const addr = this.managers[this.next % this.managers.length];
    this.next++;
    return addr;
  }

  private teardown(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.stream?.cancel();
    this.stream = undefined;
    this.assignments?.cancel();
    this.assignments = undefined;
    this.subscriptions?.cancel();
    this.subscriptions = undefined;
    this.sessionId = '';
    this.client?.close();
    this.client = undefined;
    if (this.current) this.emit('disconnected', this.current);
    this.current = undefined;
  }

  private retryLater(): void {
    this.teardown();
    if (this.stopped) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    setTimeout(() => this.connect(), delay).unref();
  }

  private connect(): void {
    if (this.stopped) return;
    const addr = this.pickManager();
    if (!addr) {
      this.opts.log.error('no manager address known: cannot reach the swarm');
      return this.retryLater();
    }
    const Dispatcher = serviceClient('dispatcher.proto', 'swarmlite.dispatcher.v1.Dispatcher');
    const client = new Dispatcher(addr, this.opts.credentials(), {
      ...this.opts.channelOptions,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
    });
    this.client = client;
    const stream = (
      client as unknown as { session(req: object): grpc.ClientReadableStream<SessionMessage> }
    ).session({
      description: this.opts.description,
      addr: this.opts.addr,
    });
    this.stream = stream;
    let sessionId = '';
    stream.on('data', (msg: SessionMessage) => {
      if (!sessionId) {
        this.current = addr;
        this.retryMs = RETRY_MIN_MS;
        this.emit('connected', addr);
      }
      if (msg.sessionId !== sessionId) {
        this.openAssignments(client, msg.sessionId);
        this.openSubscriptions(client, msg.sessionId);
      }
      sessionId = msg.sessionId;
      this.sessionId = sessionId;
      if (msg.managers.length > 0) {
        // The leader first: that is where the session belongs after a reconnect.
        this.managers = [...msg.managers]
          .sort((a, b) => Number(b.leader) - Number(a.leader))
          .map((m) => m.addr);
        this.next = 0;
      }
      this.armHeartbeat(client, () => sessionId, Number(msg.heartbeatPeriodMs) || 1_000);
      this.emit('message', msg);
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (this.stream !== stream) return;
      const leader = err.metadata?.get(LEADER_ADDR_METADATA)[0];
      if (err.code === grpc.status.PERMISSION_DENIED && /removed/.test(err.details ?? '')) {
        this.opts.log.error({ manager: addr }, err.details);
        this.stop();
        this.emit('removed');
        return;
      }
      if (err.code === grpc.status.FAILED_PRECONDITION && typeof leader === 'string' && leader) {
        this.preferred = leader;
        this.retryMs = RETRY_MIN_MS;
      } else {
        this.opts.log.debug({ manager: addr, err: err.details ?? err.message }, 'dispatcher session lost');
      }
      this.retryLater();
    });
    stream.on('end', () => {
      if (this.stream === stream) this.retryLater();
    });
  }

  /** Sends task status reports on the current session; rejects when there is none (the caller retries). */
  async reportStatus(updates: TaskStatusUpdate[]): Promise<void> {
    const client = this.client;
    if (!client || !this.sessionId) throw new Error('no dispatcher session');
    await unary(client, 'updateTaskStatus', { sessionId: this.sessionId, updates }, 10_000);
  }

  /** A stream to answer a log request on (PublishLogs); undefined without a session. */
  publishLogs(): grpc.ClientWritableStream<unknown> | undefined {
    const client = this.client as unknown as
      | { publishLogs(cb: (err: grpc.ServiceError | null) => void): grpc.ClientWritableStream<unknown> }
      | undefined;
    return client?.publishLogs(() => {});
  }

  /** The node's side of an exec session (ExecAttach); undefined without a session. */
  execAttach(): grpc.ClientDuplexStream<unknown, ExecInputMessage> | undefined {
    const client = this.client as unknown as
      { execAttach(): grpc.ClientDuplexStream<unknown, ExecInputMessage> } | undefined;
    return client?.execAttach();
  }

  /** An exec session through the leader's dispatcher (a worker's `swarmlite exec`). */
  exec(): grpc.ClientDuplexStream<object, unknown> | undefined {
    const client = this.client as unknown as { exec(): grpc.ClientDuplexStream<object, unknown> } | undefined;
    return this.sessionId ? client?.exec() : undefined;
  }

  private openSubscriptions(client: grpc.Client, sessionId: string): void {
    this.subscriptions?.cancel();
    const stream = (
      client as unknown as { subscriptions(req: object): grpc.ClientReadableStream<NodeWorkRequest> }
    ).subscriptions({ sessionId });
    this.subscriptions = stream;
    stream.on('data', (msg: NodeWorkRequest) => this.emit('work', msg));
    // Losing it loses only log/exec requests in flight; the session's own checks notice a dead manager.
    stream.on('error', () => {});
  }

  private openAssignments(client: grpc.Client, sessionId: string): void {
    this.assignments?.cancel();
    const stream = (
      client as unknown as { assignments(req: object): grpc.ClientReadableStream<AssignmentsMessage> }
    ).assignments({ sessionId });
    this.assignments = stream;
    stream.on('data', (msg: AssignmentsMessage) => this.emit('assignments', msg));
    const lost = (err?: grpc.ServiceError) => {
      if (this.assignments !== stream) return;
      this.opts.log.debug({ err: err?.details }, 'assignments stream lost; re-registering');
      this.retryLater();
    };
    stream.on('error', lost);
    stream.on('end', () => lost());
  }

  private armHeartbeat(client: grpc.Client, sessionId: () => string, periodMs: number): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      unary(client, 'heartbeat', { sessionId: sessionId() }, periodMs * 2).catch((err: grpc.ServiceError) => {
        if (this.client !== client) return;
        this.opts.log.debug({ err: err.details ?? err.message }, 'heartbeat failed; re-registering');
        this.retryLater();
      });
    }, periodMs);
    this.heartbeat.unref();
  }
}
