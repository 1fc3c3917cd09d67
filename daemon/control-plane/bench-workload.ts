// What the scheduler benchmark does inside the leader's process: the swarm objects `init` makes, 1,000
// node objects with varied resources and labels, the 10,000-replica service,
// a watch that times each phase of its tasks (created → pending → assigned → running), and the
// reference: the pure scheduleBatch over the very same nodes and tasks.
import { performance } from 'node:perf_hooks';
import { scheduleBatch, type Store } from '../../manager/testing.js';
import {
  taskStateRank,
  type NewObject,
  type Node,
  type SwarmObjects,
  type Task,
  type TaskState,
} from '../../api/objects/index.js';
import { initSwarmObjects, serviceSpec } from './cluster.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const CPU = 1e9;
const NODES_PER_BATCH = 250;

const hrtimeUs = () => Number(process.hrtime.bigint() / 1000n);

export const nodeId = (i: number) => `node-${String(i).padStart(4, '0')}`;

/** A ready, active node; sizes and labels vary deterministically so every run sees the same cluster. */
function benchNode(i: number): NewObject<Node> {
  const role = i < 3 ? 'manager' : 'worker';
  return {
    id: nodeId(i),
    spec: {
      role,
      availability: 'active',
      labels: { zone: ['a', 'b', 'c'][i % 3]!, tier: i % 10 === 0 ? 'db' : 'web', rack: `r${i % 40}` },
    },
    role,
    status: { state: 'ready', message: '', addr: `10.${(i >> 8) & 255}.${i & 255}.1` },
    description: {
      hostname: `worker-${i}`,
      platform: { os: 'linux', arch: 'x86_64' },
      resources: { nanoCpus: [2, 4, 8, 16][i % 4]! * CPU, memoryBytes: [4, 8, 16, 32][(i >> 2) % 4]! * GiB },
      engineVersion: 'sim',
    },
    certificate: { role, certPem: '', status: 'issued' },
  };
}

/** The cluster object and ingress network (as `init` makes them), then the nodes in a few batches. */
export async function initCluster(store: Store<SwarmObjects>, nodes: number): Promise<{ index: number }> {
  await initSwarmObjects(store);
  let index = 0;
  for (let i = 0; i < nodes; i += NODES_PER_BATCH) {
    const end = Math.min(nodes, i + NODES_PER_BATCH);
    ({ index } = await store.update((tx) => {
      for (let n = i; n < end; n++) tx.create('node', benchNode(n));
    }));
  }
  return { index };
}

/** The benchmark's service: reservations and a constraint, so the scheduler has real work to do. */
export async function createService(
  store: Store<SwarmObjects>,
  name: string,
  replicas: number,
): Promise<{ index: number; commitMs: number }> {
  const spec = serviceSpec(name, replicas);
  spec.task.resources.reservations = { nanoCpus: 0.1 * CPU, memoryBytes: 128 * MiB };
  spec.task.placement.constraints = ['node.role==worker'];
  const start = performance.now();
  const { index } = await store.update((tx) =>
    tx.create('service', {
      id: `svc-${name}`,
      spec,
      specVersion: 1,
      endpoint: { ports: [], virtualIps: [] },
    }),
  );
  return { index, commitMs: performance.now() - start };
}

export interface Phases {
  /** ms from the create's proposal until every task reached the state (or later). */
  createdMs: number;
  pendingMs: number;
  assignedMs: number;
  runningMs?: number;
  /** The applied index when every task was assigned. */
  assignedIndex: number;
  /** When every task was assigned, as epoch ms (comparable across processes on one machine). */
  assignedAtEpochMs: number;
  /** CPU time (user + system, all threads) this process spent from the start until every task assigned. */
  cpuToAssignedMs: number;
  /** The measurement on the process clock (µs), which is also the CPU profile's clock. */
  windowUs: [number, number];
  /** The process's peak RSS when every task was assigned (or running). */
  maxRssBytes: number;
  nodesUsed: number;
  tasksPerNode: { min: number; max: number };
}

/**
 * Times the service's tasks through their states from the store's own event stream (the controllers
 * see the same events). Start it before the create: the clock starts now.
 */
export function watchService(
  store: Store<SwarmObjects>,
  serviceId: string,
  replicas: number,
  untilRunning: boolean,
): Promise<Phases> {
  const start = performance.now();
  const startUs = hrtimeUs();
  const cpuStart = process.cpuUsage();
  let cpuToAssignedMs = 0;
  const milestones: TaskState[] = untilRunning
    ? ['new', 'pending', 'assigned', 'running']
    : ['new', 'pending', 'assigned'];
  const reached = milestones.map(() => new Set<string>());
  const at: number[] = [];
  let assignedIndex = 0;
  let assignedAtEpochMs = 0;
  const perNode = new Map<string, number>();
  const sub = store.watch(
    { kinds: ['task'], predicate: (e) => (e.object as Task).serviceId === serviceId },
    { queueLimit: 1_000_000 },
  );
  return (async () => {
    for await (const e of sub) {
      if (e.type !== 'object' || e.op === 'delete') continue;
      const t = e.object as Task;
      const rank = taskStateRank(t.status.state);
      milestones.forEach((state, i) => {
        if (rank < taskStateRank(state) || reached[i]!.has(t.id)) return;
        reached[i]!.add(t.id);
        if (state === 'assigned') perNode.set(t.nodeId, (perNode.get(t.nodeId) ?? 0) + 1);
        if (reached[i]!.size === replicas && at[i] === undefined) {
          at[i] = performance.now() - start;
          if (state === 'assigned') {
            assignedIndex = store.appliedIndex;
            assignedAtEpochMs = performance.timeOrigin + performance.now();
            const cpu = process.cpuUsage(cpuStart);
            cpuToAssignedMs = (cpu.user + cpu.system) / 1000;
          }
        }
      });
      if (at.length === milestones.length && at.every((x) => x !== undefined)) break;
    }
    sub.close();
    const counts = [...perNode.values()];
    return {
      createdMs: at[0]!,
      pendingMs: at[1]!,
      assignedMs: at[2]!,
      ...(untilRunning && { runningMs: at[3]! }),
      assignedIndex,
      assignedAtEpochMs,
      cpuToAssignedMs,
      windowUs: [startUs, hrtimeUs()],
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      nodesUsed: counts.length,
      tasksPerNode: { min: Math.min(...counts), max: Math.max(...counts) },
    };
  })();
}

export interface Reference {
  nodes: number;
  tasks: number;
  placed: number;
  medianMs: number;
  bestMs: number;
}

/** The pure scheduleBatch over the store's nodes and this service's tasks turned back into pending. */
export function referencePass(store: Store<SwarmObjects>, serviceId: string, runs = 3): Reference {
  const { nodes, tasks } = store.view((tx) => ({
    nodes: tx.list('node'),
    tasks: tx.find('task', 'service', serviceId),
  }));
  const pending = tasks.map((t) => ({
    ...t,
    nodeId: '',
    status: { ...t.status, state: 'pending' as const },
  }));
  let placed = scheduleBatch({ nodes, tasks: [] }, pending).assignments.size; // warm-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    placed = scheduleBatch({ nodes, tasks: [] }, pending).assignments.size;
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return {
    nodes: nodes.length,
    tasks: pending.length,
    placed,
    medianMs: times[Math.floor(times.length / 2)]!,
    bestMs: times[0]!,
  };
}
