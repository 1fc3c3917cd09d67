// The global orchestrator's decision: one occupant per eligible node, the node being the slot.
//
// Eligible for a new task: ready, availability active, and allowed by the placement predicate (the
// controller plugs the scheduler's constraint matcher in). Paused nodes keep what they run but get
// nothing new; drained, down, removed or no-longer-matching nodes have their tasks shut down, and there
// is nowhere else for a global task to go.
import type { Node, Service, Task } from '../../api/objects/index.js';
import { PlanBuilder, type Plan } from './plan.js';
import { dropDuplicates, releaseHeld, superviseDead, type PlanContext } from './restart.js';
import { groupBySlot, isDraining, isOccupant, newTask, nodeKeepsTasks } from './tasks.js';

/** Whether the service's placement constraints allow the node (default: every node). */
export type PlacementPredicate = (node: Node, service: Service) => boolean;

export const acceptsNewTasks = (node: Node): boolean =>
  !node.removed && node.status.state === 'ready' && node.spec.availability === 'active';

export function reconcileGlobal(
  service: Service,
  tasks: readonly Task[],
  nodes: ReadonlyMap<string, Node>,
  ctx: PlanContext,
  placementAllows: PlacementPredicate = () => true,
): Plan {
  const plan = new PlanBuilder();
  const served = new Set<string>();
  for (const [nodeId, slotTasks] of groupBySlot(tasks)) {
    if (nodeId === '') continue; // a global task always names its node; nothing to do with a stray
    const node = nodes.get(nodeId);
    if (!nodeKeepsTasks(node) || !placementAllows(node!, service)) {
      for (const t of slotTasks) if (isOccupant(t)) plan.setDesired(t, 'shutdown', 'node no longer eligible');
      continue;
    }
    if (slotTasks.some((t) => isOccupant(t) || isDraining(t, nodes))) served.add(nodeId);
    // A dead task on a paused (or not yet ready) node stays put until the node takes new tasks again.
    if (acceptsNewTasks(node!)) superviseDead(plan, service, slotTasks, { slot: 0, nodeId }, ctx);
    releaseHeld(plan, slotTasks, ctx.now);
    dropDuplicates(plan, slotTasks);
  }
  const ordered = [...nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const node of ordered) {
    if (served.has(node.id) || !acceptsNewTasks(node) || !placementAllows(node, service)) continue;
    plan.create(
      newTask(service, ctx.newId(), {
        slot: 0,
        nodeId: node.id,
        desiredState: 'running',
        message: 'created',
        now: ctx.now,
      }),
    );
  }
  return plan.build();
}
