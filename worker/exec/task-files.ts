// A task's folder under the runtime's root: what prepare decided, what start launched, and what
// the task's init wrote about its own end. The folder, not the daemon's memory, is the record, so a
// restarted daemon knows every task it had: which are prepared, running, or exited and how.
import { constants } from 'node:os';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskExit } from '../agent/executor.js';
import type { ProcessRef } from '../../lib/process.js';
import type { TaskPlan } from './task-plan.js';

export interface TaskRecord {
  plan: TaskPlan;
  netns: string;
  cgroupDirs: Record<string, string>;
}

/** Written once start() has launched the task. */
export interface ProcessRecord {
  /** The launcher (then `unshare`'s waiting parent), in the daemon's PID namespace. */
  outer: ProcessRef;
  /** PID 1 of the task's PID namespace (task-init.sh); absent when the task ended before it was seen. */
  init?: ProcessRef;
  /** The two log writers, outside the task's cgroup. */
  loggers: ProcessRef[];
  startedAt: string;
}

export class TaskFiles {
  constructor(readonly dir: string) {}

  get task() {
    return join(this.dir, 'task.json');
  }
  get process() {
    return join(this.dir, 'process.json');
  }
  get entry() {
    return join(this.dir, 'entry.sh');
  }
  /** The task's /etc/resolv.conf (bind-mounted over it by task-init.sh): the embedded DNS first. */
  get resolvConf() {
    return join(this.dir, 'resolv.conf');
  }
  /** The command's exit status, written by task-init.sh (empty until then). */
  get exit() {
    return join(this.dir, 'exit');
  }
  /** Created by task-init.sh when it begins; holds the command's pid once it runs. */
  get started() {
    return join(this.dir, 'started');
  }
  /** "stdoutWriterPid stderrWriterPid", from task-start.sh. */
  get loggers() {
    return join(this.dir, 'loggers');
  }
  /** stderr of the launcher and init: why a start failed. */
  get runtimeErr() {
    return join(this.dir, 'runtime.err');
  }
  get logs() {
    return join(this.dir, 'logs');
  }
  log(stream: 'stdout' | 'stderr') {
    return join(this.dir, 'logs', `${stream}.log`);
  }

  readTask(): TaskRecord | undefined {
    return readJson<TaskRecord>(this.task);
  }
  readProcess(): ProcessRecord | undefined {
    return readJson<ProcessRecord>(this.process);
  }
  readText(path: string): string | undefined {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  }
}

function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Written whole or not at all: a crash mid-write must not leave a record that cannot be read. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/**
 * The task's end from the status task-init.sh recorded. A shell reports a command that a signal
 * ended as 128+N (as Docker's exit codes do), so the signal is read back from that convention.
 * No status at all means init itself was SIGKILLed (stop after the grace period, or the OOM killer).
 */
export function exitFromStatus(statusText: string | undefined, oomKilled: boolean): TaskExit {
  const status = statusText?.trim() ? Number(statusText.trim()) : NaN;
  if (!Number.isInteger(status)) return { exitCode: 137, signal: 'SIGKILL', oomKilled };
  const signal = status > 128 ? SIGNAL_NAMES.get(status - 128) : undefined;
  return signal ? { exitCode: status, signal, oomKilled } : { exitCode: status, oomKilled };
}

/**
 * The recorded status and whether init still runs, read in the one order that cannot lose a status.
 * Init writes the status and then exits, so a status read before init is seen gone may have been
 * written in between: read it again, or a task that exited normally passes for one SIGKILLed.
 */
export function readStatusThenLiveness(
  readStatus: () => string | undefined,
  initAlive: () => boolean,
): { statusText: string | undefined; initAlive: boolean } {
  const first = readStatus();
  if (first?.trim()) return { statusText: first, initAlive: false };
  const alive = initAlive();
  return { statusText: alive ? first : readStatus(), initAlive: alive };
}

export type TaskPhase = 'prepared' | 'starting' | 'running' | 'exited';

/**
 * Where a task is, from facts that survive the daemon: whether init began (the `started` file),
 * whether it recorded an exit, and whether it is alive. `starting`: launched but init not yet up
 * (or a launcher that failed before it: start() reports that one).
 */
export function taskPhase(facts: {
  launched: boolean;
  initBegan: boolean;
  exitRecorded: boolean;
  initAlive: boolean;
  outerAlive: boolean;
}): TaskPhase {
  if (facts.exitRecorded) return 'exited';
  if (facts.initAlive) return 'running';
  if (facts.initBegan) return 'exited'; // killed before it could record anything
  if (facts.launched) return facts.outerAlive ? 'starting' : 'exited'; // exited: the launcher failed
  return 'prepared';
}
