// The rolling update planner: one step of moving a service's slots to its current spec.
//
// It keeps no memory. Everything it needs is persisted: the service's updateStatus (state, startedAt),
// each task's spec, specVersion, createdAt and status timestamp. So a new leader re-running it after a
// failover continues exactly where the old one stopped: a slot is "outdated" while its occupant's spec
// differs from the service's, "in flight" while its up-to-date occupant is not running yet (or, in
// stop-first, while the slot waits for its old task to stop and the replicated/global reconcile to
// refill it), "done" otherwise. A batch starts only when nothing is in flight.
import { isDeepStrictEqual } from 'node:util';
import type {
  Node,
  Service,
  ServiceSpec,
  Task,
  UpdateConfig,
  UpdateStatus,
} from '../../api/objects/index.js';
import { acceptsNewTasks } from './global.js';
import { PlanBuilder, type Plan } from './plan.js';
import type { PlanContext } from './restart.js';
import {
  groupBySlot,
  isAlive,
  isDead,
  isDraining,
  isOccupant,
  isRunning,
  iso,
  ms,
  newTask,
} from './tasks.js';

/** A task matches the service when made from this spec version, or from an identical spec (rollback). */
export const isUpToDate = (t: Task, service: Service): boolean =>
  t.specVersion === service.specVersion || isDeepStrictEqual(t.spec, service.spec.task);

export const isRollingBack = (s: Service): boolean =>
  s.updateStatus?.state === 'rollback_started' || s.updateStatus?.state === 'rollback_paused';

const inProgress = (s: Service): boolean =>
  s.updateStatus?.state === 'updating' || s.updateStatus?.state === 'rollback_started';
const paused = (s: Service): boolean =>
  s.updateStatus?.state === 'paused' || s.updateStatus?.state === 'rollback_paused';

/** The config the current update runs with: `spec.rollback` while rolling back, else `spec.update`. */
export const activeUpdateConfig = (s: Service): UpdateConfig =>
  isRollingBack(s) ? s.spec.rollback : s.spec.update;

export interface RollbackPatch {
  spec: ServiceSpec;
  previousSpec: ServiceSpec;
  specVersion: number;
  updateStatus: UpdateStatus;
}

/**
 * `service rollback` and the automatic rollback alike: the previous spec becomes the spec (a new
 * version), and the update runs with that spec's rollback config. Undefined: nothing to roll back to.
 */
export function rollbackPatch(service: Service, now: number, message: string): RollbackPatch | undefined {
  if (!service.previousSpec) return undefined;
  return {
    spec: structuredClone(service.previousSpec),
    previousSpec: structuredClone(service.spec),
    specVersion: service.specVersion + 1,
    updateStatus: { state: 'rollback_started', startedAt: iso(now), completedAt: '', message },
  };
}

interface SlotView {
  key: string;
  outdated: Task[]; // occupants made from another spec
  current: Task[]; // occupants made from the service's spec
  draining: boolean;
}

function slotsOf(service: Service, tasks: readonly Task[], nodes: ReadonlyMap<string, Node>): SlotView[] {
  const views: SlotView[] = [];
  for (const [key, slotTasks] of groupBySlot(tasks)) {
    const occupants = slotTasks.filter(isOccupant);
    const draining = slotTasks.some((t) => isDraining(t, nodes));
    if (occupants.length === 0 && !draining) continue;
    // Global: a leaving node's tasks are the reconcile's; a paused node gets no new task, so its slot
    // waits, untouched, until the node is active again (then a new update pass picks it up).
    const node = nodes.get(key);
    if (slotTasks[0]!.slot === 0 && (node === undefined || !acceptsNewTasks(node))) continue;
    views.push({
      key,
      outdated: occupants.filter((t) => !isUpToDate(t, service)),
      current: occupants.filter((t) => isUpToDate(t, service)),
      draining,
    });
  }
  const order = (k: string) => (/^\d+$/.test(k) ? k.padStart(16, '0') : k);
  return views.sort((a, b) => (order(a.key) < order(b.key) ? -1 : 1));
}

/**
 * The tasks this update made that failed or were rejected. SwarmKit counts a failure within monitorMs
 * of the task starting to run; the store keeps only a task's latest status time, so once failed, when
 * it started is lost. Instead every updated task is watched until the update completes, which itself
 * waits monitorMs after the last one started: the last batch gets exactly the window, earlier batches
 * a longer one (stricter than SwarmKit, never looser). A window counted from creation would miss a
 * task that took longer than monitorMs to start and then crashed at once.
 */
function failedUpdates(service: Service, tasks: readonly Task[]): Task[] {
  const startedAt = ms(service.updateStatus!.startedAt);
  return tasks.filter(
    (t) =>
      t.specVersion === service.specVersion &&
      ms(t.meta.createdAt) >= startedAt &&
      (t.status.state === 'rejected' || t.status.state === 'failed'),
  );
}

export function planUpdate(
  service: Service,
  tasks: readonly Task[],
  nodes: ReadonlyMap<string, Node>,
  ctx: PlanContext,
): Plan {
  const plan = new PlanBuilder();
  const slots = slotsOf(service, tasks, nodes);
  let inFlight = 0;
  const outdated: SlotView[] = [];
  for (const s of slots) {
    const newRunning = s.current.some((t) => isAlive(t) && isRunning(t));
    if (s.outdated.length > 0 && s.current.length > 0) {
      // Start-first overlap: the old task goes once its replacement runs (a dead replacement was
      // already shut down by the restart supervisor, so `current` here is alive).
      if (newRunning) for (const t of s.outdated) plan.setDesired(t, 'shutdown', 'replaced by updated task');
      else inFlight++;
    } else if (s.outdated.length > 0) {
      outdated.push(s);
    } else if (!newRunning && !(s.current.length > 0 && s.current.every(isDead))) {
      inFlight++; // stop-first gap, or the updated task is still being scheduled / started
    }
  }

  const state = service.updateStatus?.state;
  const rollingBack = isRollingBack(service);
  const config = activeUpdateConfig(service);
  if (paused(service)) return plan.build(); // only finishing started overlaps; the user resumes

  if (outdated.length === 0 && inFlight === 0) {
    if (!inProgress(service)) return plan.build();
    if (failureAction(plan, service, tasks, slots.length, ctx)) return plan.build();
    const settle = lastRunningAt(service, tasks) + config.monitorMs;
    if (ctx.now < settle) {
      plan.wakeAt(settle);
      return plan.build();
    }
    plan.patchService(service, {
      updateStatus: {
        ...service.updateStatus!,
        state: rollingBack ? 'rollback_completed' : 'completed',
        completedAt: iso(ctx.now),
        message: rollingBack ? 'rollback completed' : 'update completed',
      },
    });
    return plan.build();
  }

  if (!inProgress(service)) {
    if (outdated.length === 0) return plan.build(); // stray in-flight work with no update: reconcile's
    plan.patchService(service, {
      updateStatus: {
        state: 'updating',
        startedAt: iso(ctx.now),
        completedAt: '',
        message: 'update in progress',
      },
    });
    return plan.build();
  }
  if (failureAction(plan, service, tasks, slots.length, ctx)) return plan.build();
  if (inFlight > 0) return plan.build();
  const nextBatchAt = lastRunningAt(service, tasks) + config.delayMs;
  if (ctx.now < nextBatchAt) {
    plan.wakeAt(nextBatchAt);
    return plan.build();
  }
  const batch = config.parallelism === 0 ? outdated : outdated.slice(0, config.parallelism);
  for (const s of batch) {
    if (config.order === 'stop-first') {
      // The slot empties; the reconcile refills it from the current spec once the old task stopped.
      for (const t of s.outdated)
        plan.setDesired(t, 'shutdown', state === 'rollback_started' ? 'rolling back' : 'updating');
    } else {
      const old = s.outdated[0]!;
      plan.create(
        newTask(service, ctx.newId(), {
          slot: old.slot,
          nodeId: old.slot === 0 ? old.nodeId : '',
          desiredState: 'running',
          message: rollingBack ? 'rolling back' : 'updating',
          now: ctx.now,
        }),
      );
    }
  }
  return plan.build();
}

/** When the newest updated task started running (startedAt when none has yet): batches and the monitor count from it. */
function lastRunningAt(service: Service, tasks: readonly Task[]): number {
  const startedAt = ms(service.updateStatus!.startedAt);
  let last = startedAt;
  for (const t of tasks) {
    if (
      t.specVersion === service.specVersion &&
      isAlive(t) &&
      isRunning(t) &&
      ms(t.meta.createdAt) >= startedAt
    ) {
      last = Math.max(last, ms(t.status.timestamp));
    }
  }
  return last;
}

/** Applies the failure action when too many updated tasks failed; true if the update stops here. */
function failureAction(
  plan: PlanBuilder,
  service: Service,
  tasks: readonly Task[],
  slotCount: number,
  ctx: PlanContext,
): boolean {
  const config = activeUpdateConfig(service);
  const failed = failedUpdates(service, tasks);
  if (failed.length === 0 || failed.length / Math.max(slotCount, 1) <= config.maxFailureRatio) return false;
  if (config.failureAction === 'continue') return false;
  const why = `update failed: task ${failed[0]!.id} ${failed[0]!.status.state} (${failed.length}/${slotCount} failed)`;
  if (config.failureAction === 'rollback' && !isRollingBack(service)) {
    const patch = rollbackPatch(service, ctx.now, `${why}; rolling back`);
    if (patch) {
      plan.patchService(service, patch);
      return true;
    }
  }
  plan.patchService(service, {
    updateStatus: {
      ...service.updateStatus!,
      state: isRollingBack(service) ? 'rollback_paused' : 'paused',
      message: why,
    },
  });
  return true;
}
