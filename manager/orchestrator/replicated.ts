// The replicated orchestrator's decision: keep exactly `replicas` slots, each with one occupant.
//
// A slot exists while it has an occupant or a draining task (see tasks.ts). Scale-up fills the lowest
// free slot numbers; scale-down empties whole slots. Tasks lost with their node (down, drained, gone)
// are replaced at once and elsewhere; tasks that died on their own go to the restart supervisor.
import type { Node, Service, Task } from '../../api/objects/index.js';
import { PlanBuilder, type Plan } from './plan.js';
import {
  createReplacement,
  dropDuplicates,
  releaseHeld,
  superviseDead,
  type PlanContext,
} from './restart.js';
import {
  groupBySlot,
  isAlive,
  isDead,
  isDraining,
  isOccupant,
  isRunning,
  newTask,
  nodeKeepsTasks,
  replicasOf,
} from './tasks.js';

/**
 * Scale-up is paced: at most this many new tasks per pass, the next pass this much later. A service of
 * 10,000 replicas fills in ~10 s, while the store, the scheduler, the dispatcher and `service ls` keep
 * answering in between (issue 18, fault 1: one plan of 1,000,000 tasks took the manager down).
 */
export const CREATE_PACE = { tasks: 500, intervalMs: 250 } as const;

export function reconcileReplicated(
  service: Service,
  tasks: readonly Task[],
  nodes: ReadonlyMap<string, Node>,
  ctx: PlanContext,
): Plan {
  const plan = new PlanBuilder();
  const active = new Map<number, Task[]>();
  for (const [, slotTasks] of groupBySlot(tasks)) {
    const slot = slotTasks[0]!.slot;
    if (slot > 0 && slotTasks.some((t) => isOccupant(t) || isDraining(t, nodes))) active.set(slot, slotTasks);
  }

  for (const slot of slotsToRemove(active, replicasOf(service))) {
    for (const t of active.get(slot)!) if (isOccupant(t)) plan.setDesired(t, 'shutdown', 'scaled down');
    active.delete(slot);
  }

  for (const [slot, slotTasks] of active) {
    const lost = slotTasks.filter(
      (t) => isAlive(t) && t.nodeId !== '' && !nodeKeepsTasks(nodes.get(t.nodeId)),
    );
    const rest = slotTasks.filter((t) => !lost.includes(t));
    for (const t of lost) plan.setDesired(t, 'shutdown', 'node down, drained or removed');
    if (lost.length > 0 && !rest.some(isAlive)) {
      // Replaced elsewhere at once: losing a node is not the task's failure, so no delay, no attempt.
      for (const t of rest.filter(isDead)) plan.setDesired(t, 'shutdown', 'slot has a newer task');
      createReplacement(plan, service, { slot, nodeId: '' }, ctx, false);
      continue;
    }
    superviseDead(plan, service, rest, { slot, nodeId: '' }, ctx);
    releaseHeld(plan, rest, ctx.now);
    dropDuplicates(plan, rest);
  }

  let next = 1;
  const missingNow = replicasOf(service) - active.size;
  if (missingNow > CREATE_PACE.tasks) plan.wakeAt(ctx.now + CREATE_PACE.intervalMs);
  for (let missing = Math.min(missingNow, CREATE_PACE.tasks); missing > 0; missing--) {
    while (active.has(next)) next++;
    plan.create(
      newTask(service, ctx.newId(), {
        slot: next,
        nodeId: '',
        desiredState: 'running',
        message: 'created',
        now: ctx.now,
      }),
    );
    next++;
  }
  return plan.build();
}

/**
 * Which slots a scale-down empties: first slots with nothing running (free to drop), then slots on
 * the nodes holding the most of the service's tasks (spreading what stays), then the highest slot.
 */
export function slotsToRemove(active: ReadonlyMap<number, readonly Task[]>, replicas: number): number[] {
  let excess = active.size - replicas;
  if (excess <= 0) return [];
  const nodeOf = (tasks: readonly Task[]) => tasks.find(isAlive)?.nodeId ?? '';
  const load = new Map<string, number>();
  for (const tasks of active.values()) load.set(nodeOf(tasks), (load.get(nodeOf(tasks)) ?? 0) + 1);
  const remaining = new Map(active);
  const removed: number[] = [];
  for (; excess > 0; excess--) {
    let best: { slot: number; idle: boolean; load: number } | undefined;
    for (const [slot, tasks] of remaining) {
      const node = nodeOf(tasks);
      // Unassigned tasks count as the heaviest node: dropping them disturbs nothing.
      const cand = {
        slot,
        idle: !tasks.some((t) => isAlive(t) && isRunning(t)),
        load: node === '' ? Infinity : load.get(node)!,
      };
      if (
        !best ||
        (cand.idle && !best.idle) ||
        (cand.idle === best.idle &&
          (cand.load > best.load || (cand.load === best.load && cand.slot > best.slot)))
      ) {
        best = cand;
      }
    }
    const slot = best!.slot;
    const node = nodeOf(remaining.get(slot)!);
    load.set(node, load.get(node)! - 1);
    remaining.delete(slot);
    removed.push(slot);
  }
  return removed;
}
