// The task runtime: each task is an OCI container (oci/) run by runc, with its root filesystem on
// overlayfs, its own PID, mount, UTS and IPC namespaces and cgroup, the network namespace this
// runtime makes for the network plane, and Docker's default isolation. Everything about a task lives
// in <root>/<taskId>/ (task-files.ts; the folder is also the OCI bundle) and in names derived from the
// prefix and task id (netns, cgroup folders, the runtime's container id), so a restarted daemon
// finds, adopts or cleans up exactly what it made. How a task is launched: worker/exec/README.md.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type {
  ContainerOptions,
  Executor,
  ExecHandle,
  ExecOptions,
  LogLine,
  LogOptions,
  RuntimeTaskRecord,
  TaskExit,
  TaskLaunch,
} from '../agent/executor.js';
import { findTool, requireTools } from '../../lib/exec.js';
import { Spawner } from '../../lib/spawner.js';
import { KeyedMutex } from '../../lib/mutex.js';
import { isRunning, signalProcess, waitForExit, type ProcessRef } from '../../lib/process.js';
import {
  launchContainer,
  launcherEndOf,
  launcherPresent,
  START_HANG_MS,
  loggerRefs,
  recordedSupervisor,
  supervisedInit,
} from './container-launch.js';
import { cgroupsPath, detectLayout, removePrefixFolders, TaskCgroup, type CgroupLayout } from './cgroups.js';
import { startExec } from './exec-command.js';
import { folderChanges } from './folder-changes.js';
import { readTaskLogs } from './log-reader.js';
import { OciCli, type OciRuntime } from './oci/runtime.js';
import type { OciConfig } from './oci/spec.js';
import { removeRootfs } from './oci/rootfs.js';
import { installShims, type ShimPaths } from './shims.js';
import { containerResolvConf, prepareBundle, type ImageSource } from './task-bundle.js';
import {
  exitFromStatus,
  readStatusThenLiveness,
  TaskFiles,
  taskPhase,
  writeJsonAtomic,
  type TaskPhase,
  type TaskRecord,
} from './task-files.js';
import { validateTaskId } from './task-plan.js';

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
  /** How often stop() looks whether a task's processes ended. */
  pollMs?: number;
  /** How often wait() looks at a task without a change in its folder (a supervisor killed records nothing). */
  waitBackstopMs?: number;
  /** How long start() waits for a container's create and start before it counts as hung (START_HANG_MS). */
  startTimeoutMs?: number;
  /** Images besides the built-in `host` (worker/images' store). */
  images?: ImageSource;
  /** Named volumes' folder; absent: volume mounts are refused. */
  volumesRoot?: string;
  /** The OCI runtime's state folder (`--root`); default <root>/.runc. Under an exec root it is lost
   * with a reboot, as the containers are. */
  ociRoot?: string;
  /** runc (default), or crun where it runs (not on hybrid cgroup machines). */
  ociRuntime?: 'runc' | 'crun';
}

/** The tools' own PATH: tasks get theirs from their spec, never the daemon's. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$/;
// (bash and perl are in every Debian/Ubuntu base system; the OCI runtime is added by name.)
const TOOLS = ['ip', 'mount', 'umount', 'tini-static'];

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
  private readonly waitBackstopMs: number;
  private readonly startTimeoutMs: number;
  private readonly locks = new KeyedMutex();
  private layoutCache?: CgroupLayout;
  private shimCache?: ShimPaths;
  private ociCache?: OciRuntime;
  /** Runs the runtime's short tools (mount, ip, runc delete...) from a small process (lib/spawner.ts). */
  private readonly spawner: Spawner;

  constructor(private readonly opts: TaskRuntimeOptions) {
    if (!PREFIX.test(opts.prefix))
      throw new Error(`invalid runtime prefix "${opts.prefix}": up to 16 letters, digits, '-' and '_'`);
    this.root = opts.root;
    this.prefix = opts.prefix;
    this.logMaxBytes = opts.logMaxBytes ?? 10 * 1024 * 1024;
    this.logMaxFiles = opts.logMaxFiles ?? 3;
    this.pidsMax = opts.pidsMax ?? 4096;
    this.pollMs = opts.pollMs ?? 100;
    this.waitBackstopMs = opts.waitBackstopMs ?? 1000;
    this.spawner = new Spawner(join(opts.root, '.spawn'));
    this.startTimeoutMs = opts.startTimeoutMs ?? START_HANG_MS;
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

  /** The OCI runtime (it makes its state folder at the first create). */
  private oci(): OciRuntime {
    const root = this.opts.ociRoot ?? join(this.root, '.runc');
    return (this.ociCache ??= new OciCli(root, this.opts.ociRuntime ?? 'runc', this.spawner.run));
  }

  /** Whether the kernel accounts swap: then a memory limit can also forbid swap, as Docker's does. */
  private swapAccounting(): boolean {
    const layout = this.layout();
    return layout.version === 2 || existsSync(join(layout.mounts.memory!, 'memory.memsw.limit_in_bytes'));
  }

  /** prepare/start/stop/remove of one task run one at a time, in call order. */
  private serialized<T>(taskId: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(taskId, fn);
  }

  async prepare(launch: TaskLaunch): Promise<void> {
    const files = this.files(launch.taskId);
    return this.serialized(launch.taskId, async () => {
      if (files.readTask()) return;
      requireTools([...TOOLS, this.opts.ociRuntime ?? 'runc']);
      // Leftovers of a prepare that a crash cut short carry this task's names: clear them first.
      // Prepare makes the task's folder before anything else of it, and removal takes the folder
      // last, so without the folder there is nothing to clear (and no process to spawn for it).
      if (existsSync(files.dir)) await this.cleanup(launch.taskId, false);
      let planned = false;
      const hostNetwork = launch.container?.hostNetwork === true;
      try {
        mkdirSync(files.logs, { recursive: true, mode: 0o700 });
        const bundle = await prepareBundle(launch, files, {
          nodeHostname: this.opts.nodeHostname,
          swarmliteBinDir: this.opts.swarmliteBinDir,
          pidsMax: this.pidsMax,
          ...(this.opts.images ? { images: this.opts.images } : {}),
          ...(this.opts.volumesRoot ? { volumesRoot: this.opts.volumesRoot } : {}),
          ...(hostNetwork ? {} : { netnsPath: this.netnsPath(launch.taskId) }),
          cgroupsPath: cgroupsPath(this.prefix, launch.taskId),
          swapAccounting: this.swapAccounting(),
          run: this.spawner.run,
        });
        planned = true;
        // Readable by every user of the task: they are bound over the container's /etc files.
        writeFileSync(files.resolvConf, bundle.files.resolvConf, { mode: 0o644 });
        writeFileSync(files.hosts, bundle.files.hosts, { mode: 0o644 });
        writeFileSync(files.hostname, bundle.files.hostname, { mode: 0o644 });
        writeJsonAtomic(files.config, bundle.config);
        // `--network host` joins no namespace: the node's is the one runc is started in.
        const netns = hostNetwork ? '' : this.netnsName(launch.taskId);
        // One process for both, from the spawner: a fork of the daemon costs it ~7 ms at 150 MB.
        if (netns)
          await this.spawner.run('sh', [
            '-c',
            '"$1" netns add "$2" && exec "$1" -n "$2" link set lo up',
            'sh',
            findTool('ip'),
            netns,
          ]);
        const record: TaskRecord = { plan: bundle.plan, netns, cgroupDirs: this.cgroup(launch.taskId).dirs };
        writeJsonAtomic(files.task, record); // last: a task.json means a complete sandbox
      } catch (err) {
        await this.cleanup(launch.taskId, false).catch(() => undefined);
        // What the spec or image got wrong is said as it is; a failing system step names the task.
        if (!planned) throw err;
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
      const proc = await launchContainer({
        taskId,
        files,
        runtime: this.oci(),
        shims: (this.shimCache ??= installShims(this.root)),
        logMaxBytes: this.logMaxBytes,
        logMaxFiles: this.logMaxFiles,
        timeoutMs: this.startTimeoutMs,
        systemPath: SYSTEM_PATH,
        // From the spawner too: a fork of the daemon for each task's launcher cost it more than the
        // launcher's own start.
        launch: async (argv, o) => {
          const { pid, ended } = await this.spawner.launch(argv, o);
          return {
            pid,
            ended: ended.then((e) =>
              e.forkFailed
                ? { error: 'the spawner could not fork' }
                : e.status === undefined
                  ? undefined
                  : launcherEndOf(e.status),
            ),
          };
        },
      });
      return { pid: proc.init?.pid ?? proc.outer.pid };
    });
  }

  /** Where the task is, from its folder and its supervisor (works for adopted tasks). */
  private status(taskId: string): TaskStatus {
    const files = this.files(taskId);
    const proc = files.readProcess();
    const created = files.readText(files.created)?.trim();
    // A daemon that died before writing process.json left the supervisor's pid in its own file.
    const supervisor = proc?.outer ?? recordedSupervisor(files);
    const { statusText: exitText, supervisorAlive } = readStatusThenLiveness(
      () => files.readText(files.exit),
      () => (supervisor ? isRunning(supervisor) : false),
    );
    const exitRecorded = Boolean(exitText?.trim());
    const launched = proc !== undefined || launcherPresent(files);
    const phase = taskPhase({ launched, created: Boolean(created), exitRecorded, supervisorAlive });
    const init = proc?.init ?? (created && supervisor ? supervisedInit(created, supervisor) : undefined);
    if (phase !== 'exited') return { phase, ...(init && isRunning(init) ? { init } : {}) };
    const oomKilled = existsSync(files.oomKilled) || this.cgroup(taskId).oomKilled();
    // A container never created ran nothing: Docker's 125 (runtime failure).
    const exit = created || exitRecorded ? exitFromStatus(exitText, oomKilled) : { exitCode: 125, oomKilled };
    return { phase, exit };
  }

  async wait(taskId: string, signal?: AbortSignal): Promise<TaskExit> {
    const files = this.files(taskId);
    if (!files.readTask()) throw new Error(`task ${taskId} is not prepared on this node`);
    // The supervisor records the exit in the task's folder: its change wakes the wait. The backstop
    // finds a supervisor that died without recording one (SIGKILL).
    const changes = folderChanges(files.dir);
    try {
      for (;;) {
        signal?.throwIfAborted();
        if (!existsSync(files.dir)) throw new Error(`task ${taskId} was removed`);
        const status = this.status(taskId);
        if (status.exit) return status.exit;
        // The backstop's timer holds the event loop: an abort must end it, or a stopped daemon cannot exit.
        await changes.next(this.waitBackstopMs, signal);
      }
    } finally {
      changes.close();
    }
  }

  async stop(taskId: string, graceMs: number): Promise<void> {
    const files = this.files(taskId);
    return this.serialized(taskId, async () => {
      const record = files.readTask();
      if (!record) return;
      const status = this.status(taskId);
      if (status.phase !== 'running' && status.phase !== 'starting') return;
      const ended = () => this.status(taskId).phase === 'exited';
      // The stop signal (SIGTERM unless the spec or image says otherwise) to the container's init
      // (with --init, tini forwards it to the command), then SIGKILL to every process of the
      // container once the grace period is over. A task the OCI runtime does not know (started by
      // a swarmlite before it, on the shell init) gets them straight.
      const signal = record.plan.stopSignal ?? 'SIGTERM';
      const known = await this.oci()
        .kill(taskId, signal)
        .then(() => true)
        .catch(() => false); // already stopped, or not runc's
      if (!known && status.init) signalProcess(status.init, signal);
      if (await waitUntil(ended, Math.max(0, graceMs), this.pollMs)) return;
      await this.oci()
        .kill(taskId, 'SIGKILL', true)
        .catch(() => undefined);
      await this.cgroup(taskId).killAll();
      if (!(await waitUntil(ended, 5000, this.pollMs)))
        throw new Error(`task ${taskId}: processes survived SIGKILL for 5 s`);
    });
  }

  /**
   * Makes an exited task startable again in the same sandbox (Docker's `start` of a stopped
   * container): the OCI runtime's container and the last run's records go, while the root filesystem
   * with its changes, the network namespace with whatever the network plane attached, and the logs
   * stay (the next run's writers append to them).
   */
  async reset(taskId: string): Promise<void> {
    const files = this.files(taskId);
    return this.serialized(taskId, async () => {
      if (!files.readTask()) throw new Error(`task ${taskId} is not prepared on this node`);
      const status = this.status(taskId);
      if (status.phase === 'prepared') return;
      if (status.phase !== 'exited') throw new Error(`task ${taskId} is still ${status.phase}`);
      const proc = files.readProcess();
      await this.oci().delete(taskId, true);
      if (!(await this.cgroup(taskId).killAll()))
        throw new Error(`cannot reset task ${taskId}: processes survived SIGKILL for 5 s`);
      await this.awaitHelpers(files, proc);
      for (const f of [
        files.process,
        files.created,
        files.exit,
        files.supervisor,
        files.loggers,
        files.pidFile,
        files.oomKilled,
        files.runtimeErr,
        files.runtimeLog,
      ])
        rmSync(f, { force: true });
    });
  }

  /**
   * A standalone container's resolv.conf made again for `mode` (`network connect` to a user network
   * turns the node's nameservers into 127.0.0.11, as Docker's sandbox does on such a join). Written in
   * place, not renamed: the file is bound over the container's /etc/resolv.conf, and a bind follows
   * the inode, so a running container sees the new content at once.
   */
  async rewriteResolvConf(
    taskId: string,
    mode: NonNullable<ContainerOptions['resolvConf']>,
    dns: { nameservers: string[]; search: string[]; options: string[] },
  ): Promise<void> {
    const files = this.files(taskId);
    return this.serialized(taskId, async () => {
      if (!files.readTask()) throw new Error(`task ${taskId} is not prepared on this node`);
      writeFileSync(files.resolvConf, containerResolvConf(mode, dns)!, { mode: 0o644 });
    });
  }

  /** The supervisor records the exit and ends; the writers end once the task's last process is gone. */
  private async awaitHelpers(files: TaskFiles, proc: ReturnType<TaskFiles['readProcess']>): Promise<void> {
    for (const ref of [...(proc ? [proc.outer] : []), ...(proc?.loggers ?? loggerRefs(files))]) {
      if (!(await waitForExit(ref, 2000))) {
        signalProcess(ref, 'SIGKILL');
        await waitForExit(ref, 1000);
      }
    }
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
    // The OOM verdict lives in the cgroup, which the runtime's delete removes: keep it.
    if (existsSync(files.dir) && cgroup.oomKilled()) writeFileSync(files.oomKilled, '1\n');
    // A container the runtime never made (a task removed before its start) costs no runtime process.
    if (this.oci().knows(taskId)) await this.oci().delete(taskId, true);
    if (!(await cgroup.killAll()))
      throw new Error(`cannot remove task ${taskId}: processes survived SIGKILL for 5 s`);
    // None of the helpers may outlive the task's files.
    await this.awaitHelpers(files, proc);
    await removeRootfs(files.dir, this.spawner.run);
    const netns = this.netnsName(taskId);
    if (existsSync(`/run/netns/${netns}`)) await this.spawner.run('ip', ['netns', 'del', netns]);
    await cgroup.remove();
    // Logs go with the task: `service rm` leaves nothing behind on the node.
    if (!keepFiles) rmSync(files.dir, { recursive: true, force: true });
  }

  /**
   * Every task this runtime's root holds, stopped and removed, then the prefix's cgroup folders: what
   * `lab down` and `leave` need after the daemon that owned them is gone.
   */
  async removeEverything(): Promise<void> {
    try {
      for (const r of await this.list()) await this.remove(r.taskId);
      // Containers the OCI runtime still knows without a task folder (a folder removed by hand, a
      // crash between the two removals): what runs of them goes too.
      for (const orphan of await this.oci().list()) await this.oci().delete(orphan.id, true);
      removePrefixFolders(this.layout(), this.prefix);
    } finally {
      // Nothing of the runtime's may outlive it here: its caller removes the folders next.
      await this.spawner.close();
    }
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
      ...(opts.finished ? { finished: opts.finished } : {}),
      gone: () => !existsSync(files.dir),
    });
  }

  /**
   * Resolves true once the task's log writers have ended (they end with its last process, after
   * writing what it printed), false if they still run after `timeoutMs`.
   */
  async logsWritten(taskId: string, timeoutMs: number): Promise<boolean> {
    const files = this.files(taskId);
    const deadline = Date.now() + timeoutMs;
    for (const ref of files.readProcess()?.loggers ?? loggerRefs(files))
      if (!(await waitForExit(ref, Math.max(0, deadline - Date.now())))) return false;
    return true;
  }

  async exec(taskId: string, argv: string[], opts: ExecOptions): Promise<ExecHandle> {
    const files = this.files(taskId);
    if (!files.readTask()) throw new Error(`task ${taskId} is not prepared on this node`);
    if (argv.length === 0 || argv[0] === '') throw new Error('exec: no command given');
    if (argv.some((a) => a.includes('\0'))) throw new Error('exec: arguments cannot contain NUL bytes');
    const status = this.status(taskId);
    if (status.phase !== 'running') throw new Error(`task ${taskId} is not running`);
    return startExec({
      runtime: this.oci(),
      taskId,
      config: JSON.parse(readFileSync(files.config, 'utf8')) as OciConfig,
      processFile: join(files.dir, `exec-${randomBytes(6).toString('hex')}.json`),
      argv,
      opts,
      systemPath: SYSTEM_PATH,
    });
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number, stepMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(Math.min(stepMs, 20));
  }
  return true;
}
