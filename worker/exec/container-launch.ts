// Starting a prepared task's container: oci-start.sh is spawned detached (its own session, stdio to
// a file, no pipe to the daemon); it starts the log writers and becomes the container's supervisor
// (shim/oci-shim.pl), which runs the OCI runtime's `create` and `start` and reports the container's
// init once it runs. The processes found are recorded in process.json;
// the facts they come from (the supervisor's files, the writers' command lines) stay true after a
// daemon restart, so the same helpers serve adoption.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { findTool } from '../../lib/exec.js';
import { processRef, type ProcessRef } from '../../lib/process.js';
import type { OciRuntime } from './oci/runtime.js';
import type { ShimPaths } from './shims.js';
import { writeJsonAtomic, type ProcessRecord, type TaskFiles } from './task-files.js';

export interface LaunchRequest {
  taskId: string;
  files: TaskFiles;
  runtime: OciRuntime;
  shims: ShimPaths;
  logMaxBytes: number;
  logMaxFiles: number;
  timeoutMs: number;
  /** PATH of the launcher and the tools it runs (not the task's). */
  systemPath: string;
}

/** How long the launch loop waits between looks when nothing in the task's folder changed. */
const BACKSTOP_MS = 100;

/**
 * Wakes the launch loop when something in the task's folder changes (the supervisor writing
 * `created` or `exit`) or the launcher exits, so 100 tasks starting together do not each read their
 * files every few ms. A change seen between two waits is kept; the backstop covers a missed event.
 */
function folderChanges(dir: string): { next(ms: number): Promise<void>; poke(): void; close(): void } {
  let changed = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, () => {
      changed = true;
      wake?.();
    });
    watcher.on('error', () => undefined); // the folder went away: the backstop alone is left
  } catch {
    // no inotify here: the backstop alone
  }
  return {
    next: (ms) =>
      new Promise<void>((resolve) => {
        if (changed) {
          changed = false;
          return resolve();
        }
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          changed = false;
          resolve();
        }
        wake = done;
      }),
    poke: () => {
      changed = true;
      wake?.();
    },
    close: () => watcher?.close(),
  };
}

/** The supervisor's arguments after the state folder: create's length, create's words, start's words. */
function supervisorArgs(req: LaunchRequest): string[] {
  const { files } = req;
  const create = req.runtime.createCommand(req.taskId, files.dir, files.pidFile, files.runtimeLog);
  return [String(create.length), ...create, ...req.runtime.startCommand(req.taskId, files.runtimeLog)];
}

export async function launchContainer(req: LaunchRequest): Promise<ProcessRecord> {
  const { files } = req;
  for (const f of [
    files.exit,
    files.created,
    files.loggers,
    files.runtimeErr,
    files.runtimeLog,
    files.pidFile,
  ])
    rmSync(f, { force: true });
  const errFd = openSync(files.runtimeErr, 'a', 0o600);
  let child;
  try {
    child = spawn(
      findTool('bash'),
      [req.shims.start, files.dir, String(req.logMaxBytes), String(req.logMaxFiles), ...supervisorArgs(req)],
      {
        detached: true,
        stdio: ['ignore', errFd, errFd],
        cwd: '/',
        env: { PATH: req.systemPath, LC_ALL: 'C' },
      },
    );
  } finally {
    closeSync(errFd);
  }
  const changes = folderChanges(files.dir);
  // The launcher is this process's child: its exit is an event, no need to look in /proc for it.
  let ended: Error | boolean = false;
  child.on('error', (err) => ((ended = err), changes.poke()));
  child.on('exit', () => ((ended = ended || true), changes.poke()));
  child.unref();
  const shim = child.pid === undefined ? undefined : processRef(child.pid);
  try {
    const { init } = await waitForStart(req, shim, changes, Date.now() + req.timeoutMs, () => ended);
    const proc: ProcessRecord = {
      outer: shim ?? { pid: 0, startTime: '' },
      ...(init ? { init } : {}),
      loggers: loggerRefs(files),
      startedAt: new Date().toISOString(),
    };
    writeJsonAtomic(files.process, proc);
    return proc;
  } catch (err) {
    await req.runtime.delete(req.taskId, true).catch(() => undefined);
    throw err;
  } finally {
    changes.close();
  }
}

async function waitForStart(
  req: LaunchRequest,
  shim: ProcessRef | undefined,
  changes: ReturnType<typeof folderChanges>,
  deadline: number,
  /** The spawn's error, or true once the launcher exited. */
  launcherEnded: () => Error | boolean,
): Promise<{ init?: ProcessRef }> {
  const { taskId, files } = req;
  for (;;) {
    // Started: the init may already have ended (a quick command); the supervisor records how.
    const created = files.readText(files.created)?.trim();
    if (created) {
      const init = processRef(Number(created));
      return init ? { init } : {};
    }
    // A status without `created`: the supervisor failed before the container ran.
    if (files.readText(files.exit)?.trim())
      throw new Error(`task ${taskId} failed to start: ${launchError(files)}`);
    const ended = launcherEnded();
    if (ended || !shim) {
      await new Promise((r) => setTimeout(r, 20)); // its files may have been written just as it ended
      if (files.readText(files.created)?.trim()) continue;
      const why = ended instanceof Error ? ended.message : launchError(files);
      throw new Error(`task ${taskId} failed to start: ${why}`);
    }
    if (Date.now() > deadline)
      throw new Error(
        `task ${taskId} failed to start: the container did not start within ${req.timeoutMs} ms`,
      );
    await changes.next(BACKSTOP_MS);
  }
}

/** Why a launch failed: the OCI runtime's own error first, then what the launcher printed. */
function launchError(files: TaskFiles): string {
  const runtimeErrors = (files.readText(files.runtimeLog) ?? '')
    .split('\n')
    .map(runtimeLogError)
    .filter((m): m is string => m !== undefined);
  if (runtimeErrors.length) return runtimeErrors[runtimeErrors.length - 1]!;
  const text = files.readText(files.runtimeErr)?.trim();
  return text ? text.split('\n').slice(-3).join('; ') : 'the launcher exited without saying why';
}

/** The message of an error line of runc's JSON log (`{"level":"error","msg":...}`). */
export function runtimeLogError(line: string): string | undefined {
  if (!line.trim()) return undefined;
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
    return entry.level === 'error' && typeof entry.msg === 'string' ? entry.msg : undefined;
  } catch {
    return undefined;
  }
}

/** The writers' pids from oci-start.sh, checked against their command lines (pids get reused). */
export function loggerRefs(files: TaskFiles): ProcessRef[] {
  const pids = (files.readText(files.loggers) ?? '').split(/\s+/).filter(Boolean).map(Number);
  const refs: ProcessRef[] = [];
  for (const pid of pids) {
    const cmdline = readProcFile(pid, 'cmdline');
    const ref = processRef(pid);
    if (ref && cmdline?.includes(files.logs)) refs.push(ref);
  }
  return refs;
}

function readProcFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}

export const launcherPresent = (files: TaskFiles) => existsSync(files.loggers);
