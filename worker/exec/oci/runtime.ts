// The OCI runtime underneath the task runtime, behind one small interface: create, start, state,
// kill, delete, exec, list. runc and crun share the command line this speaks (`--root` for their
// state folder, which lives under the daemon's root so containers outlive the daemon and a new
// daemon finds them), so one class serves both; the default is runc (Debian's crun 1.8.1 refuses
// hybrid cgroup v1/v2 machines).
//
// create and start are also given as command lines: create must be run by the container's
// supervisor (shim/oci-shim.pl), a child subreaper, so that the container's init becomes its child
// when the runtime's create process exits, and its exit status can be collected by a process that
// outlives the daemon; the supervisor runs start right after, which spares the daemon a spawn.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findTool, run as runTool } from '../../../lib/exec.js';
import type { Runner } from '../../../lib/spawner.js';

export type OciStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface OciState {
  id: string;
  /** The container's init in the host's PID namespace (0 once stopped, for some runtimes). */
  pid: number;
  status: OciStatus;
  bundle: string;
}

export interface OciRuntime {
  /** `runc`, `crun`. */
  readonly name: string;
  /**
   * The command line that creates a container from a bundle, writing its init's pid to pidFile and
   * the runtime's own messages (JSON lines) to logFile.
   */
  createCommand(id: string, bundle: string, pidFile: string, logFile: string): string[];
  /** The command line that runs the created container's process (the supervisor runs it). */
  startCommand(id: string, logFile: string): string[];
  /** Runs the created container's process. */
  start(id: string): Promise<void>;
  /** undefined when the runtime does not know the container. */
  state(id: string): Promise<OciState | undefined>;
  /** Signals the container's init, or with `all` every process of the container. */
  kill(id: string, signal: NodeJS.Signals, all?: boolean): Promise<void>;
  /** Forgets the container and removes its cgroup; `force` kills it first. Idempotent. */
  delete(id: string, force: boolean): Promise<void>;
  /**
   * Whether the runtime may hold state of the container (its folder under the state root, made by
   * `create` before anything else of the container). false: delete would find nothing.
   */
  knows(id: string): boolean;
  /** The command line that runs process.json's process in the running container, in the foreground. */
  execCommand(id: string, processFile: string): string[];
  list(): Promise<OciState[]>;
}

const NOT_FOUND = /does not exist|not found|No such file or directory/i;

/** runc's (and crun's) command line. */
export class OciCli implements OciRuntime {
  readonly name: string;
  private readonly binary: string;

  /** @param stateRoot the runtime's `--root`: its state of every container. */
  /** @param run how the runtime's commands are run (the task runtime's spawner). */
  constructor(
    private readonly stateRoot: string,
    tool: 'runc' | 'crun' = 'runc',
    private readonly run: Runner = runTool,
  ) {
    this.name = tool;
    this.binary = findTool(tool);
  }

  private args(...rest: string[]): string[] {
    return ['--root', this.stateRoot, ...rest];
  }

  createCommand(id: string, bundle: string, pidFile: string, logFile: string): string[] {
    return [
      this.binary,
      '--log',
      logFile,
      '--log-format',
      'json',
      ...this.args('create', '--bundle', bundle, '--pid-file', pidFile, id),
    ];
  }

  startCommand(id: string, logFile: string): string[] {
    return [this.binary, '--log', logFile, '--log-format', 'json', ...this.args('start', id)];
  }

  async start(id: string): Promise<void> {
    await this.run(this.name, this.args('start', id));
  }

  async state(id: string): Promise<OciState | undefined> {
    try {
      return parseState(await this.run(this.name, this.args('state', id)));
    } catch (err) {
      if (err instanceof Error && NOT_FOUND.test(err.message)) return undefined;
      throw err;
    }
  }

  async kill(id: string, signal: NodeJS.Signals, all = false): Promise<void> {
    await this.run(this.name, this.args('kill', ...(all ? ['--all'] : []), id, signal.replace(/^SIG/, '')));
  }

  async delete(id: string, force: boolean): Promise<void> {
    try {
      await this.run(this.name, this.args('delete', ...(force ? ['--force'] : []), id));
    } catch (err) {
      if (err instanceof Error && NOT_FOUND.test(err.message)) return;
      throw err;
    }
  }

  knows(id: string): boolean {
    return existsSync(join(this.stateRoot, id));
  }

  execCommand(id: string, processFile: string): string[] {
    return [this.binary, ...this.args('exec', '--process', processFile, id)];
  }

  async list(): Promise<OciState[]> {
    const text = await this.run(this.name, this.args('list', '--format', 'json'));
    const parsed: unknown = JSON.parse(text.trim() || '[]');
    return Array.isArray(parsed) ? parsed.map((s) => parseState(JSON.stringify(s))) : [];
  }
}

const STATUSES = new Set<OciStatus>(['creating', 'created', 'running', 'paused', 'stopped']);

/** `runc state` output → OciState, refusing anything that is not one. */
export function parseState(text: string): OciState {
  const raw = JSON.parse(text) as Record<string, unknown>;
  const { id, pid, status, bundle } = raw;
  if (typeof id !== 'string' || typeof pid !== 'number' || !STATUSES.has(status as OciStatus))
    throw new Error(`unexpected OCI runtime state: ${text.slice(0, 200)}`);
  return { id, pid, status: status as OciStatus, bundle: typeof bundle === 'string' ? bundle : '' };
}
