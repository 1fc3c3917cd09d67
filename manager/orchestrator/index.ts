// The orchestrators' pure decision logic (README.md): store snapshot + now in, Plan out.
export { emptyPlan, planWrites, wakeAtEarliest, PlanBuilder } from './plan.js';
export type { Plan, DesiredStateChange, TaskDeletion, ServicePatch } from './plan.js';
export { planService } from './service.js';
export { reconcileReplicated, slotsToRemove } from './replicated.js';
export { reconcileGlobal, acceptsNewTasks, type PlacementPredicate } from './global.js';
export { restartAllowed, releaseHeld, superviseDead, type PlanContext, type SlotTarget } from './restart.js';
export { reapHistory, reapOrphans, TASK_HISTORY_LIMIT } from './reaper.js';
export {
  planUpdate,
  rollbackPatch,
  isUpToDate,
  isRollingBack,
  activeUpdateConfig,
  type RollbackPatch,
} from './update.js';
export {
  RESTART_HOLD_STATE,
  isOccupant,
  isAlive,
  isDead,
  isDraining,
  slotKey,
  taskDisplayName,
  newTask,
  type IdGenerator,
} from './tasks.js';
