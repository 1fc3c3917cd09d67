// Starting a prepared task's container: oci-start.sh is spawned detached (its own session, stdio to
// a file, no pipe to the daemon); it starts the log writers and becomes the container's supervisor
// (shim/oci-shim.pl), which runs the OCI runtime's `create` and `start` and reports the container's
// init once it runs. The processes found are recorded in process.json;
// the facts they come from (the supervisor's files, the writers' command lines) stay true after a
// daemon restart, so the same helpers serve adoption.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { findTool } from '../../lib/exec.js';
import { isRunning, processRef, type ProcessRef } from '../../lib/process.js';
import type { OciRuntime } from './oci/runtime.js';
import type { ShimPaths } from './shims.js';
import { folderChanges, type FolderChanges } from './folder-changes.js';
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
  /** How the launcher is started (default: spawned by this process; the runtime uses its spawner). */
  launch?: Launch;
}

/**
 * Starts the launcher detached: a session of its own, cwd /, stdin /dev/null, stdout and stderr
 * appended to `logFile` (made beforehand), only PATH and LC_ALL=C in its environment. Resolves with
 * its pid; `ended` says how it ended, or undefined when that can no longer be known (the process
 * that started it went away: its pid is all that is left to look at).
 */
export type Launch = (
  argv: string[],
  opts: { logFile: string; path: string },
) => Promise<{ pid: number; ended: Promise<LauncherEnd | undefined> }>;

/** The launcher as this process's own child: its end is an event. */
export const spawnLauncher: Launch = (argv, opts) =>
  new Promise((resolve, reject) => {
    const fd = openSync(opts.logFile, 'a', 0o600);
    let child;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        detached: true,
        stdio: ['ignore', fd, fd],
        cwd: '/',
        env: { PATH: opts.path, LC_ALL: 'C' },
      });
    } finally {
      closeSync(fd);
    }
    child.unref();
    const ended = new Promise<LauncherEnd>((done) => {
      child.on('error', (err) => done({ error: err.message }));
      child.on('exit', (code, signal) => done({ code, signal }));
    });
    const pid = child.pid;
    // Without a pid the spawn failed; its error arrives a tick later.
    if (pid === undefined) void ended.then((e) => reject(new Error('error' in e ? e.error : 'no pid')));
    else resolve({ pid, ended });
  });

/** Pure: a wait status (as waitpid gives it) → how the launcher ended. */
export function launcherEndOf(status: number): LauncherEnd {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  const name = Object.entries(constants.signals).find(([, n]) => n === sig)?.[0];
  return { code: null, signal: (name ?? 'SIGKILL') as NodeJS.Signals };
}

/** How long the launch loop waits between looks when nothing in the task's folder changed. */
const BACKSTOP_MS = 100;

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
  closeSync(openSync(files.runtimeErr, 'a', 0o600));
  const changes = folderChanges(files.dir);
  // The launcher's end is an event (whoever started it waits for it), no need to look in /proc for
  // it; only when that waiter is gone is its pid looked at.
  let end: LauncherEnd | undefined;
  let endUnknown = false;
  let shim: ProcessRef | undefined;
  try {
    const launched = await (req.launch ?? spawnLauncher)(
      [
        findTool('bash'),
        req.shims.start,
        files.dir,
        String(req.logMaxBytes),
        String(req.logMaxFiles),
        ...supervisorArgs(req),
      ],
      { logFile: files.runtimeErr, path: req.systemPath },
    );
    shim = processRef(launched.pid);
    void launched.ended.then((e) => {
      if (e) end ??= e;
      else endUnknown = true;
      changes.poke();
    });
  } catch (err) {
    end = { error: err instanceof Error ? err.message : String(err) };
  }
  const gone = () => end !== undefined || !shim || (endUnknown && !isRunning(shim));
  try {
    const { init } = await waitForStart(req, changes, Date.now() + req.timeoutMs, () => end, gone);
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
  changes: FolderChanges,
  deadline: number,
  /** How the launcher ended (its spawn's error, or its exit); undefined while it runs. */
  launcherEnd: () => LauncherEnd | undefined,
  /** The launcher exited, or never started. */
  launcherGone: () => boolean,
): Promise<{ init?: ProcessRef }> {
  const { taskId, files } = req;
  let rechecked = false;
  for (;;) {
    const verdict = startVerdict(lookAtStart(files, launcherGone(), rechecked, Date.now() > deadline));
    switch (verdict.kind) {
      case 'started': {
        const init = verdict.initPid === undefined ? undefined : processRef(verdict.initPid);
        return init ? { init } : {};
      }
      case 'supervisor-failed':
        throw new Error(
          `task ${taskId} failed to start: ${launchError(files) ?? 'the supervisor gave up without saying why'}`,
        );
      case 'recheck':
        // Its files may have been written just as it ended; a spawn's error arrives a tick after
        // spawn() returned without a pid. The end is read after the pause, not before it.
        rechecked = true;
        await new Promise((r) => setTimeout(r, 20));
        continue;
      case 'launcher-ended':
        throw new Error(
          `task ${taskId} failed to start: ${launcherEndMessage(launcherEnd(), launchError(files))}`,
        );
      case 'hung':
        throw new Error(
          `task ${taskId} failed to start: the OCI runtime's create and start did not finish within ${Math.round(req.timeoutMs / 1000)} s`,
        );
      case 'wait':
        await changes.next(BACKSTOP_MS);
    }
  }
}

/** What the launch loop saw in the task's folder and of its launcher, at one look. */
export interface StartObservation {
  /** The supervisor's `created` (the init's pid), as read. */
  created: string | undefined;
  /** A status in `exit`. */
  exitRecorded: boolean;
  /** The launcher exited, or was never started. */
  launcherGone: boolean;
  /** The files were already read again after a pause since the launcher was seen gone. */
  rechecked: boolean;
  /** The hang bound (START_HANG_MS) has passed. */
  pastDeadline: boolean;
}

/**
 * One look at the supervisor's files. `exit` is read before `created`: the supervisor writes
 * `created` before it waits for the init, so a status seen first means `created`, if it was ever
 * written, is there to read. The other order let a quick command (both files written between the
 * two reads) look like a supervisor that failed before the container ran.
 */
export function lookAtStart(
  files: Pick<TaskFiles, 'readText' | 'created' | 'exit'>,
  launcherGone: boolean,
  rechecked: boolean,
  pastDeadline: boolean,
): StartObservation {
  const exitRecorded = Boolean(files.readText(files.exit)?.trim());
  const created = files.readText(files.created);
  return { created, exitRecorded, launcherGone, rechecked, pastDeadline };
}

export type StartVerdict =
  | { kind: 'started'; initPid?: number }
  | { kind: 'supervisor-failed' }
  | { kind: 'recheck' }
  | { kind: 'launcher-ended' }
  | { kind: 'hung' }
  | { kind: 'wait' };

/**
 * Pure: what one look at a launch means. A slow start is not a failure: while the supervisor runs
 * and has recorded nothing, the launch waits, however loaded the machine. Only what the supervisor
 * records (created, or a status without it), the launcher's end, or the hang bound end the wait.
 */
export function startVerdict(o: StartObservation): StartVerdict {
  // Started: the init may already have ended (a quick command); the supervisor records how.
  const created = o.created?.trim();
  if (created) {
    const pid = Number(created);
    return Number.isSafeInteger(pid) && pid > 0 ? { kind: 'started', initPid: pid } : { kind: 'started' };
  }
  // A status without `created`: the supervisor failed before the container ran.
  if (o.exitRecorded) return { kind: 'supervisor-failed' };
  if (o.launcherGone) return o.rechecked ? { kind: 'launcher-ended' } : { kind: 'recheck' };
  if (o.pastDeadline) return { kind: 'hung' };
  return { kind: 'wait' };
}

/**
 * How long a start may take before it counts as hung: the OCI runtime's create and start are a few
 * tens of ms on a quiet machine, but several seconds each with 20 runnable processes a core, and a
 * slow start is not a failure (runc and containerd put no deadline of their own on them; the
 * kubelet gives a runtime call 2 minutes, --runtime-request-timeout). The bound is only there for a
 * create stuck in the kernel (a hung mount, a frozen cgroup): the task's stop and removal wait
 * behind its start.
 */
export const START_HANG_MS = 120_000;

/** How the launcher (oci-start.sh, then the supervisor in the same process) ended. */
export type LauncherEnd = { error: string } | { code: number | null; signal: NodeJS.Signals | null };

/** Why a launch failed: the OCI runtime's own error first, then what the launcher printed. */
export function launchError(files: TaskFiles): string | undefined {
  const runtimeErrors = (files.readText(files.runtimeLog) ?? '')
    .split('\n')
    .map(runtimeLogError)
    .filter((m): m is string => m !== undefined);
  if (runtimeErrors.length) return runtimeErrors[runtimeErrors.length - 1]!;
  const text = files.readText(files.runtimeErr)?.trim();
  return text ? text.split('\n').slice(-3).join('; ') : undefined;
}

/**
 * Why a launcher that ended before the container ran failed: what it or the OCI runtime said, and
 * how it ended. A launcher killed by a signal says nothing itself (every other way out of the
 * supervisor records a status or prints its reason), so the signal is the news.
 */
export function launcherEndMessage(end: LauncherEnd | undefined, said: string | undefined): string {
  if (end && 'error' in end) return `the launcher could not be started: ${end.error}`;
  if (!end) return said ?? 'the launcher could not be started';
  const how = end.signal ? `was killed by ${end.signal}` : `exited with status ${end.code}`;
  if (said) return `${said} (the launcher ${how})`;
  return end.signal ? `the launcher ${how}` : `the launcher ${how} without saying why`;
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

/**
 * The supervisor oci-start.sh recorded (for a daemon that died before writing process.json), while
 * that pid still runs it: the launcher and the shim both have the task's folder as their second
 * argument. Any other process there now only reused the pid.
 */
export function recordedSupervisor(files: TaskFiles): ProcessRef | undefined {
  const pid = pidOf(files.readText(files.supervisor));
  const ref = pid === undefined ? undefined : processRef(pid);
  const argv = ref && readProcFile(ref.pid, 'cmdline')?.split('\0');
  return argv?.[2] === files.dir && /\/(oci-start\.sh|oci-shim\.pl)$/.test(argv[1] ?? '') ? ref : undefined;
}

/**
 * The container's init from the supervisor's `created` (when process.json lacks it), while it is
 * still the supervisor's child: once reaped, its pid may be anyone's.
 */
export function supervisedInit(createdText: string, supervisor: ProcessRef): ProcessRef | undefined {
  const pid = pidOf(createdText);
  const ref = pid === undefined ? undefined : processRef(pid);
  const stat = ref && readProcFile(ref.pid, 'stat');
  // /proc/PID/stat: the parent's pid is the second field after the command name's closing ')'.
  const ppid = stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return ppid === supervisor.pid && isRunning(supervisor) ? ref : undefined;
}

function pidOf(text: string | undefined): number | undefined {
  const pid = Number(text?.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function readProcFile(pid: number, name: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}

export const launcherPresent = (files: TaskFiles) => existsSync(files.loggers);
