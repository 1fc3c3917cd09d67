// The scheduler controller (leader only): every debounced pass takes all pending tasks, asks the pure
// scheduleBatch where they go, and writes the answer: node + state `assigned`, or the reason they cannot
// go anywhere in status.err (the task stays pending and is tried again on the next node or task change).
// Batching is what makes 1,000 tasks one pass: a 10,000-replica service is placed in a few passes, not
// 10,000 (SwarmKit debounces its scheduler the same way).
import type { Logger } from '../../lib/log.js';
import { chunks, ReconcileLoop, TASKS_PER_BATCH } from '../reconcile-loop.js';
import { type Store, type StoreEvent } from '../store/index.js';
import {
  orchestrationLimits,
  retiredBeforePlacement,
  taskStateRank,
  type SwarmObjects,
  type Task,
} from '../../api/objects/index.js';
import { scheduleBatch } from './index.js';

export interface SchedulerControllerDeps {
  store: Store<SwarmObjects>;
  log: Logger;
}

const wantsToRun = (t: Task) => taskStateRank(t.desiredState) <= taskStateRank('running');

export class SchedulerController {
  private readonly loop: ReconcileLoop;

  constructor(private readonly deps: SchedulerControllerDeps) {
    const log = deps.log.child({ controller: 'scheduler' });
    this.loop = new ReconcileLoop({
      name: 'scheduler',
      store: deps.store,
      kinds: ['node', 'task'],
      onEvent: (e) => this.relevant(e),
      pass: () => this.pass(),
      log,
      debounceMs: 20,
      maxDelayMs: 100,
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** New pending work, or a change that may make room (a node, a task leaving a node). */
  private relevant(e: StoreEvent<SwarmObjects>): boolean {
    if (e.type !== 'object') return e.type === 'restored';
    if (e.kind === 'node') return true;
    const t = e.object as Task;
    const was = e.oldObject as Task | undefined;
    if (e.op === 'delete') return t.nodeId !== '';
    if (t.status.state === 'pending') return true;
    // A placed task finishing frees its node's resources and host ports.
    return was !== undefined && was.status.state !== t.status.state && t.nodeId !== '';
  }

  private async pass(): Promise<void> {
    const { nodes, tasks, pending, limits } = this.deps.store.view((tx) => ({
      limits: orchestrationLimits(tx.list('cluster')[0]?.spec),
      nodes: tx.list('node'),
      tasks: tx.list('task'),
      pending: tx.find('task', 'state', 'pending'),
    }));
    const now = new Date().toISOString();
    const updates: Task[] = [];
    for (const t of pending) {
      const retired = retiredBeforePlacement(t, now);
      if (retired) updates.push(retired);
    }
    const result = scheduleBatch(
      { nodes, tasks, maxTasksPerNode: limits.maxTasksPerNode },
      pending.filter(wantsToRun),
    );
    for (const t of pending) {
      const nodeId = result.assignments.get(t.id);
      if (nodeId !== undefined) {
        updates.push({
          ...t,
          nodeId,
          status: {
            ...t.status,
            state: 'assigned',
            timestamp: now,
            message: 'scheduler assigned task to node',
            err: '',
          },
        });
        continue;
      }
      const reason = result.unschedulable.get(t.id);
      if (reason !== undefined && reason !== t.status.err) {
        updates.push({ ...t, status: { ...t.status, err: reason, timestamp: now } });
      }
    }
    for (const batch of chunks(updates, TASKS_PER_BATCH)) {
      await this.deps.store.update((tx) => {
        for (const t of batch) tx.update('task', t);
      });
    }
  }
}
