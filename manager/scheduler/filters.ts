// The filter pipeline: each filter says whether a node can take a task, and how to explain the nodes it
// turned away. A node is charged to the first filter that rejects it, so the counts in "no suitable node
// (...)" add up to the number of nodes, in pipeline order (as Docker prints them).
import { matchesConstraints, type Constraint } from '../../api/constraints.js';
import type { NodeInfo, TaskDemand } from './node-info.js';

export interface Requirements extends TaskDemand {
  readonly constraints: readonly Constraint[];
}

/** Why nodes were rejected; filters with the same reason share one clause in the message. */
export type RejectionReason = 'unavailable' | 'resources' | 'task-limit' | 'constraints' | 'host-port';

export interface Filter {
  readonly name: string;
  readonly reason: RejectionReason;
  /**
   * Static filters depend only on the node and the task's spec: one verdict per group of identical
   * tasks. Dynamic ones also depend on what the node already holds, which changes as a batch assigns.
   */
  readonly dynamic: boolean;
  accepts(info: NodeInfo, req: Requirements): boolean;
}

/** The node's worker holds a live session (the dispatcher marks it ready; down/unknown take nothing). */
export const readyFilter: Filter = {
  name: 'ready',
  reason: 'unavailable',
  dynamic: false,
  accepts: (info) => info.node.status.state === 'ready',
};

/** `pause` keeps running tasks but takes no new ones; `drain` also moves its tasks away. */
export const availabilityFilter: Filter = {
  name: 'availability',
  reason: 'unavailable',
  dynamic: false,
  accepts: (info) => info.node.spec.availability === 'active',
};

/**
 * Reservations must fit in what the node advertises minus what its live tasks reserve. A dimension the
 * node advertises as 0 is unknown (its worker has not reported a description yet) and is not limited:
 * refusing every reserving task there would leave them pending with a misleading reason, while a real
 * worker always reports its CPUs and memory on its first session.
 */
export const resourceFilter: Filter = {
  name: 'resources',
  reason: 'resources',
  dynamic: true,
  accepts: (info, req) => {
    const have = info.node.description.resources;
    const want = req.reservations;
    if (want.nanoCpus > 0 && have.nanoCpus > 0 && info.reserved.nanoCpus + want.nanoCpus > have.nanoCpus) {
      return false;
    }
    return !(
      want.memoryBytes > 0 &&
      have.memoryBytes > 0 &&
      info.reserved.memoryBytes + want.memoryBytes > have.memoryBytes
    );
  },
};

/**
 * Admission: a node is given at most the cluster's maxTasksPerNode live tasks, whatever their
 * reservations (a task without any reserves nothing, and a million of them once went to one node).
 */
const taskLimitFilter: Filter = {
  name: 'task-limit',
  reason: 'task-limit',
  dynamic: true,
  accepts: (info) => info.taskCount < info.maxTasks,
};

export const constraintFilter: Filter = {
  name: 'constraints',
  reason: 'constraints',
  dynamic: false,
  accepts: (info, req) => matchesConstraints(info.node, req.constraints),
};

/** Two tasks cannot bind the same protocol/port on one host. */
export const hostPortFilter: Filter = {
  name: 'host-port',
  reason: 'host-port',
  dynamic: true,
  accepts: (info, req) => req.hostPorts.every((p) => !info.hostPorts.has(p)),
};

/** Docker's order, which is also the order of the clauses in an explanation. */
export const PIPELINE: readonly Filter[] = [
  readyFilter,
  availabilityFilter,
  resourceFilter,
  taskLimitFilter,
  constraintFilter,
  hostPortFilter,
];
export const STATIC_FILTERS = PIPELINE.filter((f) => !f.dynamic);
export const DYNAMIC_FILTERS = PIPELINE.filter((f) => f.dynamic);

/** The first filter that rejects the node, or undefined if the node can take the task. */
export function firstRejection(
  info: NodeInfo,
  req: Requirements,
  filters: readonly Filter[] = PIPELINE,
): Filter | undefined {
  for (const f of filters) if (!f.accepts(info, req)) return f;
  return undefined;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

const CLAUSES: Readonly<Record<RejectionReason, (n: number) => string>> = {
  unavailable: (n) => `${plural(n, 'node', 'nodes')} not available for new tasks`,
  resources: (n) => `${plural(n, 'node has', 'nodes have')} insufficient resources`,
  'task-limit': (n) => `${plural(n, 'node is', 'nodes are')} at the task limit per node`,
  constraints: (n) => `scheduling constraints not satisfied on ${plural(n, 'node', 'nodes')}`,
  'host-port': (n) => `host-mode port already in use on ${plural(n, 'node', 'nodes')}`,
};
const CLAUSE_ORDER: readonly RejectionReason[] = [
  'unavailable',
  'resources',
  'task-limit',
  'constraints',
  'host-port',
];

/**
 * Runs the whole pipeline on every candidate and words the result Docker's way:
 * "no suitable node (1 node not available for new tasks; 2 nodes have insufficient resources)".
 * Only called once no node fits, so its O(nodes) cost is paid once per failing group.
 */
export function explainNoSuitableNode(candidates: Iterable<NodeInfo>, req: Requirements): string {
  const counts = new Map<RejectionReason, number>();
  let total = 0;
  for (const info of candidates) {
    total++;
    const f = firstRejection(info, req);
    if (f) counts.set(f.reason, (counts.get(f.reason) ?? 0) + 1);
  }
  if (total === 0) return 'no suitable node (no nodes in the swarm)';
  const clauses = CLAUSE_ORDER.filter((r) => counts.has(r)).map((r) => CLAUSES[r](counts.get(r)!));
  return clauses.length === 0 ? 'no suitable node' : `no suitable node (${clauses.join('; ')})`;
}
