// `swarmlite exec`: a command inside a running task. It joins the task's cgroups (its memory and
// pids count against the task's limits, as `docker exec` does), enters all five namespaces of the
// task's init with nsenter, and runs through the task's entry script, so it gets the task's
// environment, working folder and user. Pipes only: there is no pseudo-terminal (tty requests run
// the same way; interactive programs that insist on a terminal will notice).
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import type { ExecHandle, ExecOptions } from '../agent/executor.js';
import { findTool } from '../../lib/exec.js';
import type { ProcessRef } from '../../lib/process.js';

export interface ExecRequest {
  init: ProcessRef;
  entryScript: string;
  cgroupProcs: string[];
  argv: string[];
  opts: ExecOptions;
  systemPath: string;
}

/** Joins each cgroup named before `--`, then becomes the command after it. */
const JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift; exec "$@"';

/** The entry script reaches the command as fd 9 (readable in any mount namespace through /dev/fd). */
const ENTRY_FD = 9;

export async function startExec(req: ExecRequest): Promise<ExecHandle> {
  const entryFd = openSync(req.entryScript, 'r');
  const stdio: StdioOptions = [req.opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  while (stdio.length < ENTRY_FD) stdio.push('ignore');
  stdio.push(entryFd);
  let child;
  try {
    child = spawn(
      findTool('sh'),
      [
        '-c',
        JOIN_CGROUPS,
        'sh',
        ...req.cgroupProcs,
        '--',
        findTool('nsenter'),
        `--target=${req.init.pid}`,
        '--net',
        '--pid',
        '--mount',
        '--uts',
        '--ipc',
        '--',
        'sh',
        `/dev/fd/${ENTRY_FD}`,
        ...req.argv,
      ],
      // Own process group: kill() reaches nsenter and the command it forked into the task.
      { detached: true, stdio, env: { PATH: req.systemPath, LC_ALL: 'C' } },
    );
  } finally {
    closeSync(entryFd);
  }
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)),
    );
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
      if (pid === undefined) return;
      try {
        process.kill(-pid, signal);
      } catch {
        // already gone
      }
    },
  };
}
