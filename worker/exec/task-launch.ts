// Starting a prepared task: task-start.sh is spawned detached (its own session, stdio to a file, no
// pipe to the daemon), and start() waits until the task's init reports that it ran the command, or
// the launch fails with what the launcher or init said. The processes found are recorded in
// process.json; the facts they are found from (cgroup membership, NSpid, the writers' command
// lines) stay true after a daemon restart, so the same helpers serve adoption.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { findTool } from '../../lib/exec.js';
import { processRef, type ProcessRef } from '../../lib/process.js';
import type { TaskCgroup } from './cgroups.js';
import type { ShimPaths } from './shims.js';
import { writeJsonAtomic, type ProcessRecord, type TaskFiles } from './task-files.js';
import type { TaskPlan } from './task-plan.js';

export interface LaunchRequest {
  taskId: string;
  files: TaskFiles;
  plan: TaskPlan;
  netnsPath: string;
  cgroup: TaskCgroup;
  shims: ShimPaths;
  logMaxBytes: number;
  logMaxFiles: number;
  timeoutMs: number;
  /** PATH of the launcher and the tools it runs (not the task's). */
  systemPath: string;
  /**
   * The swarmlite installation the task's PATH leads with. The launch chain starts in it, so the
   * task's init can keep it visible when it lives under /tmp, which the task gets a private one of.
   */
  swarmliteRoot: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long the launch loop waits between looks when nothing in the task's folder changed. */
const BACKSTOP_MS = 100;

/**
 * Wakes the launch loop when something in the task's folder changes (init writing `started` or
 * `exit`) or the launcher exits, so 100 tasks starting together do not each read their files and
 * /proc every few ms. A change seen between two waits is kept; the backstop covers a missed event.
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

export async function launchTask(req: LaunchRequest): Promise<ProcessRecord> {
  const { files, cgroup } = req;
  for (const f of [files.exit, files.started, files.loggers, files.runtimeErr]) rmSync(f, { force: true });
  const errFd = openSync(files.runtimeErr, 'a', 0o600);
  let spawnError: Error | undefined;
  let child;
  try {
    child = spawn(
      findTool('bash'),
      [
        req.shims.start,
        files.dir,
        req.netnsPath,
        req.plan.hostname,
        String(req.logMaxBytes),
        String(req.logMaxFiles),
        findTool('nsenter'),
        findTool('unshare'),
        ...cgroup.procsFiles,
        '--',
        ...req.plan.argv,
      ],
      {
        detached: true,
        stdio: ['ignore', errFd, errFd],
        // A root that does not exist (tests give a made-up one) has nothing to keep visible.
        cwd: existsSync(req.swarmliteRoot) ? req.swarmliteRoot : '/',
        env: { PATH: req.systemPath, LC_ALL: 'C', SWARMLITE_ROOT: req.swarmliteRoot },
      },
    );
  } finally {
    closeSync(errFd);
  }
  const changes = folderChanges(files.dir);
  // The launcher is this process's child: its exit is an event, no need to look in /proc for it.
  let launcherGone = false;
  child.on('error', (err) => ((spawnError = err), changes.poke()));
  child.on('exit', () => ((launcherGone = true), changes.poke()));
  child.unref();
  const outer = child.pid === undefined ? undefined : processRef(child.pid);

  const deadline = Date.now() + req.timeoutMs;
  try {
    return await waitForInit(req, child.pid, outer, changes, deadline, () => spawnError ?? launcherGone);
  } finally {
    changes.close();
  }
}

async function waitForInit(
  req: LaunchRequest,
  childPid: number | undefined,
  outer: ProcessRef | undefined,
  changes: ReturnType<typeof folderChanges>,
  deadline: number,
  /** The spawn's error, or true once the launcher exited. */
  launcherEnded: () => Error | boolean,
): Promise<ProcessRecord> {
  const { taskId, files, cgroup } = req;
  for (;;) {
    const exitText = files.readText(files.exit)?.trim();
    const startedText = files.readText(files.started)?.trim();
    if (startedText || exitText) {
      // Init writes the command's pid once it ran it; an exit without it is init's own setup failing.
      if (!startedText) throw new Error(`task ${taskId} failed to start: ${launchError(files)}`);
      const init = findInit(cgroup); // absent when the command already ended
      const proc: ProcessRecord = {
        outer: outer ?? { pid: childPid ?? 0, startTime: '' },
        ...(init ? { init } : {}),
        loggers: loggerRefs(files),
        startedAt: new Date().toISOString(),
      };
      writeJsonAtomic(files.process, proc);
      return proc;
    }
    const ended = launcherEnded();
    if (ended || !outer) {
      await sleep(20); // init may have written its files just as the launcher ended
      if (files.readText(files.started)?.trim() || files.readText(files.exit)?.trim()) continue;
      const why = ended instanceof Error ? ended.message : launchError(files);
      throw new Error(`task ${taskId} failed to start: ${why}`);
    }
    if (Date.now() > deadline) {
      await cgroup.killAll();
      throw new Error(`task ${taskId} failed to start: its init did not come up within ${req.timeoutMs} ms`);
    }
    await changes.next(BACKSTOP_MS);
  }
}

function launchError(files: TaskFiles): string {
  const text = files.readText(files.runtimeErr)?.trim();
  return text ? text.split('\n').slice(-3).join('; ') : 'the launcher exited without saying why';
}

/** The writers' pids from task-start.sh, checked against their command lines (pids get reused). */
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

/** PID 1 of the task's PID namespace: the cgroup member whose innermost pid is 1. */
export function findInit(cgroup: TaskCgroup): ProcessRef | undefined {
  for (const pid of cgroup.pids()) {
    const nspid = /^NSpid:\s+(.+)$/m
      .exec(readProcFile(pid, 'status') ?? '')?.[1]
      ?.trim()
      .split(/\s+/);
    if (nspid && nspid.length >= 2 && nspid[nspid.length - 1] === '1') return processRef(pid);
  }
  return undefined;
}

function readProcFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}
