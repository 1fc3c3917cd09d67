// One task on this node, driven forward through accepted → preparing → starting → running →
// complete/failed (or shutdown when the manager says so), never backward (SwarmKit's task controller).
// The runner only decides and reports; the executor does the work. Desired-state changes from the
// manager wake it at any step; removal from the node's assignments stops and cleans everything.
import type { Logger } from '../../lib/log.js';
import {
  isTerminalTaskState,
  taskStateRank,
  type Task,
  type TaskState,
  type TaskStatus,
} from '../../api/objects/index.js';
import type { Executor, TaskExit, TaskLaunch } from './executor.js';
import { containerOptions } from './container-options.js';
import { expandTaskSpec, type TemplateContext } from './templates.js';

/** Plugs tasks into their overlay networks (worker/network/overlay/agent.ts); absent without a network plane. */
export interface NetworkAttacher {
  attach(task: Task, netnsPath: string): Promise<void>;
  detach(taskId: string): Promise<void>;
  /**
   * Why this node cannot run the task on its networks (an encrypted network on a node that cannot
   * encrypt), or undefined. Asked before anything is prepared: the task is rejected with the reason.
   */
  refusal?(task: Task): Promise<string | undefined>;
  /** The task runs: its endpoints go into DNS and the load balancers of every node on its networks. */
  announce?(task: Task): void;
  /** The task stops serving: its endpoints leave them, before its process is told to stop. */
  withdraw?(taskId: string): void;
}

export interface TaskRunnerDeps {
  executor: Executor;
  network?: NetworkAttacher;
  report(taskId: string, status: TaskStatus): void;
  node: { id: string; hostname: string };
  log: Logger;
}

/** What the runtime has of the task: nothing yet, a sandbox, a live process, or an ended one. */
export type RuntimePhase = 'none' | 'prepared' | 'started' | 'exited';

/** Docker's full task name: `<service>.<slot>.<task id>`, `<service>.<node id>.<task id>` when global. */
export const fullTaskName = (t: Pick<Task, 'serviceName' | 'slot' | 'nodeId' | 'id'>) =>
  `${t.serviceName}.${t.slot === 0 ? t.nodeId : t.slot}.${t.id}`;

export function exitStatus(exit: TaskExit): { state: TaskState; message: string; err: string } {
  if (exit.exitCode === 0 && !exit.oomKilled) return { state: 'complete', message: 'finished', err: '' };
  const detail = exit.oomKilled
    ? ': OOM killed (memory limit reached)'
    : exit.signal
      ? `: killed by ${exit.signal}`
      : '';
  return { state: 'failed', message: 'started', err: `task: non-zero exit (${exit.exitCode})${detail}` };
}

export class TaskRunner {
  private task: Task;
  /** The last state reported for the task (starting from what the manager knows). */
  private reported: TaskState;
  private phase: RuntimePhase;
  /** The process's end; undefined once the runner halted (it stopped watching, the process runs on). */
  private exit: Promise<TaskExit | undefined> | undefined;
  private knownExit: TaskExit | undefined;
  private pid: number | undefined;
  private removed = false;
  /** The daemon stops: the runner ends without touching the task, for the next daemon to adopt. */
  private readonly halting = new AbortController();
  private released = false;
  private attached = false;
  private announced = false;
  /**
   * A change (update, remove, halt) arrived that the current step may not have seen. Level, not edge:
   * a change that lands while a step awaits the runtime or the network is kept for the next wait,
   * instead of waking a waiter that does not exist yet (a lost wake-up left a task running forever
   * after the manager asked for its shutdown).
   */
  private woken = false;
  private resolveWait: (() => void) | undefined;
  readonly finished: Promise<void>;

  constructor(
    task: Task,
    private readonly deps: TaskRunnerDeps,
    adopted?: { phase: RuntimePhase; exit?: TaskExit; pid?: number },
  ) {
    this.task = task;
    this.reported = task.status.state;
    this.phase = adopted?.phase ?? 'none';
    this.knownExit = adopted?.exit;
    this.pid = adopted?.pid;
    if (this.phase === 'started') this.exit = this.waitForExit();
    this.finished = this.run();
  }

  get id(): string {
    return this.task.id;
  }

  /** A newer version of the task from the manager (desired state, spec). */
  /** The networks the task attaches to (the node's `network ls` on a worker). */
  networkIds(): string[] {
    return this.task.networks.map((n) => n.networkId);
  }

  update(task: Task): void {
    this.task = task;
    this.wake();
  }

  private wake(): void {
    this.woken = true;
    const resolve = this.resolveWait;
    this.resolveWait = undefined;
    resolve?.();
  }

  /** The task left this node's assignments: stop it and remove everything it left. */
  remove(): Promise<void> {
    this.removed = true;
    this.wake();
    return this.finished;
  }

  /**
   * The daemon stops: stop watching and deciding, but leave the task as it is (running, prepared or
   * ended) for the next daemon to adopt. Resolves once the step in progress, if any, is done.
   */
  halt(): Promise<void> {
    this.halting.abort();
    this.wake();
    return this.finished;
  }

  private get halted(): boolean {
    return this.halting.signal.aborted;
  }

  /** Out of DNS and every load balancer first, so no new connection reaches a stopping task. */
  private withdraw(): void {
    if (!this.announced) return;
    this.announced = false;
    this.deps.network?.withdraw?.(this.task.id);
  }

  /** Resolves at the next change, or at once when one arrived since the current step began. */
  private changed(): Promise<'changed'> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve('changed');
    }
    return new Promise((resolve) => (this.resolveWait = () => resolve('changed')));
  }

  private report(state: TaskState, message: string, extra: Partial<TaskStatus> = {}): void {
    if (this.halted || taskStateRank(state) <= taskStateRank(this.reported)) return;
    this.reported = state;
    const status: TaskStatus = {
      state,
      timestamp: new Date().toISOString(),
      message,
      err: extra.err ?? '',
      ...(extra.exitCode !== undefined ? { exitCode: extra.exitCode } : {}),
      ...(this.pid !== undefined ? { pid: this.pid } : {}),
    };
    this.deps.report(this.task.id, status);
  }

  /**
   * The process's end; a runtime that loses track of it counts as a failure, not a crash of the runner.
   * Never rejects: nothing may be left unhandled while the runner is busy with another step.
   */
  private waitForExit(): Promise<TaskExit | undefined> {
    return this.deps.executor.wait(this.task.id, this.halting.signal).catch((err: unknown) => {
      if (this.halted) return undefined;
      this.deps.log.warn({ task: this.task.id, err }, 'lost track of the task process');
      return { exitCode: 255, signal: undefined, oomKilled: false };
    });
  }

  private launch(): TaskLaunch {
    const t = this.task;
    const name = fullTaskName(t);
    const ctx: TemplateContext = {
      node: this.deps.node,
      service: { id: t.serviceId, name: t.serviceName },
      task: { id: t.id, name, slot: t.slot },
    };
    const container = containerOptions(t.spec);
    return {
      taskId: t.id,
      name,
      serviceId: t.serviceId,
      serviceName: t.serviceName,
      slot: t.slot,
      spec: expandTaskSpec(t.spec, ctx),
      ...(container ? { container } : {}),
    };
  }

  private async run(): Promise<void> {
    try {
      while (!this.removed && !this.halted) {
        // The step reads the newest task: what woke us so far is seen.
        this.woken = false;
        await this.step();
      }
    } catch (err) {
      this.deps.log.error({ task: this.task.id, err }, 'task runner failed');
    }
    if (!this.halted) await this.cleanup();
  }

  /** One decision: do the next thing the task needs, or wait for a change. */
  private async step(): Promise<void> {
    const { executor } = this.deps;
    const id = this.task.id;
    if (isTerminalTaskState(this.reported)) {
      if (!this.released) {
        // Done for good (states never go back): free the sandbox now, keep the logs for `service logs`.
        this.released = true;
        this.withdraw();
        if (this.phase === 'started')
          await executor.stop(id, this.task.spec.stopGracePeriodMs).catch(() => {});
        await this.deps.network?.detach(id).catch((err: unknown) => {
          this.deps.log.warn({ task: id, err }, 'detaching the task from its networks failed');
        });
        if (this.phase !== 'none')
          await executor.release(id).catch((err: unknown) => {
            this.deps.log.warn({ task: id, err }, 'releasing the task sandbox failed');
          });
        return;
      }
      await this.changed();
      return;
    }
    if (taskStateRank(this.task.desiredState) > taskStateRank('running')) {
      this.withdraw();
      if (this.phase === 'started') {
        await executor.stop(id, this.task.spec.stopGracePeriodMs).catch((err: unknown) => {
          this.deps.log.warn({ task: id, err }, 'stopping the task failed');
        });
        this.phase = 'exited';
      }
      this.report('shutdown', 'shutdown');
      return;
    }
    if (this.phase === 'none' && taskStateRank(this.reported) >= taskStateRank('starting')) {
      // The manager believes it started, but this node has no trace of it (state lost): say so.
      this.report('failed', 'lost', { err: 'task lost: the node no longer has its process' });
      return;
    }
    if (taskStateRank(this.reported) < taskStateRank('accepted')) this.report('accepted', 'accepted');
    if (this.phase === 'none') {
      this.report('preparing', 'preparing');
      try {
        const refusal = await this.deps.network?.refusal?.(this.task);
        if (refusal) throw new Error(refusal);
        await executor.prepare(this.launch());
        this.phase = 'prepared';
      } catch (err) {
        this.report('rejected', 'preparing', { err: (err as Error).message });
      }
      return;
    }
    if (this.phase === 'prepared') {
      // A replacement held for its restart delay is desired only up to preparing (RESTART_HOLD_STATE):
      // it waits here, prepared, until the manager lets it run.
      if (taskStateRank(this.task.desiredState) < taskStateRank('running')) {
        await this.changed();
        return;
      }
      this.report('starting', 'starting');
      try {
        // Its network legs exist before its process does, as Docker connects networks before start.
        await this.deps.network?.attach(this.task, executor.netnsPath(id));
        this.attached = true;
        this.pid = (await executor.start(id)).pid;
        this.phase = 'started';
        this.exit = this.waitForExit();
      } catch (err) {
        this.report('failed', 'starting', { err: (err as Error).message });
      }
      return;
    }
    if (this.phase === 'exited' || this.knownExit) {
      this.withdraw();
      const exit = this.knownExit ?? (await this.exit!);
      if (!exit) return; // halted
      this.phase = 'exited';
      const s = exitStatus(exit);
      this.report(s.state, s.message, { err: s.err, exitCode: exit.exitCode });
      return;
    }
    if (!this.attached) {
      // Adopted after a daemon restart: the network plane learns of it again (its legs are still there).
      this.attached = true;
      await this.deps.network?.attach(this.task, executor.netnsPath(id)).catch((err: unknown) => {
        this.deps.log.warn({ task: id, err }, 'reattaching an adopted task to its networks failed');
      });
    }
    this.report('running', 'started');
    if (!this.announced) {
      this.announced = true;
      this.deps.network?.announce?.(this.task);
    }
    const outcome = await Promise.race([this.exit!, this.changed()]);
    if (outcome !== 'changed' && outcome) {
      this.knownExit = outcome;
      this.phase = 'exited';
    }
  }

  private async cleanup(): Promise<void> {
    const { executor } = this.deps;
    const id = this.task.id;
    try {
      this.withdraw();
      if (this.phase === 'started') await executor.stop(id, this.task.spec.stopGracePeriodMs);
      await this.deps.network?.detach(id);
      await executor.remove(id);
    } catch (err) {
      this.deps.log.warn({ task: id, err }, 'cleaning up the task failed');
    }
  }
}
