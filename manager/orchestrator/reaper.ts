// The task reaper: bounded history per slot, and the tasks of services that no longer exist.
import { isTerminalTaskState, taskStateRank, type Node, type Task } from '../../api/objects/index.js';
import { PlanBuilder, type Plan } from './plan.js';
import { byCreation, groupBySlot, isOccupant } from './tasks.js';

/** Terminal tasks kept per slot, as SwarmKit's default TaskHistoryRetentionLimit (`service ps` shows them). */
export const TASK_HISTORY_LIMIT = 5;

/**
 * Deletes the oldest terminal tasks of each slot beyond `limit`. An occupant is never deleted, even
 * when terminal: a dead task the policy will not restart is what holds its slot.
 */
export function reapHistory(tasks: readonly Task[], limit: number = TASK_HISTORY_LIMIT): Plan {
  const plan = new PlanBuilder();
  for (const slotTasks of groupBySlot(tasks).values()) {
    const terminal = slotTasks.filter((t) => isTerminalTaskState(t.status.state)).sort(byCreation);
    let excess = terminal.length - limit;
    for (const t of terminal) {
      if (excess <= 0) break;
      if (isOccupant(t)) continue;
      plan.remove(t, `history beyond ${limit} tasks per slot`);
      excess--;
    }
  }
  return plan.build();
}

/**
 * Tasks whose service is gone: shut down, then deleted once terminal. A task no worker holds (never
 * scheduled) or whose node can no longer report (gone, removed, down) is deleted at once: its worker,
 * if it ever comes back, drops it when the task vanishes from its assignments.
 */
export function reapOrphans(tasks: readonly Task[], nodes: ReadonlyMap<string, Node>): Plan {
  const plan = new PlanBuilder();
  for (const t of tasks) {
    const node = nodes.get(t.nodeId);
    const canReport = t.nodeId !== '' && node !== undefined && !node.removed && node.status.state !== 'down';
    if (isTerminalTaskState(t.status.state) || !canReport) plan.remove(t, 'service removed');
    else if (taskStateRank(t.desiredState) < taskStateRank('shutdown'))
      plan.setDesired(t, 'shutdown', 'service removed');
  }
  return plan.build();
}
