// How the orchestrators read tasks and nodes, and how they make new tasks.
//
// A slot is a service's unit of identity: a replica number (replicated) or a node (global). Its tasks
// are its history. The words used throughout:
//   occupant  – a task of the slot with desiredState ≤ running: the one the orchestrator wants there.
//               It may be alive or dead (terminal: failed/complete/rejected on its own).
//   alive     – an occupant whose observed state is not terminal.
//   draining  – a task we asked to stop (desiredState > running) that has not reported terminal yet
//               on a node that can still report. A draining task holds its slot: a stop-first update
//               or a scale-down waits for it before the slot is refilled.
import {
  isTerminalTaskState,
  taskStateRank,
  type NewObject,
  type Node,
  type Service,
  type Task,
  type TaskState,
} from '../../api/objects/index.js';

/**
 * The desired state of a replacement waiting out its restart delay. There is no SwarmKit "ready"
 * state here, so the hold sits at preparing: the scheduler places the task (it takes tasks desired
 * running or earlier) and the worker may pull its image, but a worker starts only tasks desired running.
 * The hold ends at meta.createdAt + spec.restartPolicy.delayMs: both persisted, so a new leader knows it.
 */
export const RESTART_HOLD_STATE: TaskState = 'preparing';

export const isOccupant = (t: Task): boolean => taskStateRank(t.desiredState) <= taskStateRank('running');
export const isAlive = (t: Task): boolean => isOccupant(t) && !isTerminalTaskState(t.status.state);
export const isDead = (t: Task): boolean => isOccupant(t) && isTerminalTaskState(t.status.state);
export const isRunning = (t: Task): boolean => t.status.state === 'running';

/** A terminal state the task reached on its own, not because a manager asked it to stop. */
export const endedOnItsOwn = (t: Task): boolean =>
  t.status.state === 'failed' || t.status.state === 'rejected' || t.status.state === 'complete';

export const ms = (iso: string): number => Date.parse(iso);
export const iso = (t: number): string => new Date(t).toISOString();

export const isReplicated = (s: Service): boolean => 'replicated' in s.spec.mode;
export const replicasOf = (s: Service): number =>
  'replicated' in s.spec.mode ? s.spec.mode.replicated.replicas : 0;

/** The slot key the store's `slot` index uses too: the replica number, or the node of a global task. */
export const slotKey = (t: Task): string => (t.slot === 0 ? t.nodeId : String(t.slot));

export function groupBySlot(tasks: Iterable<Task>): Map<string, Task[]> {
  const slots = new Map<string, Task[]>();
  for (const t of tasks) {
    const key = slotKey(t);
    const list = slots.get(key);
    if (list) list.push(t);
    else slots.set(key, [t]);
  }
  return slots;
}

/** Oldest first, ties broken by id so every manager orders a slot's history identically. */
export function byCreation(a: Task, b: Task): number {
  return ms(a.meta.createdAt) - ms(b.meta.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A node a task can stay on: known, not removed, not down, not drained. Paused nodes keep their tasks. */
export function nodeKeepsTasks(node: Node | undefined): boolean {
  return (
    node !== undefined && !node.removed && node.status.state !== 'down' && node.spec.availability !== 'drain'
  );
}

/**
 * Whether a draining task still holds its slot. A task on a node that is gone or down will never
 * report terminal, so waiting for it would leave the slot empty forever: it no longer counts.
 */
export function isDraining(t: Task, nodes: ReadonlyMap<string, Node>): boolean {
  if (isOccupant(t) || isTerminalTaskState(t.status.state)) return false;
  if (t.nodeId === '') return false;
  const node = nodes.get(t.nodeId);
  return node !== undefined && !node.removed && node.status.state !== 'down';
}

/** Supplies ids for new tasks; production passes a random 25-character generator, tests a counter. */
export type IdGenerator = () => string;

export interface NewTaskOptions {
  slot: number;
  nodeId: string;
  desiredState: TaskState;
  message: string;
  now: number;
}

/** A task made from the service's current spec, in state new (the scheduler takes it from there). */
export function newTask(service: Service, id: string, o: NewTaskOptions): NewObject<Task> {
  return {
    id,
    serviceId: service.id,
    slot: o.slot,
    nodeId: o.nodeId,
    spec: structuredClone(service.spec.task),
    specVersion: service.specVersion,
    serviceName: service.spec.name,
    desiredState: o.desiredState,
    status: { state: 'new', timestamp: iso(o.now), message: o.message, err: '' },
    networks: [],
    endpoint: structuredClone(service.endpoint),
  };
}

/** Docker's display name of a task: `<service>.<slot>` or, for a global task, `<service>.<node>`. */
export function taskDisplayName(t: Pick<Task, 'serviceName' | 'slot' | 'nodeId'>): string {
  return `${t.serviceName}.${t.slot === 0 ? t.nodeId : t.slot}`;
}
