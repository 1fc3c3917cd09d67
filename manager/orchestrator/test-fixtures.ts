// Services, nodes, tasks and a tiny in-memory store for the orchestrator tests. `applyPlan` does what
// the controller and the store do with a plan (one batch, optimistic versions checked, meta stamped).
import assert from 'node:assert/strict';
import type {
  Node,
  NodeAvailability,
  NodeState,
  RestartPolicy,
  Service,
  ServiceSpec,
  Task,
  TaskState,
  UpdateConfig,
  UpdateStatus,
} from '../../api/objects/index.js';
import type { Plan } from './plan.js';
import type { PlanContext } from './restart.js';
import { iso } from './tasks.js';
import { defaultTaskSpec } from '../../api/objects/index.js';

export const T0 = Date.parse('2026-11-22T00:00:00.000Z');

export function counterIds(prefix = 'n'): () => string {
  let i = 0;
  return () => `${prefix}${++i}`;
}

export const ctxAt = (now: number, prefix = 'n'): PlanContext => ({ now, newId: counterIds(prefix) });

const meta = (at = T0, version = 1) => ({ version, createdAt: iso(at), updatedAt: iso(at) });

const updateConfig = (o: Partial<UpdateConfig> = {}): UpdateConfig => ({
  parallelism: 1,
  delayMs: 0,
  order: 'stop-first',
  failureAction: 'pause',
  monitorMs: 5_000,
  maxFailureRatio: 0,
  ...o,
});

export interface ServiceOptions {
  replicas?: number | 'global';
  image?: string;
  restart?: Partial<RestartPolicy>;
  update?: Partial<UpdateConfig>;
  rollback?: Partial<UpdateConfig>;
  specVersion?: number;
  updateStatus?: UpdateStatus;
  previousSpec?: ServiceSpec;
}

export function serviceSpec(name: string, o: ServiceOptions = {}): ServiceSpec {
  return {
    name,
    labels: {},
    task: {
      ...defaultTaskSpec(o.image ?? 'img:1'),
      restartPolicy: { condition: 'any', delayMs: 0, maxAttempts: 0, windowMs: 0, ...o.restart },
    },
    mode: o.replicas === 'global' ? { global: {} } : { replicated: { replicas: o.replicas ?? 3 } },
    update: updateConfig(o.update),
    rollback: updateConfig(o.rollback),
    endpoint: { mode: 'vip', ports: [] },
  };
}

export function service(id: string, o: ServiceOptions = {}): Service {
  return {
    id,
    meta: meta(),
    spec: serviceSpec(id, o),
    specVersion: o.specVersion ?? 1,
    endpoint: { ports: [], virtualIps: [] },
    ...(o.previousSpec ? { previousSpec: o.previousSpec } : {}),
    ...(o.updateStatus ? { updateStatus: o.updateStatus } : {}),
  };
}

export function node(
  id: string,
  o: { state?: NodeState; availability?: NodeAvailability; removed?: boolean } = {},
): Node {
  return {
    id,
    meta: meta(),
    spec: { role: 'worker', availability: o.availability ?? 'active', labels: {} },
    role: 'worker',
    status: { state: o.state ?? 'ready', message: '', addr: '127.0.0.1' },
    description: {
      hostname: `host-${id}`,
      platform: { os: 'linux', arch: 'x86_64' },
      resources: { nanoCpus: 4e9, memoryBytes: 8 * 1024 ** 3 },
      engineVersion: 'test',
    },
    certificate: { role: 'worker', certPem: '', status: 'issued' },
    ...(o.removed ? { removed: true } : {}),
  };
}

export const nodeMap = (...nodes: Node[]): Map<string, Node> => new Map(nodes.map((n) => [n.id, n]));

export interface TaskOptions {
  slot?: number;
  nodeId?: string;
  state?: TaskState;
  desired?: TaskState;
  createdAt?: number;
  statusAt?: number;
  specVersion?: number;
  version?: number;
}

/** A task of `svc` made from its current spec (override specVersion/spec to make an outdated one). */
export function task(id: string, svc: Service, o: TaskOptions = {}): Task {
  return {
    id,
    meta: meta(o.createdAt ?? T0, o.version ?? 1),
    serviceId: svc.id,
    slot: o.slot ?? 1,
    nodeId: o.nodeId ?? (o.slot === 0 ? 'a' : 'a'),
    spec: structuredClone(svc.spec.task),
    specVersion: o.specVersion ?? svc.specVersion,
    serviceName: svc.spec.name,
    desiredState: o.desired ?? 'running',
    status: {
      state: o.state ?? 'running',
      timestamp: iso(o.statusAt ?? o.createdAt ?? T0),
      message: '',
      err: '',
    },
    networks: [],
    endpoint: { ports: [], virtualIps: [] },
  };
}

/** A task made from an older spec: `image` differs, so it is outdated for the current one. */
export function oldTask(id: string, svc: Service, o: TaskOptions & { image?: string } = {}): Task {
  const t = task(id, svc, { specVersion: svc.specVersion - 1, ...o });
  t.spec.image = o.image ?? 'img:0';
  return t;
}

/** An in-memory store: what a controller's batch would do to the real one. */
export class SimStore {
  readonly tasks = new Map<string, Task>();
  private version = 100;

  constructor(
    public svc: Service,
    public nodes: Map<string, Node>,
  ) {}

  bump(): number {
    return ++this.version;
  }

  apply(plan: Plan, now: number): void {
    for (const c of plan.setDesired) {
      const t = this.tasks.get(c.taskId)!;
      assert.equal(t.meta.version, c.expectedVersion, `stale write on ${c.taskId}`);
      this.tasks.set(t.id, {
        ...t,
        desiredState: c.desiredState,
        meta: { ...t.meta, version: this.bump(), updatedAt: iso(now) },
      });
    }
    for (const d of plan.remove) {
      assert.equal(this.tasks.get(d.taskId)!.meta.version, d.expectedVersion);
      this.tasks.delete(d.taskId);
    }
    for (const c of plan.create) {
      assert.ok(!this.tasks.has(c.id), `duplicate id ${c.id}`);
      this.tasks.set(c.id, {
        ...c,
        meta: { version: this.bump(), createdAt: iso(now), updatedAt: iso(now) },
      });
    }
    if (plan.service) {
      const { serviceId, expectedVersion, ...patch } = plan.service;
      assert.equal(serviceId, this.svc.id);
      assert.equal(expectedVersion, this.svc.meta.version);
      this.svc = { ...this.svc, ...patch, meta: { ...this.svc.meta, version: this.bump() } };
    }
  }

  setStatus(id: string, state: TaskState, now: number, nodeId?: string): void {
    const t = this.tasks.get(id)!;
    this.tasks.set(id, {
      ...t,
      nodeId: nodeId ?? t.nodeId,
      status: { ...t.status, state, timestamp: iso(now) },
      meta: { ...t.meta, version: this.bump() },
    });
  }

  list(): Task[] {
    return [...this.tasks.values()];
  }
}
