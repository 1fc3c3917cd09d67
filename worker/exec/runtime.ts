// The task runtime: each task is a process tree in its own network, PID, mount, UTS and IPC
// namespaces and cgroup, launched detached from the daemon so it outlives it. Everything about a
// task lives in <root>/<taskId>/ (task-files.ts) and in names derived from the prefix and task id
// (netns, cgroup folders), so a restarted daemon finds, adopts or cleans up exactly what it made.
// How a task is launched: worker/exec/README.md and the scripts in worker/exec/shim/.
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type {
  Executor,
  ExecHandle,
  ExecOptions,
  LogLine,
  LogOptions,
  RuntimeTaskRecord,
  TaskExit,
  TaskLaunch,
} from '../agent/executor.js';
import { findTool, requireTools, run } from '../../lib/exec.js';
import { KeyedMutex } from '../../lib/mutex.js';
import { isRunning, signalProcess, waitForExit, type ProcessRef } from '../../lib/process.js';
import { findInit, launchTask, loggerRefs } from './task-launch.js';
import { detectLayout, removePrefixFolders, TaskCgroup, type CgroupLayout } from './cgroups.js';
import { startExec } from './exec-command.js';
import { readTaskLogs } from './log-reader.js';
import { installShims, type ShimPaths } from './shims.js';
import {
  exitFromStatus,
  readStatusThenLiveness,
  TaskFiles,
  taskPhase,
  writeJsonAtomic,
  type TaskPhase,
  type TaskRecord,
} from './task-files.js';
import { planTask, renderEntryScript, validateTaskId } from './task-plan.js';
import { resolvConf } from '../../dns/resolv-conf.js';

export interface TaskRuntimeOptions {
  /** Folder of the task folders (e.g. <dataRoot>/tasks). */
  root: string;
  /** The daemon's naming prefix (`swl`, a lab host's `lab1-n2`): netns and cgroup names carry it. */
  prefix: string;
  /** The node's hostname, for SWARMLITE_NODE_HOSTNAME (whoami's `Node:`). */
  nodeHostname: string;
  /** Folder of the running swarmlite's launcher: first on every task's PATH. */
  swarmliteBinDir: string;
  /** Log rotation: a stream's file is rotated at this size ... */
  logMaxBytes?: number;
  /** ... and this many files are kept per stream (current included). */
  logMaxFiles?: number;
  pidsMax?: number;
  /** How often wait() looks at a task's processes. */
  pollMs?: number;
  /** Time start() gives a task's init to come up. */
  startTimeoutMs?: number;
}

/** The tools' own PATH: tasks get theirs from their spec, never the daemon's. */
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$/;
// (bash, sh and env are in every Debian/Ubuntu base system.)
const TOOLS = ['ip', 'nsenter', 'unshare', 'mount', 'setpriv'];

interface TaskStatus {
  phase: TaskPhase;
  init?: ProcessRef;
  exit?: TaskExit;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class TaskRuntime implements Executor {
  readonly root: string;
  readonly prefix: string;
  private readonly logMaxBytes: number;
  private readonly logMaxFiles: number;
  private readonly pidsMax: number;
  private readonly pollMs: number;
  private readonly startTimeoutMs: number;
  private readonly locks = new KeyedMutex();
  private layoutCache?: CgroupLayout;
  private shimCache?: ShimPaths;

  constructor(private readonly opts: TaskRuntimeOptions) {
    if (!PREFIX.test(opts.prefix))
      throw new Error(`invalid runtime prefix "${opts.prefix}": up to 16 letters, digits, '-' and '_'`);
    this.root = opts.root;
    this.prefix = opts.prefix;
    this.logMaxBytes = opts.logMaxBytes ?? 10 * 1024 * 1024;
    this.logMaxFiles = opts.logMaxFiles ?? 3;
    this.pidsMax = opts.pidsMax ?? 4096;
    this.pollMs = opts.pollMs ?? 100;
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    if (this.logMaxFiles < 1 || this.logMaxBytes < 1024)
      throw new Error('invalid log rotation: keep at least 1 file of 1KiB');
  }

  /** `<prefix>t<first 12 of the task id>`: the task's named network namespace. */
  netnsName(taskId: string): string {
    return `${this.prefix}t${taskId.slice(0, 12)}`;
  }

  netnsPath(taskId: string): string {
    return `/run/netns/${this.netnsName(taskId)}`;
  }

  private files(taskId: string): TaskFiles {
    validateTaskId(taskId);
    return new TaskFiles(join(this.root, taskId));
  }

  private cgroup(taskId: string): TaskCgroup {
    return new TaskCgroup(this.layout(), this.prefix, taskId);
  }

  private layout(): CgroupLayout {
    this.layoutCache ??= detectLayout(readFileSync('/proc/self/mounts', 'utf8'));
    return this.layoutCache;
  }

  /** prepare/start/stop/remove of one task run one at a time, in call order. */
  private serialized<T>(taskId: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(taskId, fn);
  }

  async prepare(launch: TaskLaunch): Promise<void> {
    const files = this.files(launch.taskId);
    return this.serialized(launch.taskId, async () => {
      if (files.readTask()) return;
      requireTools(TOOLS);
      const plan = planTask(launch, {
        nodeHostname: this.opts.nodeHostname,
        swarmliteBinDir: this.opts.swarmliteBinDir,
        pidsMax: this.pidsMax,
        passwd: readFileSync('/etc/passwd', 'utf8'),
        group: readFileSync('/etc/group', 'utf8'),
        isExecutable,
        isDirectory: (p) => statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false,
      });
      const resolv = resolvConf(launch.spec.dns); // refuses bad --dns-search/--dns-option here
      const cgroup = this.cgroup(launch.taskId);
      // Leftovers of a prepare that a crash cut short carry this task's names: clear them first.
      await this.cleanup(launch.taskId, false);
      try {
        mkdirSync(files.logs, { recursive: true, mode: 0o700 });
        writeFileSync(
          files.entry,
          renderEntryScript(plan, { env: findTool('env'), setpriv: findTool('setpriv') }),
          { mode: 0o600 },
        );
        // Readable by every user of the task: it is bound over /etc/resolv.conf with these permissions.
        writeFileSync(files.resolvConf, resolv, { mode: 0o644 });
        const netns = this.netnsName(launch.taskId);
        // One spawn for both: forking the daemon (~120 MB) is most of what a task's prepare costs it.
        await run('sh', [
          '-c',
          '"$1" netns add "$2" && exec "$1" -n "$2" link set lo up',
          'sh',
          findTool('ip'),
          netns,
        ]);
        await cgroup.create(plan.limits);
        const record: TaskRecord = { plan, netns, cgroupDirs: cgroup.dirs };
        writeJsonAtomic(files.task, record); // last: a task.json means a complete sandbox
      } catch (err) {
        await this.cleanup(launch.taskId, false).catch(() => undefined);
        throw new Error(
          `cannot prepare task ${launch.taskId}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    });
  }

  async start(taskId: string): Promise<{ pid: number }> {
    const files = this.files(taskId);
    return this.serialized(taskId, async () => {
      const record = files.readTask();
      if (!record) throw new Error(`task ${taskId} is not prepared on this node`);
      const known = files.readProcess();
      if (known) return { pid: known.init?.pid ?? known.outer.pid };
      const status = this.status(taskId);
      if (status.phase !== 'prepared')
        throw new Error(`task ${taskId} was already started (${status.phase})`);
      return this.launch(taskId, files, record);
    });
  }

  private async launch(taskId: string, files: TaskFiles, record: TaskRecord): Promise<{ pid: number }> {
    const proc = await launchTask({
      taskId,
      files,
      plan: record.plan,
      netnsPath: this.netnsPath(taskId),
      cgroup: this.cgroup(taskId),
      shims: (this.shimCache ??= installShims(this.root)),
      logMaxBytes: this.logMaxBytes,
      logMaxFiles: this.logMaxFiles,
      timeoutMs: this.startTimeoutMs,
      systemPath: SYSTEM_PATH,
      swarmliteRoot: dirname(this.opts.swarmliteBinDir),
    });
    return { pid: proc.init?.pid ?? proc.outer.pid };
  }

  /** Where the task is, from its folder, its processes and its cgroup (works for adopted tasks). */
  private status(taskId: string): TaskStatus {
    const files = this.files(taskId);
    const cgroup = this.cgroup(taskId);
    const proc = files.readProcess();
    let init: ProcessRef | undefined;
    const { statusText: exitText, initAlive } = readStatusThenLiveness(
      () => files.readText(files.exit),
      () => {
        init = proc?.init ?? findInit(cgroup);
        return init ? isRunning(init) : false;
      },
    );
    const exitRecorded = Boolean(exitText?.trim());
    const launched = proc !== undefined || existsSync(files.loggers);
    const outerAlive = proc ? isRunning(proc.outer) : cgroup.pids().length > 0;
    const initBegan = existsSync(files.started);
    const phase = taskPhase({ launched, initBegan, exitRecorded, initAlive, outerAlive });
    if (phase !== 'exited') return { phase, ...(init ? { init } : {}) };
    const oomKilled = cgroup.oomKilled();
    // A launcher that ended before init began never ran the command: Docker's 125 (runtime failure).
    const exit =
      initBegan || exitRecorded ? exitFromStatus(exitText, oomKilled) : { exitCode: 125, oomKilled };
    return { phase, exit };
  }

  async wait(taskId: string): Promise<TaskExit> {
    const files = this.files(taskId);
    if (!files.readTask()) throw new Error(`task ${taskId} is not prepared on this node`);
    for (;;) {
      if (!existsSync(files.dir)) throw new Error(`task ${taskId} was removed`);
      const status = this.status(taskId);
      if (status.exit) return status.exit;
      await sleep(this.pollMs);
    }
  }

  async stop(taskId: string, graceMs: number): Promise<void> {
    const files = this.files(taskId);
    return this.serialized(taskId, async () => {
      if (!files.readTask()) return;
      const status = this.status(taskId);
      if (status.phase !== 'running' && status.phase !== 'starting') return;
      const cgroup = this.cgroup(taskId);
      // Init forwards SIGTERM to the command and exits with it; the kernel then ends the namespace.
      if (
        status.init &&
        signalProcess(status.init, 'SIGTERM') &&
        (await waitForExit(status.init, Math.max(0, graceMs)))
      ) {
        if (await waitUntil(() => cgroup.pids().length === 0, 2000)) return;
      }
      if (status.init) signalProcess(status.init, 'SIGKILL');
      if (!(await cgroup.killAll())) throw new Error(`task ${taskId}: processes survived SIGKILL for 5 s`);
    });
  }

  async remove(taskId: string): Promise<void> {
    this.files(taskId);
    return this.serialized(taskId, () => this.cleanup(taskId, false));
  }

  async release(taskId: string): Promise<void> {
    this.files(taskId);
    return this.serialized(taskId, () => this.cleanup(taskId, true));
  }

  /**
   * Everything of the task, in the reverse order of prepare: processes, netns, cgroup, and (unless the
   * task is only released) its folder with the logs.
   */
  private async cleanup(taskId: string, keepFiles: boolean): Promise<void> {
    const files = this.files(taskId);
    const cgroup = this.cgroup(taskId);
    const proc = files.readProcess();
    if (proc?.init) signalProcess(proc.init, 'SIGKILL');
    if (!(await cgroup.killAll()))
      throw new Error(`cannot remove task ${taskId}: processes survived SIGKILL for 5 s`);
    // The writers end once the task's last process is gone; none may outlive its files.
    for (const ref of proc?.loggers ?? loggerRefs(files)) {
      if (!(await waitForExit(ref, 2000))) {
        signalProcess(ref, 'SIGKILL');
        await waitForExit(ref, 1000);
      }
    }
    const netns = this.netnsName(taskId);
    if (existsSync(`/run/netns/${netns}`)) await run('ip', ['netns', 'del', netns]);
    await cgroup.remove();
    // Logs go with the task: `service rm` leaves nothing behind on the node.
    if (!keepFiles) rmSync(files.dir, { recursive: true, force: true });
  }

  /**
   * Every task this runtime's root holds, stopped and removed, then the prefix's cgroup folders: what
   * `lab down` and `leave` need after the daemon that owned them is gone.
   */
  async removeEverything(): Promise<void> {
    for (const r of await this.list()) await this.remove(r.taskId);
    removePrefixFolders(this.layout(), this.prefix);
  }

  async list(): Promise<RuntimeTaskRecord[]> {
    if (!existsSync(this.root)) return [];
    const out: RuntimeTaskRecord[] = [];
    for (const name of readdirSync(this.root).sort()) {
      if (name.startsWith('.')) continue;
      try {
        validateTaskId(name);
      } catch {
        continue; // not a task folder
      }
      const status = this.status(name);
      const state = status.phase === 'starting' ? 'running' : status.phase;
      out.push({
        taskId: name,
        state,
        ...(status.exit ? { exit: status.exit } : {}),
        ...(status.init ? { pid: status.init.pid } : {}),
      });
    }
    return out;
  }

  async *logs(taskId: string, opts: LogOptions): AsyncIterable<LogLine> {
    const files = this.files(taskId);
    if (!existsSync(files.dir)) throw new Error(`task ${taskId} is not prepared on this node`);
    yield* readTaskLogs({ stdout: files.log('stdout'), stderr: files.log('stderr') }, this.logMaxFiles, {
      ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
      follow: opts.follow,
      ...(opts.signal ? { signal: opts.signal } : {}),
      gone: () => !existsSync(files.dir),
    });
  }

  async exec(taskId: string, argv: string[], opts: ExecOptions): Promise<ExecHandle> {
    const files = this.files(taskId);
    if (!files.readTask()) throw new Error(`task ${taskId} is not prepared on this node`);
    if (argv.length === 0 || argv[0] === '') throw new Error('exec: no command given');
    const status = this.status(taskId);
    if (status.phase !== 'running' || !status.init) throw new Error(`task ${taskId} is not running`);
    return startExec({
      init: status.init,
      entryScript: files.entry,
      cgroupProcs: this.cgroup(taskId).procsFiles,
      argv,
      opts,
      systemPath: SYSTEM_PATH,
    });
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
