// A task's folder under the runtime's root, which is also its OCI bundle (config.json, rootfs): what
// prepare decided, what start launched, and what the container's supervisor wrote about its end. The folder, not the daemon's memory, is the record, so a
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
  /** The container's supervisor (oci-shim.pl), in the daemon's PID namespace. */
  outer: ProcessRef;
  /** PID 1 of the container's PID namespace; absent when the task ended before it was seen. */
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
  /** The OCI runtime config of the container (the task folder is its bundle). */
  get config() {
    return join(this.dir, 'config.json');
  }
  /** The task's /etc/resolv.conf, /etc/hosts and /etc/hostname, bound over the container's. */
  get resolvConf() {
    return join(this.dir, 'resolv.conf');
  }
  get hosts() {
    return join(this.dir, 'hosts');
  }
  get hostname() {
    return join(this.dir, 'hostname');
  }
  /** The init's exit status, written by the supervisor (125: the container could not be created). */
  get exit() {
    return join(this.dir, 'exit');
  }
  /** Written by the supervisor once the container is created and started: its init's pid. */
  get created() {
    return join(this.dir, 'created');
  }
  /** Where the OCI runtime writes the init's pid at create. */
  get pidFile() {
    return join(this.dir, 'container.pid');
  }
  /** Whether the OOM killer struck, kept once the container's cgroup is gone. */
  get oomKilled() {
    return join(this.dir, 'oom-killed');
  }
  /** The supervisor's pid, from oci-start.sh (process.json has it too, once start() returned). */
  get supervisor() {
    return join(this.dir, 'supervisor');
  }
  /** "stdoutWriterPid stderrWriterPid", from oci-start.sh. */
  get loggers() {
    return join(this.dir, 'loggers');
  }
  /** stderr of the launcher and the supervisor: why a start failed. */
  get runtimeErr() {
    return join(this.dir, 'runtime.err');
  }
  /** The OCI runtime's own log (JSON lines): its errors. */
  get runtimeLog() {
    return join(this.dir, 'runtime.log');
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
 * The task's end from the status the supervisor recorded: 128+N for a command that signal N ended
 * (a shell's and Docker's convention), so the signal is read back from it. No status at all means
 * the supervisor itself was killed before it could record one: reported as a SIGKILL.
 */
export function exitFromStatus(statusText: string | undefined, oomKilled: boolean): TaskExit {
  const status = statusText?.trim() ? Number(statusText.trim()) : NaN;
  if (!Number.isInteger(status)) return { exitCode: 137, signal: 'SIGKILL', oomKilled };
  const signal = status > 128 ? SIGNAL_NAMES.get(status - 128) : undefined;
  return signal ? { exitCode: status, signal, oomKilled } : { exitCode: status, oomKilled };
}

/**
 * The recorded status and whether the supervisor still runs, read in the one order that cannot lose
 * a status: the supervisor writes the status and then exits, so a status read before it is seen gone
 * may have been written in between: read it again, or a task that exited normally passes for one
 * SIGKILLed.
 */
export function readStatusThenLiveness(
  readStatus: () => string | undefined,
  supervisorAlive: () => boolean,
): { statusText: string | undefined; supervisorAlive: boolean } {
  const first = readStatus();
  if (first?.trim()) return { statusText: first, supervisorAlive: false };
  const alive = supervisorAlive();
  return { statusText: alive ? first : readStatus(), supervisorAlive: alive };
}

export type TaskPhase = 'prepared' | 'starting' | 'running' | 'exited';

/**
 * Where a task is, from facts that survive the daemon: whether it was launched, whether the
 * container was created (the supervisor's `created` file), whether an exit was recorded, and whether
 * the supervisor (which outlives the container's init by the time it takes to record its status)
 * is alive. `starting`: launched, container not yet created.
 */
export function taskPhase(facts: {
  launched: boolean;
  created: boolean;
  exitRecorded: boolean;
  supervisorAlive: boolean;
}): TaskPhase {
  if (facts.exitRecorded) return 'exited';
  if (facts.supervisorAlive) return facts.created ? 'running' : 'starting';
  if (facts.launched) return 'exited'; // killed before it could record anything, or never created
  return 'prepared';
}
