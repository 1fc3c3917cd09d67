// What the scheduler knows about each node: the node object plus what its live tasks already hold
// (reservations, a task count per service, host-mode ports). Built once per scheduling pass from the
// store's tasks, then updated in place as the pass assigns tasks, so the batch's own placements count.
import type { Node, Resources, Task } from '../../api/objects/index.js';
import { isTerminalTaskState } from '../../api/objects/index.js';

export interface NodeInfo {
  readonly node: Node;
  /** Sum of the reservations of the node's non-terminal tasks (including this pass's assignments). */
  readonly reserved: Resources;
  /** Non-terminal tasks on the node, all services. */
  taskCount: number;
  /** The most tasks the node is given (the cluster's maxTasksPerNode; Infinity: no limit). */
  readonly maxTasks: number;
  readonly tasksByService: Map<string, number>;
  /** `protocol/port` of every host-mode published port a non-terminal task on the node holds. */
  readonly hostPorts: Set<string>;
}

/** What a task asks of a node, derived once per group of identical tasks. */
export interface TaskDemand {
  readonly serviceId: string;
  readonly reservations: Resources;
  /** `protocol/port`, sorted, deduplicated: host-mode ports with a fixed published port. */
  readonly hostPorts: readonly string[];
}

/**
 * Host-mode ports with a fixed number. Ingress-mode ports live on the routing mesh, not on the node, and
 * a host-mode port published as 0 gets an ephemeral port from the worker, so neither can conflict.
 */
export function hostPortsOf(task: Task): string[] {
  const ports = new Set<string>();
  for (const p of task.endpoint?.ports ?? []) {
    if (p.publishMode === 'host' && p.publishedPort !== 0) ports.add(`${p.protocol}/${p.publishedPort}`);
  }
  return [...ports].sort();
}

export function demandOf(task: Task): TaskDemand {
  const r = task.spec.resources.reservations;
  return {
    serviceId: task.serviceId,
    reservations: { nanoCpus: r.nanoCpus, memoryBytes: r.memoryBytes },
    hostPorts: hostPortsOf(task),
  };
}

/**
 * A task holds its node's resources and ports from the moment it is placed until it reaches a terminal
 * state (observed, not desired: a task told to shut down still runs, and holds its port, until the
 * worker reports it stopped).
 */
export function holdsNode(task: Task): boolean {
  return task.nodeId !== '' && !isTerminalTaskState(task.status.state);
}

/**
 * One NodeInfo per node still in the swarm (removed nodes are ignored, and so are tasks on them).
 * Tasks whose id is in `exclude` (the ones being scheduled now) are not counted.
 */
export function buildNodeInfos(
  nodes: readonly Node[],
  tasks: Iterable<Task>,
  exclude: ReadonlySet<string>,
  maxTasks = Infinity,
): Map<string, NodeInfo> {
  const infos = new Map<string, NodeInfo>();
  for (const node of nodes) {
    if (node.removed) continue;
    infos.set(node.id, {
      node,
      reserved: { nanoCpus: 0, memoryBytes: 0 },
      taskCount: 0,
      maxTasks,
      tasksByService: new Map(),
      hostPorts: new Set(),
    });
  }
  for (const task of tasks) {
    if (!holdsNode(task) || exclude.has(task.id)) continue;
    const info = infos.get(task.nodeId);
    if (info) addTask(info, demandOf(task));
  }
  return infos;
}

/** Records a task on the node: used both for existing tasks and for this pass's assignments. */
export function addTask(info: NodeInfo, demand: TaskDemand): void {
  info.reserved.nanoCpus += demand.reservations.nanoCpus;
  info.reserved.memoryBytes += demand.reservations.memoryBytes;
  info.taskCount++;
  info.tasksByService.set(demand.serviceId, (info.tasksByService.get(demand.serviceId) ?? 0) + 1);
  for (const port of demand.hostPorts) info.hostPorts.add(port);
}

export function serviceTaskCount(info: NodeInfo, serviceId: string): number {
  return info.tasksByService.get(serviceId) ?? 0;
}
