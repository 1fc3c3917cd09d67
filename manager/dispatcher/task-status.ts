// Task status reports from workers. A report is accepted only for a task the reporting node holds, and
// only forward (a late `running` after `failed` is dropped): the task state machine never goes back.
// Reports from all nodes are gathered for a short moment and written as one store batch, so a thousand
// tasks starting at once cost a handful of Raft entries, not a thousand.
import { type Store, type WriteTx } from '../store/index.js';
import {
  TASK_STATES,
  taskStateRank,
  type SwarmObjects,
  type Task,
  type TaskStatus,
} from '../../api/objects/index.js';
import { chunks, TASKS_PER_BATCH } from '../reconcile-loop.js';

export interface StatusReport {
  nodeId: string;
  taskId: string;
  status: TaskStatus;
}

/** Why a report is refused (the agent logs it), or undefined when it is well formed. */
export function checkReport(status: { state?: string } | null | undefined): string | undefined {
  if (!status || typeof status.state !== 'string') return 'status.state is required';
  const state = TASK_STATES.find((s) => s === status.state);
  if (!state) return `unknown task state '${status.state}'`;
  if (taskStateRank(state) < taskStateRank('accepted')) return `a worker cannot report '${state}'`;
  return undefined;
}

/** A report that passed checkReport, in the store's type (the wire's state is a plain string). */
export function reportedStatus(r: {
  state: string;
  timestamp: string;
  message: string;
  err: string;
  exitCode?: number;
  pid?: number;
}): TaskStatus {
  const state = TASK_STATES.find((s) => s === r.state);
  if (!state) throw new Error(`unknown task state '${r.state}'`);
  return {
    state,
    timestamp: r.timestamp,
    message: r.message,
    err: r.err,
    ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
    ...(r.pid !== undefined ? { pid: r.pid } : {}),
  };
}

/**
 * The reports naming a task another node holds (or none yet): a node may report only its own tasks,
 * and one that reports another's is refused whole, not filtered, since either its certificate is being
 * used by someone else or its agent is broken. A task gone from the store is not foreign: the node may
 * simply report a task removed meanwhile, and applyReport drops it.
 */
export function foreignReports(
  reports: readonly StatusReport[],
  holderOf: (taskId: string) => string | undefined,
): StatusReport[] {
  return reports.filter((r) => {
    const holder = holderOf(r.taskId);
    return holder !== undefined && holder !== r.nodeId;
  });
}

/** The updated task, or undefined when the report changes nothing or is not the node's to make. */
export function applyReport(task: Task | undefined, report: StatusReport): Task | undefined {
  if (!task || task.nodeId !== report.nodeId) return undefined;
  const rank = taskStateRank(report.status.state);
  const current = taskStateRank(task.status.state);
  if (rank < current) return undefined;
  const s = task.status;
  const r = report.status;
  if (
    rank === current &&
    s.message === r.message &&
    s.err === r.err &&
    s.exitCode === r.exitCode &&
    s.pid === r.pid
  )
    return undefined;
  const status: TaskStatus = {
    state: r.state,
    timestamp: r.timestamp || new Date().toISOString(),
    message: r.message ?? '',
    err: r.err ?? '',
  };
  if (r.exitCode !== undefined && r.exitCode !== null) status.exitCode = r.exitCode;
  if (r.pid !== undefined && r.pid !== null) status.pid = r.pid;
  return { ...task, status };
}

/** Gathers reports for `delayMs` and writes them in one batch; callers learn when theirs is written. */
export class StatusBatcher {
  private queue: { report: StatusReport; done: (err?: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store<SwarmObjects>,
    private readonly delayMs = 25,
  ) {}

  submit(reports: StatusReport[]): Promise<void> {
    if (reports.length === 0) return Promise.resolve();
    const all = reports.map(
      (report) =>
        new Promise<void>((resolve, reject) =>
          this.queue.push({ report, done: (e) => (e ? reject(e) : resolve()) }),
        ),
    );
    this.timer ??= setTimeout(() => void this.flush(), this.delayMs);
    return Promise.all(all).then(() => undefined);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const queue = this.queue;
    this.queue = [];
    for (const part of chunks(queue, TASKS_PER_BATCH)) {
      try {
        // Reports apply in arrival order, so a task's latest report wins within a batch.
        await this.store.update((tx) =>
          writeReports(
            tx,
            part.map((q) => q.report),
          ),
        );
        for (const q of part) q.done();
      } catch (err) {
        for (const q of part) q.done(err);
      }
    }
  }
}

function writeReports(tx: WriteTx<SwarmObjects>, reports: StatusReport[]): void {
  for (const report of reports) {
    const updated = applyReport(tx.get('task', report.taskId), report);
    if (updated) tx.update('task', updated);
  }
}
