// `swarmlite exec`: a command inside a running task, through the OCI runtime's `exec`: it joins the
// container's namespaces and cgroup (its memory and pids count against the task's limits, as `docker
// exec` does) with the container's own environment, working folder, user, capabilities, seccomp
// profile and no-new-privileges. Pipes only: there is no pseudo-terminal (tty requests run the same
// way; interactive programs that insist on a terminal will notice).
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { constants } from 'node:os';
import type { ExecHandle, ExecOptions } from '../agent/executor.js';
import type { OciRuntime } from './oci/runtime.js';
import type { OciConfig } from './oci/spec.js';
import { writeJsonAtomic } from './task-files.js';

export interface ExecRequest {
  runtime: OciRuntime;
  taskId: string;
  /** The container's config: the exec'd process is its process with other arguments. */
  config: OciConfig;
  /** Where the process description is written for the runtime (removed when the command ends). */
  processFile: string;
  argv: string[];
  opts: ExecOptions;
  systemPath: string;
}

/** The container's process with the exec's arguments (without the init the main process may have). */
function execProcess(config: OciConfig, argv: string[]): OciConfig['process'] {
  return { ...config.process, terminal: false, args: argv };
}

export async function startExec(req: ExecRequest): Promise<ExecHandle> {
  writeJsonAtomic(req.processFile, execProcess(req.config, req.argv));
  const [file, ...args] = req.runtime.execCommand(req.taskId, req.processFile);
  // Own process group: kill() reaches the runtime, which forwards the signal to the command.
  const child = spawn(file!, args, {
    detached: true,
    stdio: [req.opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: { PATH: req.systemPath, LC_ALL: 'C' },
  });
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', (err) => {
      rmSync(req.processFile, { force: true });
      reject(err);
    });
    child.once('close', (code, signal) => {
      rmSync(req.processFile, { force: true });
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
  if (req.opts.stdin && child.stdin) {
    child.stdin.on('error', () => undefined); // the command may exit without reading it all
    req.opts.stdin.pipe(child.stdin);
  }
  const pid = child.pid;
  return {
    stdout: child.stdout!,
    stderr: child.stderr!,
    exit,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      // Only while the runtime's process is ours: once reaped, its pid, and so the group id, may be
      // anyone's (a task's launcher leads a process group of its own, and pids come round quickly).
      if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-pid, signal);
      } catch {
        // already gone
      }
    },
  };
}
