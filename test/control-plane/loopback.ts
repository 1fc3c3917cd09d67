// An in-process control plane for tests and benchmarks: one store (over an in-memory log or a real Raft
// node), the leader's real controllers (allocator, orchestrator, scheduler), and real agents with the
// simulated executor, joined by loopback sessions that use the dispatcher's own assignment tracking and
// status batching instead of gRPC. What it leaves out is exactly the transport and the mTLS checks,
// which the e2e tests on lab clusters cover.
import { EventEmitter } from 'node:events';
import { createLogger, type Logger } from '../../lib/log.js';
import { AllocatorController } from '../../manager/allocator/controller.js';
import { ingressNetwork } from '../../manager/allocator/ingress.js';
import { NodeAssignments } from '../../manager/dispatcher/assignments.js';
import { StatusBatcher } from '../../manager/dispatcher/task-status.js';
import { OrchestratorController } from '../../manager/orchestrator/controller.js';
import { SchedulerController } from '../../manager/scheduler/controller.js';
import { type Store } from '../../manager/store/index.js';
import {
  defaultClusterSpec,
  defaultRollbackConfig,
  defaultTaskSpec,
  defaultUpdateConfig,
  type NewObject,
  type Node,
  type Service,
  type ServiceSpec,
  type SwarmObjects,
  type Task,
} from '../../api/objects/index.js';
import { Agent } from '../../worker/agent/agent.js';
import type { AssignmentsMessage, TaskStatusUpdate } from '../../worker/agent/session.js';
import { SimulatedExecutor } from '../../worker/agent/simulated-executor.js';

export const CLUSTER_ID = 'cluster1';

/** A node's session with the (in-process) dispatcher. */
export class LoopbackSession extends EventEmitter {
  private assignments: NodeAssignments | undefined;
  private closeWatch: (() => void) | undefined;
  private queued = false;
  connected = false;

  constructor(
    private readonly store: Store<SwarmObjects>,
    private readonly nodeId: string,
    private readonly batcher: StatusBatcher,
  ) {
    super();
  }

  /** Opens a session: a full assignment set, then changes (as Dispatcher.Assignments does). */
  connect(): void {
    const { value, subscription } = this.store.viewAndWatch((tx) => tx.find('task', 'node', this.nodeId), {
      kinds: ['task'],
    });
    this.assignments = new NodeAssignments(this.nodeId, value);
    let closed = false;
    this.closeWatch = () => {
      closed = true;
      subscription.close();
    };
    this.connected = true;
    this.emit('connected');
    this.flush();
    void (async () => {
      for await (const e of subscription) {
        if (closed) return;
        if (e.type !== 'object') continue;
        const t = e.object as Task;
        const old = e.oldObject as Task | undefined;
        const mine = t.nodeId === this.nodeId || old?.nodeId === this.nodeId;
        if (mine && this.assignments!.note(t, e.op === 'delete')) this.flush();
      }
    })().catch(() => {});
  }

  disconnect(): void {
    this.connected = false;
    this.closeWatch?.();
  }

  private flush(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(() => {
      this.queued = false;
      const changes = this.connected ? this.assignments?.take() : undefined;
      if (changes) this.emit('assignments', changes satisfies AssignmentsMessage);
    });
  }

  async reportStatus(updates: TaskStatusUpdate[]): Promise<void> {
    if (!this.connected) throw new Error('no session');
    await this.batcher.submit(
      updates.map((u) => ({ nodeId: this.nodeId, taskId: u.taskId, status: u.status })),
    );
  }
}

export interface SimNode {
  id: string;
  session: LoopbackSession;
  agent: Agent;
  executor: SimulatedExecutor;
}

export function simNodeObject(id: string, hostname: string): NewObject<Node> {
  return {
    id,
    spec: { role: 'worker', availability: 'active', labels: {} },
    role: 'worker',
    status: { state: 'ready', message: '', addr: '198.18.0.1' },
    description: {
      hostname,
      platform: { os: 'linux', arch: 'x64' },
      resources: { nanoCpus: 4e9, memoryBytes: 8 * 1024 ** 3 },
      engineVersion: 'sim',
    },
    certificate: { role: 'worker', certPem: '', status: 'issued' },
  };
}

export function serviceSpec(
  name: string,
  replicas: number | 'global',
  over: Partial<ServiceSpec> = {},
): ServiceSpec {
  return {
    name,
    labels: {},
    task: defaultTaskSpec('host', ['sleep', 'infinity']),
    mode: replicas === 'global' ? { global: {} } : { replicated: { replicas } },
    update: defaultUpdateConfig(),
    rollback: defaultRollbackConfig(),
    endpoint: { mode: 'vip', ports: [] },
    ...over,
  };
}

export class LoopbackCluster {
  readonly nodes = new Map<string, SimNode>();
  readonly batcher: StatusBatcher;
  private readonly controllers: { start(): void; stop(): void }[];
  readonly log: Logger;

  constructor(
    readonly store: Store<SwarmObjects>,
    opts: { withAgents?: boolean; log?: Logger } = {},
  ) {
    this.log = opts.log ?? createLogger('silent');
    this.batcher = new StatusBatcher(store);
    this.controllers = [
      new AllocatorController({ store, clusterId: CLUSTER_ID, log: this.log }),
      new OrchestratorController({ store, log: this.log }),
      new SchedulerController({ store, log: this.log }),
    ];
  }

  /** The cluster object and the ingress network, as `init` makes them. */
  async init(): Promise<void> {
    await this.store.update((tx) => {
      tx.create('cluster', {
        id: CLUSTER_ID,
        spec: defaultClusterSpec('default'),
        rootCA: { certPem: '', keyPem: '', digest: '' },
        joinTokens: { worker: '', manager: '' },
      });
      tx.create('network', ingressNetwork('ingress0'));
    });
  }

  /** Adds nodes as store objects; with `agents`, each also gets a real agent on a loopback session. */
  async addNodes(ids: string[], agents: boolean): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.store.update((tx) => {
        for (const id of ids.slice(i, i + 500)) tx.create('node', simNodeObject(id, `host-${id}`));
      });
    }
    if (!agents) return;
    for (const id of ids) {
      const executor = new SimulatedExecutor();
      const session = new LoopbackSession(this.store, id, this.batcher);
      const agent = new Agent({
        executor,
        node: { id, hostname: `host-${id}` },
        log: this.log,
        reportDelayMs: 5,
      });
      agent.attach(session);
      session.connect();
      this.nodes.set(id, { id, session, agent, executor });
    }
  }

  startControllers(): void {
    for (const c of this.controllers) c.start();
  }

  stopControllers(): void {
    for (const c of this.controllers) c.stop();
  }

  stop(): void {
    this.stopControllers();
    for (const n of this.nodes.values()) {
      n.session.disconnect();
      n.agent.detach();
    }
  }

  async createService(spec: ServiceSpec): Promise<Service> {
    const { value } = await this.store.update((tx) =>
      tx.create('service', {
        id: `svc-${spec.name}`,
        spec,
        specVersion: 1,
        endpoint: { ports: [], virtualIps: [] },
      }),
    );
    return value;
  }

  tasks(serviceId?: string): Task[] {
    return this.store.view((tx) => (serviceId ? tx.find('task', 'service', serviceId) : tx.list('task')));
  }

  running(serviceId: string): Task[] {
    return this.tasks(serviceId).filter((t) => t.status.state === 'running' && t.desiredState === 'running');
  }
}
