// The node's session with the leader's dispatcher: register, learn the managers and the heartbeat
// period, beat, and on any failure move on to the next manager. Only the leader runs a dispatcher;
// a follower answers FAILED_PRECONDITION naming the leader, which is where the session goes next.
import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { unaryCalls } from '../../api/calls.js';
import { services, type DispatcherClient } from '../../api/rpc.js';
import { nodeRolesFromWire, type NodeRoles, type WireNodeDescription } from '../../api/node-wire.js';
import type { Logger } from '../../lib/log.js';
import { networkFromWire, taskFromWire, WireError } from '../../api/task-wire.js';
import type { AssignmentsMessage__Output as WireAssignmentsMessage } from '../../api/gen/swarmlite/dispatcher/v1/AssignmentsMessage.js';
import type { SessionMessage__Output as WireSessionMessage } from '../../api/gen/swarmlite/dispatcher/v1/SessionMessage.js';
import type { Subscription__Output } from '../../api/gen/swarmlite/dispatcher/v1/Subscription.js';
import type { TaskStatusUpdate as WireTaskStatusUpdate } from '../../api/gen/swarmlite/dispatcher/v1/TaskStatusUpdate.js';
import type { ExecInput__Output } from '../../api/gen/swarmlite/objects/v1/ExecInput.js';
import type { Network, Task, TaskStatus } from '../../api/objects/index.js';
import {
  initialSessionState,
  stepSession,
  type SessionAction,
  type SessionEvent,
  type SessionState,
} from './session-plan.js';

/**
 * The dispatcher's assignments (proto/dispatcher.proto AssignmentsMessage) with their tasks and networks
 * as store objects (api/task-wire.ts): the agent runs those.
 */
export type AssignmentsMessage = Omit<WireAssignmentsMessage, 'tasks' | 'networks'> & {
  tasks: Task[];
  /** The networks those tasks attach to. */
  networks: Network[];
};

/**
 * The dispatcher's session message (proto/dispatcher.proto SessionMessage), its ingress network as a
 * store object: the managers and heartbeat period, this node as the store has it, the gossip keys
 * (primary first), the ingress network and this node's address on it (CIDR) once allocated, and every
 * service name of the swarm (the embedded DNS keeps them from being forwarded).
 */
export type SessionMessage = Omit<WireSessionMessage, 'ingressNetwork' | 'node'> & {
  ingressNetwork: Network | null;
  node: NodeRoles | null;
};

/** A message as decoded, its tasks and networks checked and converted; WireError when malformed. */
export function assignmentsFromWire(m: WireAssignmentsMessage): AssignmentsMessage {
  return {
    full: m.full,
    tasks: m.tasks.map((t, i) => taskFromWire(t, `tasks[${i}]`)),
    removed: [...m.removed],
    networks: m.networks.map((n, i) => networkFromWire(n, `networks[${i}]`)),
  };
}

export function sessionMessageFromWire(m: WireSessionMessage): SessionMessage {
  return {
    ...m,
    node: m.node && nodeRolesFromWire(m.node),
    ingressNetwork: m.ingressNetwork && networkFromWire(m.ingressNetwork, 'ingressNetwork'),
  };
}

/** A manager's request for logs or an exec session (proto/dispatcher.proto Subscription), as decoded. */
export type NodeWorkRequest = Subscription__Output;

/** stdin and signals for an exec session (proto/objects.proto ExecInput), as decoded. */
export type ExecInputMessage = ExecInput__Output;

/** A task's status as reported to the dispatcher: the store's status is the wire's, field for field. */
export interface TaskStatusUpdate extends WireTaskStatusUpdate {
  taskId: string;
  status: TaskStatus;
}

/** What a node tells the dispatcher about itself. */
export type SessionNodeDescription = WireNodeDescription;

const dispatcherCalls = (client: DispatcherClient) => unaryCalls(client, services.dispatcher().service);

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

/**
 * The shell of the session state machine (session-plan.ts): gRPC streams, the heartbeat timer and the
 * retry timer. Emits 'message' (SessionMessage) for every update, 'assignments' (AssignmentsMessage: a
 * full set after every new session, then changes), 'connected' (manager addr) when a session is
 * established, 'disconnected' when it is lost, and 'removed' when the swarm has removed this node.
 */
export class DispatcherSession extends EventEmitter {
  private state: SessionState;
  private client: DispatcherClient | undefined;
  private stream: ReturnType<DispatcherClient['session']> | undefined;
  private assignments: ReturnType<DispatcherClient['assignments']> | undefined;
  private subscriptions: ReturnType<DispatcherClient['subscriptions']> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SessionOptions) {
    super();
    this.state = initialSessionState(opts.managers);
  }

  /** The manager this node has a session with now. */
  get current(): string | undefined {
    return this.state.current;
  }

  start(): void {
    this.step({ type: 'connect' });
  }

  stop(): void {
    this.step({ type: 'stop' });
  }

  knownManagers(): string[] {
    return [...this.state.managers];
  }

  private step(event: SessionEvent, msg?: SessionMessage): void {
    const { state, actions } = stepSession(this.state, event);
    this.state = state;
    for (const action of actions) this.carryOut(action);
    if (msg) this.emit('message', msg);
  }

  private carryOut(action: SessionAction): void {
    switch (action.type) {
      case 'dial':
        return this.dial(action.addr);
      case 'no-manager':
        this.opts.log.error('no manager address known: cannot reach the swarm');
        return;
      case 'teardown':
        this.teardown();
        if (action.disconnected) this.emit('disconnected', action.disconnected);
        return;
      case 'connect-in':
        setTimeout(() => this.step({ type: 'connect' }), action.delayMs).unref();
        return;
      case 'connected':
        this.emit('connected', action.addr);
        return;
      case 'open-streams':
        this.openAssignments(this.client!, action.sessionId);
        this.openSubscriptions(this.client!, action.sessionId);
        return;
      case 'heartbeat-every':
        return this.armHeartbeat(this.client!, action.periodMs);
      case 'removed':
        this.emit('removed');
        return;
    }
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
    this.client?.close();
    this.client = undefined;
  }

  private dial(addr: string): void {
    const Dispatcher = services.dispatcher();
    const client = new Dispatcher(addr, this.opts.credentials(), {
      ...this.opts.channelOptions,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
    });
    this.client = client;
    const stream = client.session({
      description: this.opts.description,
      addr: this.opts.addr,
    });
    this.stream = stream;
    stream.on('data', (wire: WireSessionMessage) => {
      if (this.stream !== stream) return;
      const msg = this.fromWire(wire, sessionMessageFromWire, 'session');
      if (msg) this.step({ type: 'message', msg }, msg);
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (this.stream !== stream) return;
      const leader = err.metadata?.get(LEADER_ADDR_METADATA)[0];
      if (err.code === grpc.status.PERMISSION_DENIED && /removed/.test(err.details ?? '')) {
        this.opts.log.error({ manager: addr }, err.details);
        return this.step({ type: 'failed', code: 'removed' });
      }
      if (err.code === grpc.status.FAILED_PRECONDITION && typeof leader === 'string' && leader) {
        return this.step({ type: 'failed', code: 'not-leader', leader });
      }
      this.opts.log.debug({ manager: addr, err: err.details ?? err.message }, 'dispatcher session lost');
      this.step({ type: 'failed', code: 'other' });
    });
    stream.on('end', () => {
      if (this.stream === stream) this.step({ type: 'lost' });
    });
  }

  /** Sends task status reports on the current session; rejects when there is none (the caller retries). */
  async reportStatus(updates: TaskStatusUpdate[]): Promise<void> {
    const client = this.client;
    const { sessionId } = this.state;
    if (!client || !sessionId) throw new Error('no dispatcher session');
    await dispatcherCalls(client).updateTaskStatus({ sessionId, updates }, 10_000);
  }

  /** A standalone container's attachment to a swarm overlay (AttachNetwork); rejects without a session. */
  async attachNetwork(network: string, containerId: string, aliases: readonly string[]) {
    const client = this.client;
    const { sessionId } = this.state;
    if (!client || !sessionId)
      throw new Error('this node is not connected to a manager right now; try again shortly');
    const r = await dispatcherCalls(client).attachNetwork(
      { sessionId, network, containerId, aliases: [...aliases] },
      60_000,
    );
    if (!r.network || !r.address) throw new Error('the manager answered the attachment without an address');
    return {
      attachmentId: r.attachmentId,
      network: networkFromWire(r.network, 'network'),
      address: r.address,
    };
  }

  /** Gives a container's attachment back (DetachNetwork); rejects without a session. */
  async detachNetwork(attachmentId: string): Promise<void> {
    const client = this.client;
    const { sessionId } = this.state;
    if (!client || !sessionId)
      throw new Error('this node is not connected to a manager right now; try again shortly');
    await dispatcherCalls(client).detachNetwork({ sessionId, attachmentId }, 10_000);
  }

  /** A stream to answer a log request on (PublishLogs); undefined without a session. */
  publishLogs(): ReturnType<DispatcherClient['publishLogs']> | undefined {
    return this.client?.publishLogs(() => {});
  }

  /** The node's side of an exec session (ExecAttach); undefined without a session. */
  execAttach(): ReturnType<DispatcherClient['execAttach']> | undefined {
    return this.client?.execAttach();
  }

  /** An exec session through the leader's dispatcher (a worker's `swarmlite exec`). */
  exec(): ReturnType<DispatcherClient['exec']> | undefined {
    return this.state.sessionId ? this.client?.exec() : undefined;
  }

  private openSubscriptions(client: DispatcherClient, sessionId: string): void {
    this.subscriptions?.cancel();
    const stream = client.subscriptions({ sessionId });
    this.subscriptions = stream;
    stream.on('data', (msg: NodeWorkRequest) => this.emit('work', msg));
    // Losing it loses only log/exec requests in flight; the session's own checks notice a dead manager.
    stream.on('error', () => {});
  }

  private openAssignments(client: DispatcherClient, sessionId: string): void {
    this.assignments?.cancel();
    const stream = client.assignments({ sessionId });
    this.assignments = stream;
    stream.on('data', (wire: WireAssignmentsMessage) => {
      const msg = this.fromWire(wire, assignmentsFromWire, 'assignments');
      if (msg) this.emit('assignments', msg);
    });
    const lost = (err?: grpc.ServiceError) => {
      if (this.assignments !== stream) return;
      this.opts.log.debug({ err: err?.details }, 'assignments stream lost; re-registering');
      this.step({ type: 'lost' });
    };
    stream.on('error', lost);
    stream.on('end', () => lost());
  }

  /**
   * A received message as the agent uses it, or undefined: a malformed one (a manager of another
   * version, a bug) is logged and dropped whole, never half applied.
   */
  private fromWire<W, T>(wire: W, convert: (wire: W) => T, what: string): T | undefined {
    try {
      return convert(wire);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.opts.log.error(
        { manager: this.state.dialing, err: err.message },
        `malformed ${what} message dropped`,
      );
      return undefined;
    }
  }

  private armHeartbeat(client: DispatcherClient, periodMs: number): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      dispatcherCalls(client)
        .heartbeat({ sessionId: this.state.sessionId }, periodMs * 2)
        .catch((err: grpc.ServiceError) => {
          if (this.client !== client) return;
          this.opts.log.debug({ err: err.details ?? err.message }, 'heartbeat failed; re-registering');
          this.step({ type: 'lost' });
        });
    }, periodMs);
    this.heartbeat.unref();
  }
}
