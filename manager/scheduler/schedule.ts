// Batch scheduling: place many pending tasks in one pass, as SwarmKit's scheduler does on each tick.
//
//  1. Count what every node already holds (tasks placed and not terminal).
//  2. Pre-assigned tasks (the global orchestrator names the node) are checked against their node only.
//  3. The others are grouped by (service, reservations, constraints, host ports): identical tasks see the
//     same verdicts. The static filters (ready, availability, constraints) run once per node for each
//     distinct constraint list, whatever the number of tasks or services sharing it.
//  4. Each group's eligible nodes go into a min-heap ordered by the spread rule (fewest tasks of this
//     service, then fewest tasks, then node id). Each task goes to the top node that passes the dynamic
//     filters (resources, host ports); the node's counters grow and it sifts down. A node that fails a
//     dynamic filter leaves the heap for the rest of the group: within a pass, nodes only fill up.
//
// Cost: O(constraint lists × nodes + groups × nodes (heap builds) + tasks × log nodes). Pure: no clock,
// no randomness, no I/O; the result depends only on the inputs' content, not on the order of
// `pendingTasks`.
import type { Node, Task } from '../../api/objects/index.js';
import { parseConstraints, type Constraint, type ConstraintError } from '../../api/constraints.js';
import {
  DYNAMIC_FILTERS,
  STATIC_FILTERS,
  explainNoSuitableNode,
  firstRejection,
  type Requirements,
} from './filters.js';
import { MinHeap } from './heap.js';
import { addTask, buildNodeInfos, demandOf, serviceTaskCount, type NodeInfo } from './node-info.js';

export interface SchedulingState {
  /** Every node object the store holds (removed ones are skipped). */
  readonly nodes: readonly Node[];
  /**
   * The store's tasks: those placed on a node and not yet terminal count against it. Tasks being
   * scheduled may appear here too; they are not counted twice.
   */
  readonly tasks: Iterable<Task>;
  /** Admission: the most live tasks one node is given (the cluster's maxTasksPerNode). */
  readonly maxTasksPerNode?: number;
}

export interface BatchResult {
  /** taskId → nodeId for every task that found a node. */
  readonly assignments: Map<string, string>;
  /** taskId → why no node fits, worded for `service ps` ("no suitable node (...)"). */
  readonly unschedulable: Map<string, string>;
}

/**
 * Chooses a node for each pending task. The caller decides which tasks are pending (status pending,
 * desired state running or earlier) and writes the result: `nodeId` and state `assigned` for the
 * assignments, `status.err` for the others.
 */
export function scheduleBatch(state: SchedulingState, pendingTasks: readonly Task[]): BatchResult {
  const result: BatchResult = { assignments: new Map(), unschedulable: new Map() };
  const pending = dedupeAndSort(pendingTasks);
  const infos = buildNodeInfos(
    state.nodes,
    state.tasks,
    new Set(pending.map((t) => t.id)),
    state.maxTasksPerNode,
  );
  const constraintsOf = memoizedParser();

  // Pinned tasks first: a global service's task has exactly one possible node, while replicated tasks
  // can go elsewhere if it fills up.
  for (const task of pending) {
    if (task.nodeId !== '') schedulePinned(task, infos, constraintsOf, result);
  }
  // Static verdicts depend on the node and the constraints only, so groups with the same constraints
  // (most often none) share one eligibility scan.
  const eligibleByConstraints = new Map<string, NodeInfo[]>();
  const unpinned = pending.filter((t) => t.nodeId === '');
  for (const group of groupsOf(unpinned, constraintsOf)) {
    if ('error' in group) {
      for (const t of group.tasks) result.unschedulable.set(t.id, group.error.message);
      continue;
    }
    let eligible = eligibleByConstraints.get(group.constraintsKey);
    if (eligible === undefined) {
      eligible = [...infos.values()].filter((info) => !firstRejection(info, group.req, STATIC_FILTERS));
      eligibleByConstraints.set(group.constraintsKey, eligible);
    }
    scheduleGroup(group.req, group.tasks, eligible, infos, result);
  }
  return result;
}

function dedupeAndSort(tasks: readonly Task[]): Task[] {
  const byId = new Map<string, Task>();
  for (const t of tasks) if (!byId.has(t.id)) byId.set(t.id, t);
  return [...byId.values()].sort(
    (a, b) => cmp(a.serviceId, b.serviceId) || a.slot - b.slot || cmp(a.nodeId, b.nodeId) || cmp(a.id, b.id),
  );
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

type ConstraintsOf = (task: Task) => Constraint[] | ConstraintError;

function memoizedParser(): ConstraintsOf {
  const cache = new Map<string, Constraint[] | ConstraintError>();
  return (task) => {
    const exprs = task.spec.placement?.constraints ?? [];
    const key = JSON.stringify(exprs);
    let parsed = cache.get(key);
    if (parsed === undefined) cache.set(key, (parsed = parseConstraints(exprs)));
    return parsed;
  };
}

function requirementsOf(task: Task, constraints: Constraint[]): Requirements {
  return { ...demandOf(task), constraints };
}

function schedulePinned(
  task: Task,
  infos: ReadonlyMap<string, NodeInfo>,
  constraintsOf: ConstraintsOf,
  result: BatchResult,
): void {
  const constraints = constraintsOf(task);
  if (!Array.isArray(constraints)) {
    result.unschedulable.set(task.id, constraints.message);
    return;
  }
  const info = infos.get(task.nodeId);
  if (!info) {
    result.unschedulable.set(task.id, `no suitable node (node ${task.nodeId} is not in the swarm)`);
    return;
  }
  const req = requirementsOf(task, constraints);
  if (firstRejection(info, req)) {
    result.unschedulable.set(task.id, explainNoSuitableNode([info], req));
    return;
  }
  addTask(info, req);
  result.assignments.set(task.id, info.node.id);
}

type Group = { tasks: Task[]; constraintsKey: string } & ({ req: Requirements } | { error: ConstraintError });

/** Groups in order of their first task, tasks within a group in (slot, id) order. */
function groupsOf(tasks: readonly Task[], constraintsOf: ConstraintsOf): Group[] {
  const groups = new Map<string, Group>();
  for (const task of tasks) {
    const demand = demandOf(task);
    const constraintsKey = JSON.stringify(task.spec.placement?.constraints ?? []);
    const key = JSON.stringify([
      demand.serviceId,
      demand.reservations.nanoCpus,
      demand.reservations.memoryBytes,
      demand.hostPorts,
      constraintsKey,
    ]);
    let group = groups.get(key);
    if (!group) {
      const constraints = constraintsOf(task);
      group = Array.isArray(constraints)
        ? { tasks: [], constraintsKey, req: { ...demand, constraints } }
        : { tasks: [], constraintsKey, error: constraints };
      groups.set(key, group);
    }
    group.tasks.push(task);
  }
  return [...groups.values()];
}

/** `eligible`: the nodes that pass the static filters for this group's constraints. */
function scheduleGroup(
  req: Requirements,
  tasks: readonly Task[],
  eligible: readonly NodeInfo[],
  infos: ReadonlyMap<string, NodeInfo>,
  result: BatchResult,
): void {
  // Each entry carries the node's count of this group's service: one map lookup per node instead of
  // two per comparison. Only this group places tasks of the service while it runs, so it stays exact.
  const heap = new MinHeap(
    eligible.map((info) => ({ info, ofService: serviceTaskCount(info, req.serviceId) })),
    (a, b) => {
      if (a.ofService !== b.ofService) return a.ofService < b.ofService;
      if (a.info.taskCount !== b.info.taskCount) return a.info.taskCount < b.info.taskCount;
      return a.info.node.id < b.info.node.id;
    },
  );

  let next = 0;
  while (next < tasks.length) {
    const top = heap.peek();
    if (top === undefined) break;
    if (firstRejection(top.info, req, DYNAMIC_FILTERS)) {
      heap.pop(); // full, or its port is taken: it stays so for the rest of this pass
      continue;
    }
    addTask(top.info, req);
    top.ofService++;
    result.assignments.set(tasks[next++]!.id, top.info.node.id);
    heap.topIncreased();
  }
  if (next === tasks.length) return;
  const reason = explainNoSuitableNode(infos.values(), req);
  for (; next < tasks.length; next++) result.unschedulable.set(tasks[next]!.id, reason);
}
