// Where the agent and a task runtime meet. The agent owns the task state machine (what state a task
// is in, what to report, when to stop); an executor owns the processes, namespaces, cgroups and logs.
// The real executor is worker/exec; the simulated one (worker/agent/simulated-executor.ts) stands in
// for it in control-plane tests and benchmarks, where thousands of tasks must not be processes.
import type { TaskSpec } from '../../api/objects/index.js';

/** What a runtime needs to run one task. Templates in the spec are already expanded by the agent. */
export interface TaskLaunch {
  taskId: string;
  /** Docker's full task name, `<service>.<slot>.<taskId>` (global: `<service>.<nodeId>.<taskId>`). */
  name: string;
  serviceId: string;
  serviceName: string;
  slot: number;
  spec: TaskSpec;
  /** Docker's per-container options beyond the task spec; absent: Docker's defaults. */
  container?: ContainerOptions;
}

/** A mount of a container: a host folder, a named volume of the node (made on first use), or a tmpfs. */
export type ContainerMount =
  | { type: 'bind'; source: string; target: string; readonly: boolean }
  | { type: 'volume'; source: string; target: string; readonly: boolean }
  | { type: 'tmpfs'; target: string; sizeBytes?: number; mode?: number };

/**
 * `--cap-add`, `--cap-drop`, `--read-only`, `--security-opt no-new-privileges` and `seccomp=unconfined`,
 * `--init`, `--mount`/`--tmpfs`.
 */
export interface ContainerOptions {
  capAdd?: string[];
  capDrop?: string[];
  readOnly?: boolean;
  noNewPrivileges?: boolean;
  /** No syscall filter; absent: Docker's default seccomp profile. */
  seccomp?: 'unconfined';
  /** A tiny init as PID 1 that forwards signals and reaps orphans (the `host` image has one by default). */
  init?: boolean;
  mounts?: ContainerMount[];
  /**
   * `--network host`: the container shares the node's network namespace (no namespace of its own, the
   * node's /etc/hosts and resolv.conf, the node's hostname unless one is given). Absent: a namespace
   * of its own with only `lo`, which the network plane attaches to networks.
   */
  hostNetwork?: boolean;
  /**
   * A standalone container's resolv.conf (not on `host`): `embedded`, the embedded resolver with the
   * node's search domains and options (a user network, as Docker's); `node`, the node's own file with
   * its loopback nameservers dropped and `--dns` in their place (the default bridge and `none`, which
   * Docker gives no embedded DNS). Absent: a task's, the embedded resolver with the spec's settings.
   */
  resolvConf?: { mode: 'embedded' | 'node'; nodeFile: string };
}

/** How a task's main process ended. */
export interface TaskExit {
  exitCode: number;
  /** Set when a signal ended it (e.g. 'SIGKILL'). */
  signal?: string;
  /** The kernel's OOM killer ended it (cgroup memory limit). */
  oomKilled: boolean;
}

/** A task the runtime still knows about after a daemon restart. */
export interface RuntimeTaskRecord {
  taskId: string;
  /** running: its process is alive; exited: it ended (exit known); prepared: made but never started. */
  state: 'prepared' | 'running' | 'exited';
  exit?: TaskExit;
  pid?: number;
}

export interface LogOptions {
  /** Lines from the end to start with; undefined = all. */
  tail?: number;
  follow: boolean;
  /** Ends a follow when aborted. */
  signal?: AbortSignal;
  /** True once no more lines can come (the task's writers ended): a follow reads the rest and ends. */
  finished?: () => boolean;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds when known. */
  time: string;
  line: string;
}

export interface ExecOptions {
  tty: boolean;
  /** The runtime reads stdin only when given. */
  stdin?: NodeJS.ReadableStream;
}

/** A command running inside a task's namespaces (`swarmlite exec`). */
export interface ExecHandle {
  stdout: NodeJS.ReadableStream;
  stderr: NodeJS.ReadableStream;
  /** Resolves with the command's exit code (128 + signal number when a signal ended it). */
  exit: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Every method is idempotent per task id and throws an Error whose message is fit for `service ps`
 * (e.g. `unknown image "nginx": only the built-in image "host" is available`) when it cannot proceed.
 */
export interface Executor {
  /** Creates the task's sandbox (namespaces, cgroup, log files) without starting anything. */
  prepare(task: TaskLaunch): Promise<void>;
  /** Starts the task's process in its sandbox. */
  start(taskId: string): Promise<{ pid: number }>;
  /**
   * Resolves when the started (or adopted) process ends. Rejects with an AbortError once `signal`
   * aborts: the daemon stops watching (it is stopping) and the process runs on, for the next daemon.
   */
  wait(taskId: string, signal?: AbortSignal): Promise<TaskExit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. No-op if not running. */
  stop(taskId: string, graceMs: number): Promise<void>;
  /**
   * The task ended for good: frees its sandbox (process tree, namespaces, mounts, cgroup) but keeps its
   * logs and exit record, as Docker keeps a stopped container's, until remove().
   */
  release(taskId: string): Promise<void>;
  /** Removes everything the task left: process tree, namespaces, mounts, cgroup, state and logs. */
  remove(taskId: string): Promise<void>;
  /** Tasks found from an earlier run of the daemon, to adopt or clean up. */
  list(): Promise<RuntimeTaskRecord[]>;
  /** The task's log lines (stdout and stderr, in order). */
  logs(taskId: string, opts: LogOptions): AsyncIterable<LogLine>;
  /** Runs a command inside a running task's namespaces. */
  exec(taskId: string, argv: string[], opts: ExecOptions): Promise<ExecHandle>;
  /** The netns path of the task (`/run/netns/<name>`): the overlay driver plugs it into networks. */
  netnsPath(taskId: string): string;
}
