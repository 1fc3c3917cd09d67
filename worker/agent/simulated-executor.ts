// An executor without processes, for control-plane tests and benchmarks (`swarmlite daemon --executor
// simulated`): thousands of tasks must move through their states on one machine, and what is tested
// there is the manager and the agent, not the runtime. Every other part (agent, session, dispatcher,
// Raft) is the real one. A task's env steers it, so tests can make tasks fail on purpose:
//   SIM_EXIT_AFTER_MS=N  the task ends N ms after it starts (with SIM_EXIT_CODE, default 0)
//   SIM_EXIT_CODE=C      exit code when it ends by itself or is stopped (default 0)
//   SIM_REJECT=message   prepare fails with this message (like an unknown image)
// Nothing survives a daemon restart: list() is empty, as for a machine that rebooted.
import type { ExecHandle, Executor, LogLine, RuntimeTaskRecord, TaskExit, TaskLaunch } from './executor.js';

interface SimTask {
  launch: TaskLaunch;
  started: boolean;
  exit?: TaskExit;
  waiters: ((exit: TaskExit) => void)[];
  timer?: NodeJS.Timeout;
}

const envOf = (launch: TaskLaunch) =>
  new Map(
    launch.spec.env.map((e) => {
      const i = e.indexOf('=');
      return [i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1)] as const;
    }),
  );

export class SimulatedExecutor implements Executor {
  private readonly tasks = new Map<string, SimTask>();
  private nextPid = 1000;

  private get(taskId: string): SimTask {
    const t = this.tasks.get(taskId);
    if (!t) throw new Error(`task ${taskId} is not prepared on this node`);
    return t;
  }

  private finish(t: SimTask, exit: TaskExit): void {
    if (t.exit) return;
    clearTimeout(t.timer);
    t.exit = exit;
    for (const w of t.waiters.splice(0)) w(exit);
  }

  async prepare(launch: TaskLaunch): Promise<void> {
    const reject = envOf(launch).get('SIM_REJECT');
    if (reject) throw new Error(reject);
    if (!this.tasks.has(launch.taskId))
      this.tasks.set(launch.taskId, { launch, started: false, waiters: [] });
  }

  async start(taskId: string): Promise<{ pid: number }> {
    const t = this.get(taskId);
    if (!t.started) {
      t.started = true;
      const env = envOf(t.launch);
      const after = Number(env.get('SIM_EXIT_AFTER_MS') ?? NaN);
      const code = Number(env.get('SIM_EXIT_CODE') ?? 0);
      if (Number.isFinite(after)) {
        t.timer = setTimeout(() => this.finish(t, { exitCode: code, oomKilled: false }), after);
        t.timer.unref();
      }
    }
    return { pid: this.nextPid++ };
  }

  wait(taskId: string, signal?: AbortSignal): Promise<TaskExit> {
    const t = this.get(taskId);
    if (t.exit) return Promise.resolve(t.exit);
    if (!signal) return new Promise((resolve) => t.waiters.push(resolve));
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const waiter = (exit: TaskExit) => {
        signal.removeEventListener('abort', onAbort);
        resolve(exit);
      };
      const onAbort = () => {
        t.waiters.splice(t.waiters.indexOf(waiter), 1);
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      t.waiters.push(waiter);
    });
  }

  /** How many wait() calls are pending on a task (for tests: a stopped agent leaves none). */
  waiting(taskId: string): number {
    return this.tasks.get(taskId)?.waiters.length ?? 0;
  }

  async stop(taskId: string, _graceMs: number): Promise<void> {
    const t = this.tasks.get(taskId);
    if (!t || !t.started) return;
    // A stopped task ends as a process does on SIGTERM: with its exit code (0 unless told otherwise).
    this.finish(t, {
      exitCode: Number(envOf(t.launch).get('SIM_EXIT_CODE') ?? 0),
      signal: 'SIGTERM',
      oomKilled: false,
    });
  }

  async release(taskId: string): Promise<void> {
    const t = this.tasks.get(taskId);
    if (t) this.finish(t, { exitCode: 137, signal: 'SIGKILL', oomKilled: false });
  }

  async remove(taskId: string): Promise<void> {
    const t = this.tasks.get(taskId);
    if (t) this.finish(t, { exitCode: 137, signal: 'SIGKILL', oomKilled: false });
    this.tasks.delete(taskId);
  }

  async list(): Promise<RuntimeTaskRecord[]> {
    return [];
  }

  async *logs(): AsyncIterable<LogLine> {
    // A simulated task prints nothing.
  }

  async exec(taskId: string): Promise<ExecHandle> {
    this.get(taskId);
    throw new Error('exec is not available with the simulated executor');
  }

  netnsPath(taskId: string): string {
    throw new Error(`task ${taskId} has no network namespace under the simulated executor`);
  }

  /** Running task ids (for tests). */
  running(): string[] {
    return [...this.tasks.values()].filter((t) => t.started && !t.exit).map((t) => t.launch.taskId);
  }
}
