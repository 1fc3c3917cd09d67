// The plan: what one orchestration pass wants written. Every planner here is a pure function of a store
// snapshot and `now`; it returns a Plan, and the controller turns the plan into ONE store batch (task
// creates, optimistic task updates and deletes, at most one service update). Nothing is remembered
// between passes: whatever a later pass needs to know is readable from the objects written.
import type {
  NewObject,
  Service,
  ServiceSpec,
  Task,
  TaskState,
  UpdateStatus,
} from '../../api/objects/index.js';

export interface DesiredStateChange {
  taskId: string;
  /** The task's meta.version the planner saw: the controller proposes the update against it. */
  expectedVersion: number;
  desiredState: TaskState;
  /** Why, for logs and events (not written to the task). */
  reason: string;
}

export interface TaskDeletion {
  taskId: string;
  expectedVersion: number;
  reason: string;
}

/** Fields of the service the planner rewrites; absent fields stay as they are. */
export interface ServicePatch {
  serviceId: string;
  expectedVersion: number;
  updateStatus?: UpdateStatus;
  /** Set together by an automatic rollback: spec ← previousSpec, previousSpec ← spec, version + 1. */
  spec?: ServiceSpec;
  previousSpec?: ServiceSpec;
  specVersion?: number;
}

export interface Plan {
  create: NewObject<Task>[];
  setDesired: DesiredStateChange[];
  remove: TaskDeletion[];
  service?: ServicePatch;
  /**
   * The earliest time (ms) at which planning again may decide something new without any store event
   * (a restart delay or a batch delay elapsing, a monitor window closing). Undefined: only events matter.
   */
  wakeAt?: number;
}

export const emptyPlan = (): Plan => ({ create: [], setDesired: [], remove: [] });

/** Whether the plan writes anything (a wake hint alone writes nothing). */
export const planWrites = (p: Plan): boolean =>
  p.create.length > 0 || p.setDesired.length > 0 || p.remove.length > 0 || p.service !== undefined;

export function wakeAtEarliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** Accumulates a plan; a second decision about the same task is ignored (the first one wins). */
export class PlanBuilder {
  private readonly plan: Plan = emptyPlan();
  private readonly touched = new Set<string>();

  create(task: NewObject<Task>): void {
    this.plan.create.push(task);
  }

  setDesired(task: Task, desiredState: TaskState, reason: string): void {
    if (this.touched.has(task.id) || task.desiredState === desiredState) return;
    this.touched.add(task.id);
    this.plan.setDesired.push({ taskId: task.id, expectedVersion: task.meta.version, desiredState, reason });
  }

  remove(task: Task, reason: string): void {
    if (this.touched.has(task.id)) return;
    this.touched.add(task.id);
    this.plan.remove.push({ taskId: task.id, expectedVersion: task.meta.version, reason });
  }

  patchService(service: Service, patch: Omit<ServicePatch, 'serviceId' | 'expectedVersion'>): void {
    this.plan.service = { serviceId: service.id, expectedVersion: service.meta.version, ...patch };
  }

  wakeAt(t: number): void {
    this.plan.wakeAt = wakeAtEarliest(this.plan.wakeAt, t);
  }

  touches(taskId: string): boolean {
    return this.touched.has(taskId);
  }

  build(): Plan {
    return this.plan;
  }
}
