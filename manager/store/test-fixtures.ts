// Shared by the store's tests: sample objects, a store over an in-memory log, a capturing logger.
import { encodeBatch, BATCH_FORMAT_VERSION, type Action } from './actions.js';
import { InMemoryLog, type DeliveryMode } from './in-memory-log.js';
import { swarmSchema } from './indexes.js';
import {
  defaultClusterSpec,
  type Cluster,
  type NewObject,
  type Node,
  type NodeRole,
  type SwarmObjects,
} from '../../api/objects/index.js';
import { Store, type StoreLogger } from './store.js';
import type { IpamConfig, Network, Task, TaskState } from '../../api/objects/index.js';
import { defaultTaskSpec } from '../../api/objects/index.js';

export interface LogLine {
  level: 'error' | 'warn' | 'debug';
  fields: object;
  message: string;
}

export class CapturingLogger implements StoreLogger {
  readonly lines: LogLine[] = [];
  error(fields: object, message: string): void {
    this.lines.push({ level: 'error', fields, message });
  }
  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', fields, message });
  }
  debug(fields: object, message: string): void {
    this.lines.push({ level: 'debug', fields, message });
  }
}

/** A deterministic clock: each call is one second after the previous one. */
export function steppingClock(start = Date.UTC(2026, 10, 22, 5, 0, 0)): () => string {
  let t = start;
  return () => new Date((t += 1000)).toISOString();
}

export function newStore(
  log: InMemoryLog,
  logger = new CapturingLogger(),
): { store: Store<SwarmObjects>; logger: CapturingLogger } {
  const store = new Store({ schema: swarmSchema, proposer: log, logger, now: steppingClock() });
  log.attach(store);
  return { store, logger };
}

export function newTestStore(mode: DeliveryMode = 'sync'): {
  store: Store<SwarmObjects>;
  log: InMemoryLog;
  logger: CapturingLogger;
} {
  const log = new InMemoryLog(mode);
  return { log, ...newStore(log) };
}

export function sampleNode(id: string, overrides: Partial<NewObject<Node>> = {}): NewObject<Node> {
  return {
    id,
    spec: { role: 'worker', availability: 'active', labels: {} },
    role: 'worker',
    status: { state: 'ready', message: '', addr: '198.18.0.12' },
    description: {
      hostname: `host-${id}`,
      platform: { os: 'linux', arch: 'x86_64' },
      resources: { nanoCpus: 2e9, memoryBytes: 4 * 1024 ** 3 },
      engineVersion: '0.1.0',
    },
    certificate: { role: 'worker', certPem: '', status: 'issued' },
    ...overrides,
  };
}

export function sampleManager(id: string, raftId: number, role: NodeRole = 'manager'): NewObject<Node> {
  return sampleNode(id, {
    spec: { role, availability: 'active', labels: {} },
    role,
    managerStatus: {
      raftId,
      addr: `198.18.0.${10 + raftId}:2377`,
      reachability: 'reachable',
      leader: raftId === 1,
    },
    certificate: { role, certPem: '', status: 'issued' },
  });
}

export function sampleCluster(id: string, name = 'default'): NewObject<Cluster> {
  return {
    id,
    spec: defaultClusterSpec(name),
    rootCA: { certPem: 'CERT', keyPem: 'KEY', digest: 'sha256:00' },
    joinTokens: { worker: 'SWMTKN-1-w', manager: 'SWMTKN-1-m' },
  };
}

/** Entry bytes for a hand-made batch (what a proposer on another manager would have sent). */
export function batchBytes(
  actions: Action[],
  requestId = 'req',
  at = '2026-11-22T05:00:00.000Z',
): Uint8Array {
  return encodeBatch({ v: BATCH_FORMAT_VERSION, requestId, at, actions });
}

/** The create action for a sample object. */
export function createAction(kind: keyof SwarmObjects, object: object): Action {
  return { kind, op: 'create', object: JSON.parse(JSON.stringify(object)) as Record<string, unknown> };
}

/** An overlay network as the control API creates it; `ipam`/`vni` as the allocator would fill them. */
export function sampleNetwork(
  id: string,
  name: string,
  o: { vni?: number; subnets?: string[]; allocated?: IpamConfig[] } = {},
): NewObject<Network> {
  return {
    id,
    spec: {
      name,
      driver: 'overlay',
      ipam: (o.subnets ?? []).map((subnet) => ({ subnet, gateway: '', ipRange: '' })),
      attachable: false,
      internal: false,
      ingress: false,
      options: {},
      labels: {},
    },
    ipam: o.allocated ?? [],
    vni: o.vni ?? 0,
  };
}

/** A task of service `s1` (slot 1) on `nodeId`, in `state`, for tests that need one task object. */
export function sampleTask(id: string, nodeId: string, state: TaskState, over: Partial<Task> = {}): Task {
  return {
    id,
    meta: { version: 1, createdAt: '', updatedAt: '' },
    serviceId: 's1',
    slot: 1,
    nodeId,
    spec: defaultTaskSpec('host', ['true']),
    specVersion: 1,
    serviceName: 'web',
    desiredState: 'running',
    status: { state, timestamp: '', message: '', err: '' },
    networks: [],
    endpoint: { ports: [], virtualIps: [] },
    ...over,
  };
}
