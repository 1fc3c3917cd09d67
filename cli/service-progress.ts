// The live display `service create/update/scale/rollback` show until the service converges, modelled
// on Docker's: an overall count, one line per slot (per node for a global service) with the state bar,
// then `verify: Service converged`, or a verdict saying why it cannot converge. `progressStep` is pure
// (service + tasks + nodes + clock → lines + verdict); the poller in commands-service-progress.ts only
// fetches and draws.
import { isDeepStrictEqual } from 'node:util';
import { TASK_STATES, type TaskState } from '../api/objects/index.js';
import {
  isGlobal,
  replicasOf,
  type NodeName,
  type ServiceView,
  type TaskView,
  type UpdateStatus,
} from './objects.js';

/**
 * How long a task may sit pending with an error (no node fits, no address left) before the display
 * stops following. As Docker does, that is not a failure: the service exists and its tasks start when
 * a node fits (labels change, nodes join); the command ends with the reason shown and exits 0, so a
 * non-zero exit keeps meaning "nothing changed".
 */
export const STUCK_PENDING_MS = 5_000;

/** Docker's numbering of the pre-run states, which sets the bar's length; running fills it. */
const NUMBERED_STATES: Record<string, number> = {
  new: 1,
  allocated: 2,
  pending: 3,
  assigned: 4,
  accepted: 5,
  preparing: 6,
  ready: 7,
  starting: 8,
  running: 9,
};
const MAX_PROGRESS = 9;
const LONGEST_STATE = 'preparing'.length;

/** Docker's jsonmessage progress bar: 50 columns, `=` per 2 %, then `>`. */
export function stateBar(state: string): string {
  const current = NUMBERED_STATES[state];
  if (current === undefined) return '';
  const filled = Math.min(50, Math.floor(Math.floor((current / MAX_PROGRESS) * 100) / 2));
  return `[${'='.repeat(filled)}>${' '.repeat(50 - filled)}]`;
}

export type Goal = 'converge' | 'rollback';

/** Memory key: when every slot was first seen converged (tasks ids never start with a NUL). */
export const STABLE_SINCE = '\0stable-since';

/** How long converged tasks must stay up before the display says so: the update monitor, as Docker. */
export const stabilityMs = (service: ServiceView) =>
  Math.min(service.spec.update?.monitorMs ?? DEFAULT_STABILITY_MS, DEFAULT_STABILITY_MS);
const DEFAULT_STABILITY_MS = 5_000;

export type Verdict =
  | { kind: 'waiting' }
  | { kind: 'converged' }
  /** Created and kept, but tasks cannot be placed now: the reason, and the command exits 0. */
  | { kind: 'pending'; message: string }
  | { kind: 'failed'; message: string };

export interface ProgressInput {
  service: ServiceView;
  /** Every task of the service (history included). */
  tasks: TaskView[];
  nodes: NodeName[];
  /** Global services: how many nodes should run one (ListServices' `desired`). */
  globalDesired: number;
  /**
   * The update status the service had right after our request. A finished one (completed, paused,
   * rolled back) is the outcome of an earlier update until the orchestrator starts ours, so it is
   * ignored until it changes; an in-progress one is ours.
   */
  baseline: UpdateStatus | null;
  now: number;
}

/** What the model carries between polls: when each task was first seen pending with an error. */
export type ProgressMemory = ReadonlyMap<string, number>;

export interface ProgressView {
  lines: string[];
  verdict: Verdict;
  memory: ProgressMemory;
}

/** A state's place in the task lifecycle, as the store orders them (-1 for a state it does not know). */
const STATE_ORDER: readonly string[] = TASK_STATES;
const taskStateRank = (state: string) => STATE_ORDER.indexOf(state);

const wantsRunning = (t: TaskView) => taskStateRank(t.desiredState) <= taskStateRank('running');
const newestFirst = (a: TaskView, b: TaskView) =>
  b.meta.createdAt.localeCompare(a.meta.createdAt) || b.id.localeCompare(a.id);

/** States a task reaches by itself when its process ends (not by being told to stop). */
const ENDED: readonly string[] = ['complete', 'failed', 'rejected'] satisfies TaskState[];

/** Why the restart policy will not replace `ended`, the newest task of its slot; undefined if it will. */
function noRestartReason(service: ServiceView, slotTasks: TaskView[], ended: TaskView, now: number) {
  const policy = service.spec.task.restartPolicy;
  const outcome = ended.status.err || ended.status.message || ended.status.state;
  if (policy.condition === 'none')
    return `task ${ended.status.state} (${outcome}); restart condition is none`;
  if (policy.condition === 'on-failure' && ended.status.state === 'complete')
    return 'task completed; restart condition on-failure does not restart it';
  if (policy.maxAttempts > 0) {
    const counted = slotTasks.filter(
      (t) =>
        ENDED.includes(t.status.state) &&
        (policy.windowMs === 0 || now - Date.parse(t.status.timestamp) <= policy.windowMs),
    );
    // The first run is not a restart: max-attempts N allows N + 1 runs.
    if (counted.length > policy.maxAttempts)
      return `task ${ended.status.state} (${outcome}) after ${policy.maxAttempts} restart attempts`;
  }
  return undefined;
}

/**
 * Rejections in a row after which the display calls the failure permanent: the same reason from the
 * node every time (an image that does not exist, a workdir missing) will not go away by retrying, so
 * the command exits 1 with it while the orchestrator keeps retrying with growing delays.
 */
export const PERMANENT_REJECTIONS = 3;

/** The reason when the slot's newest tasks were rejected PERMANENT_REJECTIONS times with one reason. */
function permanentRejection(slotTasks: TaskView[]): string | undefined {
  const ended = slotTasks.filter((t) => ENDED.includes(t.status.state)).slice(0, PERMANENT_REJECTIONS);
  if (ended.length < PERMANENT_REJECTIONS) return undefined;
  const reason = ended[0]!.status.err;
  const same = ended.every((t) => t.status.state === 'rejected' && t.status.err === reason);
  return same && reason ? `task rejected ${PERMANENT_REJECTIONS} times: ${reason}` : undefined;
}

interface Slot {
  label: string;
  /** All tasks of the slot, newest first. */
  tasks: TaskView[];
}

function slotsOf(input: ProgressInput): Slot[] {
  const { service, tasks, nodes } = input;
  if (isGlobal(service.spec)) {
    const hostnames = new Map(nodes.map((n) => [n.id, n.description.hostname]));
    const byNode = new Map<string, TaskView[]>();
    for (const t of tasks) if (t.nodeId) byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t]);
    return [...byNode.entries()]
      .filter(([, ts]) => ts.some(wantsRunning))
      .map(([nodeId, ts]) => ({ label: hostnames.get(nodeId) ?? nodeId, tasks: ts.sort(newestFirst) }))
      .sort((a, b) => a.label.localeCompare(b.label));
  }
  const replicas = replicasOf(service.spec);
  return Array.from({ length: replicas }, (_, i) => ({
    label: `${i + 1}/${replicas}`,
    tasks: tasks.filter((t) => t.slot === i + 1).sort(newestFirst),
  }));
}

const IN_PROGRESS = ['updating', 'rollback_started'];

function relevantStatus({ service, baseline }: ProgressInput): UpdateStatus | undefined {
  const u = service.updateStatus;
  if (!u) return undefined;
  const stale = baseline && baseline.state === u.state && baseline.startedAt === u.startedAt;
  return IN_PROGRESS.includes(u.state) || !stale ? u : undefined;
}

function updateStatusVerdict(u: UpdateStatus | undefined, goal: Goal): Verdict | undefined {
  if (!u) return undefined;
  const why = u.message ? `: ${u.message}` : '';
  if (goal === 'converge') {
    if (u.state === 'paused') return { kind: 'failed', message: `update paused${why}` };
    if (u.state.startsWith('rollback_')) return { kind: 'failed', message: `update rolled back${why}` };
  } else if (u.state === 'rollback_paused') {
    return { kind: 'failed', message: `rollback paused${why}` };
  }
  return undefined;
}

const updateDone = (u: UpdateStatus | undefined, goal: Goal) =>
  !u || u.state === 'completed' || (goal === 'rollback' && u.state === 'rollback_completed');

export function progressStep(memory: ProgressMemory, input: ProgressInput, goal: Goal): ProgressView {
  const { service, now } = input;
  // The orchestrator's rule: a task made from an identical spec is up to date (a scale or a label
  // change bumps the version without replacing tasks; a rollback returns to the old tasks' spec).
  const current = (t: TaskView) =>
    t.specVersion === service.specVersion || isDeepStrictEqual(t.spec, service.spec.task);
  const nextMemory = new Map<string, number>();
  const lines: string[] = [];
  let failure: string | undefined;
  let stuck: string | undefined;
  let done = 0;
  const slots = slotsOf(input);
  for (const slot of slots) {
    const task = slot.tasks.find((t) => current(t) && wantsRunning(t));
    const newest = slot.tasks.find(current);
    if (task?.status.state === 'running') done++;
    // Shown: the task meant to run, else the slot's last one if it ended by itself (its replacement
    // is not made yet); a task told to stop (an update's old one) says nothing about the slot's progress.
    const shown = task ?? (newest && ENDED.includes(newest.status.state) ? newest : undefined);
    if (shown?.status.err) lines.push(`${slot.label}: ${shown.status.err}`);
    else {
      const state = shown?.status.state ?? 'new';
      lines.push(`${slot.label}: ${state.padEnd(LONGEST_STATE)} ${stateBar(state)}`.trimEnd());
    }
    if (task && task.status.err && taskStateRank(task.status.state) < taskStateRank('assigned')) {
      const since = memory.get(task.id) ?? now;
      nextMemory.set(task.id, since);
      if (now - since >= STUCK_PENDING_MS) stuck ??= `${slot.label}: ${task.status.err}`;
    }
    // A dead task the policy will not replace keeps its slot, still desired running (the orchestrator's
    // occupant), so the slot's newest task decides, whether or not it is still meant to run.
    if ((!task || ENDED.includes(task.status.state)) && newest && ENDED.includes(newest.status.state)) {
      const reason = noRestartReason(service, slot.tasks.filter(current), newest, now);
      if (reason) failure ??= `${slot.label}: ${reason}`;
    }
    if (task?.status.state !== 'running') {
      const permanent = permanentRejection(slot.tasks.filter(current));
      if (permanent) failure ??= `${slot.label}: ${permanent}`;
    }
  }
  const desired = isGlobal(service.spec) ? Math.max(input.globalDesired, slots.length) : slots.length;
  const prefix = goal === 'rollback' ? 'rollback: rolling back update: ' : 'overall progress: ';
  lines.unshift(`${prefix}${done} out of ${desired} tasks`);

  const status = relevantStatus(input);
  const statusVerdict = updateStatusVerdict(status, goal);
  if (statusVerdict) return { lines, verdict: statusVerdict, memory: nextMemory };
  if (failure) return { lines, verdict: { kind: 'failed', message: failure }, memory: nextMemory };
  if (stuck) return { lines, verdict: { kind: 'pending', message: stuck }, memory: nextMemory };
  // Converged: every slot runs the current spec, nothing else is meant to run (a scale-down's extra
  // slots and an update's old tasks are told to stop), and the update, if any, says it finished.
  const strays = input.tasks.filter(
    (t) =>
      wantsRunning(t) && (!current(t) || (!isGlobal(service.spec) && (t.slot < 1 || t.slot > slots.length))),
  );
  if (done === desired && strays.length === 0 && updateDone(status, goal)) {
    // Docker's last step: the tasks must stay up for the monitor period, so a task that dies right
    // after it started (a crash, an OOM kill) is not reported as a converged service.
    const since = memory.get(STABLE_SINCE) ?? now;
    const waitMs = stabilityMs(service);
    if (now - since >= waitMs) {
      lines.push('verify: Service converged');
      return { lines, verdict: { kind: 'converged' }, memory: nextMemory };
    }
    nextMemory.set(STABLE_SINCE, since);
    lines.push(
      `verify: Waiting ${Math.ceil((waitMs - (now - since)) / 1000)} seconds to verify that tasks are stable...`,
    );
  }
  return { lines, verdict: { kind: 'waiting' }, memory: nextMemory };
}

/**
 * What to write to show `next` after `previous`. On a terminal the frame is redrawn in place (cursor
 * up over the previous one, each line cleared); elsewhere (logs, pipes) only lines not printed before.
 */
export function renderFrame(previous: string[], next: string[], tty: boolean, printed: Set<string>): string {
  if (tty) {
    const up = previous.length ? `\x1b[${previous.length}A` : '';
    // Clear to the end of the screen too: a global service's frame shrinks when a node leaves.
    return up + next.map((l) => `\x1b[2K${l}\n`).join('') + '\x1b[J';
  }
  const fresh = next.filter((l) => !printed.has(l));
  for (const l of fresh) printed.add(l);
  return fresh.map((l) => `${l}\n`).join('');
}
