// The orchestrator controller (leader only): the shell around planService. Store events mark services
// dirty (their own changes, their tasks' changes, any node change for all of them); each debounced pass
// plans every dirty service and writes each plan as one store batch (task creates beyond a batch's size
// go in follow-up batches: the next pass sees the slots already filled and plans only the rest). A plan's
// wakeAt arms a timer for that service. Tasks whose service is gone go to reapOrphans.
import { newId } from '../../lib/ids.js';
import type { Logger } from '../../lib/log.js';
import { chunks, ReconcileLoop, TASKS_PER_BATCH } from '../reconcile-loop.js';
import { matchesConstraints, parseConstraints, ConstraintError } from '../scheduler/index.js';
import { type Store, type StoreEvent, type WriteTx } from '../store/index.js';
import {
  taskStateRank,
  type Node,
  type Service,
  type SwarmObjects,
  type Task,
} from '../../api/objects/index.js';
import { planService, planWrites, reapOrphans, type Plan } from './index.js';
import { nodeKeepsTasks } from './tasks.js';

export interface OrchestratorControllerDeps {
  store: Store<SwarmObjects>;
  log: Logger;
  now?: () => number;
}

/** The scheduler's constraint matcher, for global services (which place their own tasks). */
function placementAllows(node: Node, service: Service): boolean {
  const constraints = parseConstraints(service.spec.task.placement.constraints);
  return !(constraints instanceof ConstraintError) && matchesConstraints(node, constraints);
}

export class OrchestratorController {
  private readonly loop: ReconcileLoop;
  private readonly dirty = new Set<string>();
  private allDirty = true;
  private orphansDirty = true;
  private readonly wakeTimers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly deps: OrchestratorControllerDeps) {
    this.now = deps.now ?? Date.now;
    this.log = deps.log.child({ controller: 'orchestrator' });
    this.loop = new ReconcileLoop({
      name: 'orchestrator',
      store: deps.store,
      kinds: ['service', 'task', 'node'],
      onEvent: (e) => this.note(e),
      pass: (full) => this.pass(full),
      log: this.log,
    });
  }

  start(): void {
    this.allDirty = true;
    this.orphansDirty = true;
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
    for (const { timer } of this.wakeTimers.values()) clearTimeout(timer);
    this.wakeTimers.clear();
    this.dirty.clear();
  }

  private note(e: StoreEvent<SwarmObjects>): boolean {
    if (e.type !== 'object') return e.type === 'restored';
    if (e.kind === 'node') this.allDirty = true;
    else if (e.kind === 'service') {
      if (e.op === 'delete') this.orphansDirty = true;
      else this.dirty.add(e.object.id);
    } else {
      const t = e.object as Task;
      if (e.op === 'update' && this.onlyProgressed(t, e.oldObject as Task | undefined)) return false;
      this.dirty.add(t.serviceId);
    }
    return true;
  }

  /**
   * A task moving forward short of `running` (new → pending → assigned → … → starting) on a node that
   * keeps tasks cannot change its service's plan: the planner tells tasks apart by occupant, alive,
   * dead, running and node, none of which such a step changes. Skipping these events spares a
   * 10,000-replica service a full re-plan after each of the allocator's and scheduler's batches.
   * The node is read at delivery, which is after the event's commit: a drain committed before the
   * assignment shows here (and is planned for); one committed after it brings its own node event.
   */
  private onlyProgressed(t: Task, was: Task | undefined): boolean {
    const belowRunning = (x: Task) => taskStateRank(x.status.state) < taskStateRank('running');
    if (!was || was.desiredState !== t.desiredState || !belowRunning(was) || !belowRunning(t)) return false;
    if (was.nodeId === t.nodeId) return true;
    return nodeKeepsTasks(this.deps.store.view((tx) => tx.get('node', t.nodeId)));
  }

  private async pass(full: boolean): Promise<void> {
    const all = full || this.allDirty;
    const wanted = new Set(this.dirty);
    const orphans = full || this.orphansDirty;
    this.allDirty = false;
    this.dirty.clear();
    this.orphansDirty = false;
    const { services, nodes, tasksOf, orphanTasks } = this.deps.store.view((tx) => {
      const services = all ? tx.list('service') : [...wanted].flatMap((id) => tx.get('service', id) ?? []);
      const tasksOf = new Map(services.map((s) => [s.id, tx.find('task', 'service', s.id)]));
      // A task event for a vanished service means an orphan: look for them too.
      const missing = [...wanted].some((id) => !tx.get('service', id));
      const orphanTasks =
        orphans || missing
          ? tx.list('task').filter((t) => !t.attachment && !tx.get('service', t.serviceId))
          : [];
      return { services, nodes: new Map(tx.list('node').map((n) => [n.id, n])), tasksOf, orphanTasks };
    });
    let failure: unknown;
    for (const service of services) {
      const plan = planService(
        service,
        tasksOf.get(service.id) ?? [],
        nodes,
        { now: this.now(), newId },
        placementAllows,
      );
      this.armWake(service.id, plan.wakeAt);
      try {
        await this.write(plan);
      } catch (err) {
        // Someone wrote in between (a worker's status, the API): plan this service again.
        this.dirty.add(service.id);
        failure = err;
      }
    }
    if (orphanTasks.length > 0) {
      try {
        await this.write(reapOrphans(orphanTasks, nodes));
      } catch (err) {
        this.orphansDirty = true;
        failure = err;
      }
    }
    if (failure) throw failure;
  }

  private armWake(serviceId: string, at: number | undefined): void {
    const existing = this.wakeTimers.get(serviceId);
    if (existing && existing.at === at) return;
    if (existing) clearTimeout(existing.timer);
    this.wakeTimers.delete(serviceId);
    if (at === undefined) return;
    const timer = setTimeout(
      () => {
        this.wakeTimers.delete(serviceId);
        this.dirty.add(serviceId);
        this.loop.kick();
      },
      Math.max(0, at - this.now()),
    );
    timer.unref();
    this.wakeTimers.set(serviceId, { at, timer });
  }

  /** One batch for everything but the creates beyond the first chunk, which follow in their own. */
  private async write(plan: Plan): Promise<void> {
    if (!planWrites(plan)) return;
    const [first = [], ...rest] = chunks(plan.create, TASKS_PER_BATCH);
    await this.deps.store.update((tx) => {
      applyChanges(tx, plan);
      for (const t of first) tx.create('task', t);
    });
    for (const batch of rest) {
      await this.deps.store.update((tx) => {
        for (const t of batch) tx.create('task', t);
      });
    }
  }
}

/** The plan's updates, each against the version the planner read (a moved object refuses the batch). */
function applyChanges(tx: WriteTx<SwarmObjects>, plan: Plan): void {
  for (const d of plan.setDesired) {
    const t = tx.get('task', d.taskId);
    if (!t) continue; // deleted meanwhile: nothing left to tell
    tx.update('task', {
      ...t,
      meta: { ...t.meta, version: d.expectedVersion },
      desiredState: d.desiredState,
    });
  }
  for (const r of plan.remove) {
    const t = tx.get('task', r.taskId);
    if (t) tx.delete('task', { ...t, meta: { ...t.meta, version: r.expectedVersion } });
  }
  const patch = plan.service;
  if (patch) {
    const s = tx.get('service', patch.serviceId);
    if (!s) return;
    const { serviceId: _id, expectedVersion, ...fields } = patch;
    tx.update('service', { ...s, ...fields, meta: { ...s.meta, version: expectedVersion } });
  }
}
