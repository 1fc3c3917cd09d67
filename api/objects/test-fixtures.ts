// Nodes, tasks and networks for tests and benchmarks (scheduler, constraints, dispatcher, network
// planes): full objects with only the fields worth overriding as options.
import type {
  Network,
  Node,
  NodeAvailability,
  NodeRole,
  NodeState,
  PortConfig,
  Task,
  TaskState,
} from './index.js';
import { defaultTaskSpec } from './index.js';

export const GiB = 1024 ** 3;
export const CPU = 1e9; // nanoCPUs in one CPU

export interface NodeOptions {
  hostname?: string;
  role?: NodeRole;
  state?: NodeState;
  availability?: NodeAvailability;
  labels?: Record<string, string>;
  cpus?: number;
  memoryBytes?: number;
  os?: string;
  arch?: string;
  removed?: boolean;
}

export function node(id: string, o: NodeOptions = {}): Node {
  const role = o.role ?? 'worker';
  return {
    id,
    meta: { version: 1, createdAt: '2026-11-22T00:00:00.000Z', updatedAt: '2026-11-22T00:00:00.000Z' },
    spec: { role, availability: o.availability ?? 'active', labels: o.labels ?? {} },
    role,
    status: { state: o.state ?? 'ready', message: '', addr: '127.0.0.1' },
    description: {
      hostname: o.hostname ?? `host-${id}`,
      platform: { os: o.os ?? 'linux', arch: o.arch ?? 'x86_64' },
      resources: { nanoCpus: (o.cpus ?? 4) * CPU, memoryBytes: o.memoryBytes ?? 8 * GiB },
      engineVersion: 'swarmlite-test',
    },
    certificate: { role, certPem: '', status: 'issued' },
    ...(o.removed ? { removed: true } : {}),
  };
}

export interface TaskOptions {
  slot?: number;
  nodeId?: string;
  state?: TaskState;
  cpus?: number;
  memoryBytes?: number;
  constraints?: string[];
  ports?: PortConfig[];
}

export function task(id: string, serviceId: string, o: TaskOptions = {}): Task {
  const state = o.state ?? (o.nodeId ? 'running' : 'pending');
  return {
    id,
    meta: { version: 1, createdAt: '2026-11-22T00:00:00.000Z', updatedAt: '2026-11-22T00:00:00.000Z' },
    serviceId,
    slot: o.slot ?? 1,
    nodeId: o.nodeId ?? '',
    spec: {
      ...defaultTaskSpec('host', ['swarmlite', 'whoami']),
      resources: {
        limits: { nanoCpus: 0, memoryBytes: 0 },
        reservations: { nanoCpus: (o.cpus ?? 0) * CPU, memoryBytes: o.memoryBytes ?? 0 },
      },
      placement: { constraints: o.constraints ?? [] },
    },
    specVersion: 1,
    serviceName: serviceId,
    desiredState: 'running',
    status: { state, timestamp: '2026-11-22T00:00:00.000Z', message: '', err: '' },
    networks: [],
    endpoint: { ports: o.ports ?? [], virtualIps: [] },
  };
}

/** `count` pending replicas of one service, slots 1..count, ids `${serviceId}.${slot}`. */
export function replicas(serviceId: string, count: number, o: Omit<TaskOptions, 'slot'> = {}): Task[] {
  return Array.from({ length: count }, (_, i) =>
    task(`${serviceId}.${i + 1}`, serviceId, { ...o, slot: i + 1 }),
  );
}

export const hostPort = (publishedPort: number, protocol: 'tcp' | 'udp' = 'tcp'): PortConfig => ({
  protocol,
  targetPort: 80,
  publishedPort,
  publishMode: 'host',
});

/** How many of the assignments landed on each node. */
export function perNode(assignments: ReadonlyMap<string, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const nodeId of assignments.values()) counts[nodeId] = (counts[nodeId] ?? 0) + 1;
  return counts;
}

/** An allocated overlay network `name` (not attachable, not internal), `o` overriding spec fields. */
export function overlayNetwork(
  id: string,
  name: string,
  o: { ingress?: boolean; options?: Record<string, string>; subnet?: string; vni?: number } = {},
): Network {
  const subnet = o.subnet ?? '10.0.9.0/24';
  return {
    id,
    meta: { version: 1, createdAt: '', updatedAt: '' },
    spec: {
      name,
      driver: 'overlay',
      ipam: [],
      attachable: false,
      internal: false,
      ingress: o.ingress ?? false,
      options: o.options ?? {},
      labels: {},
    },
    ipam: [{ subnet, gateway: subnet.replace(/\.0\/\d+$/, '.1'), ipRange: '' }],
    vni: o.vni ?? 4096,
  };
}
