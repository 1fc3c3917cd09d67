// The worker agent: turns the dispatcher's assignments into one TaskRunner per task and carries their
// status reports back in batches. On a daemon restart it first asks the executor what survived: tasks
// still assigned are adopted (a live process is waited on again, an ended one reported), everything
// else is stopped and removed once the first full assignment set says it is not ours any more.
import type { Logger } from '../../lib/log.js';
import type { Network, Task, TaskStatus } from '../../api/objects/index.js';
import type { Executor, RuntimeTaskRecord } from './executor.js';
import type { AssignmentsMessage, TaskStatusUpdate } from './session.js';
import { nodeSwarmNetworks } from './node-networks.js';
import { TaskRunner, type NetworkAttacher, type RuntimePhase } from './task-runner.js';

/** What the agent needs of its session: assignment events and a way to report (DispatcherSession). */
export interface AgentSession {
  on(event: string, listener: (msg: AssignmentsMessage) => void): unknown;
  off(event: string, listener: (msg: AssignmentsMessage) => void): unknown;
  reportStatus(updates: TaskStatusUpdate[]): Promise<void>;
}

export interface AgentOptions {
  executor: Executor;
  /** The overlay network plane; absent under the simulated executor (no namespaces to plug). */
  network?: NetworkAttacher & { setNetworks(networks: readonly Network[]): void };
  node: { id: string; hostname: string };
  log: Logger;
  /** How long status reports gather before they are sent (one RPC per batch). */
  reportDelayMs?: number;
}

const RETRY_REPORT_MS = 300;

const phaseOf = (r: RuntimeTaskRecord): RuntimePhase =>
  r.state === 'running' ? 'started' : r.state === 'exited' ? 'exited' : 'prepared';

export class Agent {
  private readonly runners = new Map<string, TaskRunner>();
  private readonly pending = new Map<string, TaskStatusUpdate>();
  private session: AgentSession | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private sending = false;
  private stopped = false;
  /** What the runtime had when the daemon started; consumed by the first full assignment set. */
  private leftovers: Promise<Map<string, RuntimeTaskRecord>>;
  private queue: Promise<void> = Promise.resolve();
  /** Every network object the assignments carried (a full set starts it again). */
  private readonly networks = new Map<string, Network>();
  private readonly onAssignments = (msg: AssignmentsMessage) => {
    this.queue = this.queue
      .then(() => this.apply(msg))
      .catch((err: unknown) => {
        this.opts.log.error({ err }, 'applying assignments failed');
      });
  };
  private readonly onConnected = () => {
    // A new session: anything not yet acknowledged goes again.
    if (this.pending.size > 0) this.scheduleFlush(0);
  };

  constructor(private readonly opts: AgentOptions) {
    this.leftovers = opts.executor
      .list()
      .then((records) => new Map(records.map((r) => [r.taskId, r])))
      .catch((err: unknown) => {
        opts.log.error({ err }, 'could not list the tasks left by an earlier run');
        return new Map();
      });
  }

  /** Follows a dispatcher session (a new one after every join or restart). */
  attach(session: AgentSession): void {
    this.detach();
    this.session = session;
    session.on('assignments', this.onAssignments);
    session.on('connected', this.onConnected);
  }

  detach(): void {
    this.session?.off('assignments', this.onAssignments);
    this.session?.off('connected', this.onConnected);
    this.session = undefined;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /**
   * The daemon stops: no more assignments, reports or watching. Every task stays as it is (its
   * process runs on) for the next daemon to adopt; nothing of the agent keeps the event loop alive.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.detach();
    await this.queue;
    const runners = [...this.runners.values()];
    this.runners.clear();
    await Promise.all(runners.map((r) => r.halt()));
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** The swarm networks of the tasks this agent runs now, with `ingress` as the session sent it. */
  swarmNetworks(ingress: Network | null | undefined): Network[] {
    const ids = [...this.runners.values()].flatMap((r) => r.networkIds());
    return nodeSwarmNetworks(ingress, ids, this.networks);
  }

  /** Task ids this agent runs now (for tests and `info`). */
  taskIds(): string[] {
    return [...this.runners.keys()];
  }

  /** The node left the swarm: every task is stopped and removed. */
  async removeAll(): Promise<void> {
    this.detach();
    const runners = [...this.runners.values()];
    this.runners.clear();
    await Promise.all(runners.map((r) => r.remove()));
    for (const r of (await this.leftovers).values()) await this.discard(r.taskId);
  }

  private async apply(msg: AssignmentsMessage): Promise<void> {
    const leftovers = await this.leftovers;
    if (this.stopped) return;
    if (msg.networks) this.opts.network?.setNetworks(msg.networks);
    if (msg.full) this.networks.clear();
    for (const n of msg.networks ?? []) this.networks.set(n.id, n);
    if (msg.full) {
      const assigned = new Set(msg.tasks.map((t) => t.id));
      for (const [id, runner] of this.runners) {
        if (!assigned.has(id)) {
          this.runners.delete(id);
          void runner.remove();
        }
      }
      for (const [id, record] of leftovers) {
        if (!assigned.has(id)) {
          leftovers.delete(id);
          void this.discard(record.taskId);
        }
      }
    }
    for (const id of msg.removed) {
      const runner = this.runners.get(id);
      this.runners.delete(id);
      if (runner) void runner.remove();
      else if (leftovers.delete(id)) void this.discard(id);
    }
    for (const task of msg.tasks) this.upsert(task, leftovers);
  }

  private upsert(task: Task, leftovers: Map<string, RuntimeTaskRecord>): void {
    const runner = this.runners.get(task.id);
    if (runner) return runner.update(task);
    const record = leftovers.get(task.id);
    leftovers.delete(task.id);
    const adopted = record ? { phase: phaseOf(record), exit: record.exit, pid: record.pid } : undefined;
    if (record)
      this.opts.log.info({ task: task.id, state: record.state }, 'adopting a task from an earlier run');
    this.runners.set(
      task.id,
      new TaskRunner(
        task,
        {
          executor: this.opts.executor,
          ...(this.opts.network ? { network: this.opts.network } : {}),
          node: this.opts.node,
          log: this.opts.log,
          report: (taskId, status) => this.report(taskId, status),
        },
        adopted,
      ),
    );
  }

  private async discard(taskId: string): Promise<void> {
    this.opts.log.info({ task: taskId }, 'removing a task this node no longer owns');
    try {
      await this.opts.executor.stop(taskId, 0);
      await this.opts.executor.remove(taskId);
    } catch (err) {
      this.opts.log.warn({ task: taskId, err }, 'could not remove a task left by an earlier run');
    }
  }

  // ---------------------------------------------------------------------------- status reports

  private report(taskId: string, status: TaskStatus): void {
    this.pending.set(taskId, { taskId, status });
    this.scheduleFlush(this.opts.reportDelayMs ?? 20);
  }

  private scheduleFlush(delayMs: number): void {
    if (this.flushTimer || this.sending || this.stopped) return;
    this.flushTimer = setTimeout(() => void this.flush(), delayMs);
  }

  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    if (!this.session || this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.sending = true;
    try {
      await this.session.reportStatus(batch);
      // Only what was sent is done: a newer report for the same task may have arrived meanwhile.
      for (const u of batch) if (this.pending.get(u.taskId) === u) this.pending.delete(u.taskId);
    } catch (err) {
      this.opts.log.debug({ err: (err as Error).message }, 'status report not delivered; retrying');
      this.sending = false;
      this.scheduleFlush(RETRY_REPORT_MS);
      return;
    }
    this.sending = false;
    if (this.pending.size > 0) this.scheduleFlush(0);
  }
}
