// The restart supervisor: what happens to a slot whose occupant died on its own.
//
// A dead occupant (terminal, still desired running) is the persisted marker of "not handled yet".
// Handling it means either restarting (old → desired shutdown, replacement created in the same batch)
// or leaving it as the slot's occupant forever (policy says no): both are decided from the store alone,
// and the second is stable because attempts are counted in the window that ends at the failure
// itself, not at `now` — re-planning later can never change the verdict.
import { taskStateRank, type Service, type Task } from '../../api/objects/index.js';
import type { PlanBuilder } from './plan.js';
import {
  RESTART_HOLD_STATE,
  byCreation,
  endedOnItsOwn,
  isAlive,
  isDead,
  ms,
  newTask,
  type IdGenerator,
} from './tasks.js';

export interface PlanContext {
  /** Wall-clock ms, chosen by the controller; planners never read a clock. */
  now: number;
  newId: IdGenerator;
}

/** Where a replacement goes: the replica's slot (nodeId '' lets the scheduler choose) or a global node. */
export interface SlotTarget {
  slot: number;
  nodeId: string;
}

/**
 * Whether the policy allows restarting `dead`. Attempts are the slot's tasks that ended on their own
 * within `windowMs` before (and including) this one's end; the reaper keeps 5 terminal tasks per slot,
 * so counts above that are not reliable (SwarmKit's count is in memory and lost on failover instead).
 */
export function restartAllowed(dead: Task, slotTasks: readonly Task[]): boolean {
  const policy = dead.spec.restartPolicy;
  if (policy.condition === 'none') return false;
  if (policy.condition === 'on-failure' && dead.status.state === 'complete') return false;
  if (policy.maxAttempts === 0) return true;
  const end = ms(dead.status.timestamp);
  const attempts = slotTasks.filter((t) => {
    if (!endedOnItsOwn(t)) return false;
    const at = ms(t.status.timestamp);
    return at <= end && (policy.windowMs === 0 || at > end - policy.windowMs);
  }).length;
  return attempts <= policy.maxAttempts;
}

/** Rejections back off from at least this, even with `--restart-delay 0`. */
export const REJECTION_BACKOFF_MIN_MS = 1_000;
/** ... and at most this long between two attempts. */
export const REJECTION_BACKOFF_MAX_MS = 5 * 60_000;

/**
 * How long after `rejected` ended its slot waits before the next attempt: the restart delay, doubled
 * for each rejection in a row before it (the slot's history, newest first, up to the first task that
 * got past preparing). A rejection happens while preparing, so the restart hold (which a worker spends
 * preparing) never applied to it: an image that does not exist was retried as fast as the cluster
 * could write (issue 18, fault 3). Read from the store alone, so every leader computes the same time.
 */
export function rejectionBackoffMs(rejected: Task, slotTasks: readonly Task[]): number {
  const end = ms(rejected.status.timestamp);
  const ended = slotTasks
    .filter((t) => endedOnItsOwn(t) && ms(t.status.timestamp) <= end)
    .sort((a, b) => ms(b.status.timestamp) - ms(a.status.timestamp) || -byCreation(a, b));
  let inARow = 0;
  for (const t of ended) {
    if (t.status.state !== 'rejected') break;
    inARow++;
  }
  const base = Math.max(rejected.spec.restartPolicy.delayMs, REJECTION_BACKOFF_MIN_MS);
  return Math.min(base * 2 ** Math.max(0, Math.min(inARow, 20) - 1), REJECTION_BACKOFF_MAX_MS);
}

/** Creates the replacement for a task: held for the restart delay when `delayed` and the delay is set. */
export function createReplacement(
  plan: PlanBuilder,
  service: Service,
  target: SlotTarget,
  ctx: PlanContext,
  delayed: boolean,
): void {
  const delayMs = delayed ? service.spec.task.restartPolicy.delayMs : 0;
  const held = delayMs > 0;
  plan.create(
    newTask(service, ctx.newId(), {
      ...target,
      desiredState: held ? RESTART_HOLD_STATE : 'running',
      message: held ? `restarting in ${delayMs / 1000}s` : 'created',
      now: ctx.now,
    }),
  );
  if (held) plan.wakeAt(ctx.now + delayMs);
}

/**
 * Handles the dead occupants of one slot. A dead task next to an alive one (e.g. the new task of a
 * start-first update failed, or an old one died after its replacement exists) is simply shut down: the
 * slot is covered. Otherwise the newest dead task is restarted if its policy allows.
 */
export function superviseDead(
  plan: PlanBuilder,
  service: Service,
  slotTasks: readonly Task[],
  target: SlotTarget,
  ctx: PlanContext,
): void {
  const dead = slotTasks.filter(isDead).sort(byCreation);
  if (dead.length === 0) return;
  const covered = slotTasks.some(isAlive);
  const newest = dead[dead.length - 1]!;
  for (const t of dead) {
    if (covered || t !== newest) plan.setDesired(t, 'shutdown', 'slot has a newer task');
  }
  if (covered || !restartAllowed(newest, slotTasks)) return;
  if (newest.status.state === 'rejected') {
    // The dead task stays the slot's occupant (the persisted "not handled yet") until its backoff ends.
    const notBefore = ms(newest.status.timestamp) + rejectionBackoffMs(newest, slotTasks);
    if (ctx.now < notBefore) return plan.wakeAt(notBefore);
    plan.setDesired(newest, 'shutdown', 'restarting after rejected');
    createReplacement(plan, service, target, ctx, false);
    return;
  }
  plan.setDesired(newest, 'shutdown', `restarting after ${newest.status.state}`);
  createReplacement(plan, service, target, ctx, true);
}

/** Lets held replacements run once their restart delay (from their own persisted fields) has passed. */
export function releaseHeld(plan: PlanBuilder, slotTasks: readonly Task[], now: number): void {
  for (const t of slotTasks) {
    if (!isAlive(t) || t.desiredState !== RESTART_HOLD_STATE) continue;
    const notBefore = ms(t.meta.createdAt) + t.spec.restartPolicy.delayMs;
    if (now >= notBefore) plan.setDesired(t, 'running', 'restart delay elapsed');
    else plan.wakeAt(notBefore);
  }
}

/**
 * Keeps one alive occupant per spec version in a slot (the most advanced, then the newest). Two of
 * different versions are a start-first update's overlap and belong to the update planner.
 */
export function dropDuplicates(plan: PlanBuilder, slotTasks: readonly Task[]): void {
  const byVersion = new Map<number, Task[]>();
  for (const t of slotTasks.filter(isAlive)) {
    byVersion.set(t.specVersion, [...(byVersion.get(t.specVersion) ?? []), t]);
  }
  for (const same of byVersion.values()) {
    if (same.length < 2) continue;
    const keep = same.reduce((best, t) =>
      taskStateRank(t.status.state) > taskStateRank(best.status.state) ||
      (t.status.state === best.status.state && byCreation(t, best) > 0)
        ? t
        : best,
    );
    for (const t of same) if (t !== keep) plan.setDesired(t, 'shutdown', 'duplicate task in slot');
  }
}
