// A lab host's processes: its UTS namespace (so it is hostnamed node1, node2, ...), its daemon, and
// commands run inside it with `lab exec`. Daemons are recorded by pid and start time and are only
// ever signalled as that very process.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { errorMessage, UserError } from '../../lib/errors.js';
import { findTool, run } from '../../lib/exec.js';
import { isRunning, processRef, signalProcess, waitForExit, type ProcessRef } from '../../lib/process.js';
import { swarmliteBin } from '../../lib/repo.js';
import { daemonClient, localInfo } from '../../daemon/client.js';
import type { LabHostState } from './state.js';

/**
 * A persistent UTS namespace needs a bind mount, and a bind mount below a shared mount would
 * propagate to every other mount namespace: make the holding folder a private mount of its own first.
 */
export async function prepareUtsFolder(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await run('mount', ['--bind', dir, dir]);
  await run('mount', ['--make-private', dir]);
}

export async function createUtsNamespace(host: LabHostState): Promise<void> {
  writeFileSync(host.utsFile, '');
  await run('unshare', [`--uts=${host.utsFile}`, 'hostname', host.hostname]);
}

/** Unmounts whatever is mounted at `path` (a UTS namespace or the folder's own bind mount). */
export async function unmountIfMounted(path: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  const escaped = path.replace(/ /g, '\\040');
  let count = mounts.split('\n').filter((line) => line.split(' ')[4] === escaped).length;
  while (count-- > 0) await run('umount', [path], { okIfAbsent: true });
}

/** argv that runs a command inside the host's network and UTS namespaces. */
export function enterHost(host: LabHostState, command: string[]): string[] {
  return [findTool('nsenter'), `--net=/run/netns/${host.netns}`, `--uts=${host.utsFile}`, '--', ...command];
}

/** The environment of a command run in a host: its daemon's socket, and this swarmlite first on PATH. */
export function hostEnv(host: LabHostState): NodeJS.ProcessEnv {
  const binDir = dirname(swarmliteBin());
  return {
    ...process.env,
    SWARMLITE_HOST: `unix://${host.socket}`,
    PATH: `${binDir}:${process.env.PATH ?? ''}`,
  };
}

const pidFile = (host: LabHostState) => join(host.dir, 'daemon.pid');

export function readDaemonRef(host: LabHostState): ProcessRef | undefined {
  try {
    const [pid, startTime] = readFileSync(pidFile(host), 'utf8').trim().split(' ');
    return { pid: Number(pid), startTime: startTime ?? '' };
  } catch {
    return host.daemon;
  }
}

export function daemonRunning(host: LabHostState): boolean {
  const ref = readDaemonRef(host);
  return !!ref && isRunning(ref);
}

function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts the host's daemon and waits until it answers on its socket. */
export async function startDaemon(host: LabHostState, timeoutMs = 60_000): Promise<ProcessRef> {
  if (daemonRunning(host)) throw new UserError(`${host.hostname}'s daemon is already running`);
  mkdirSync(host.dataRoot, { recursive: true });
  const log = openSync(host.logFile, 'a');
  const argv = enterHost(host, [
    process.execPath,
    swarmliteBin(),
    'daemon',
    '--data-root',
    host.dataRoot,
    '--exec-root',
    host.execRoot,
    '--socket',
    host.socket,
    '--netns-prefix',
    host.prefix,
    '--advertise-addr',
    host.address,
    ...(host.daemonArgs ?? []),
  ]);
  // nsenter execs the daemon in place, so this pid is the daemon's own.
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const ref = child.pid === undefined ? undefined : processRef(child.pid);
  if (!ref) throw new UserError(`${host.hostname}'s daemon did not start:\n${logTail(host.logFile)}`);
  writeFileSync(pidFile(host), `${ref.pid} ${ref.startTime}\n`);
  const deadline = Date.now() + timeoutMs;
  const client = daemonClient(`unix://${host.socket}`);
  try {
    for (;;) {
      try {
        await localInfo(client, 5_000);
        return ref;
      } catch (err) {
        if (!isRunning(ref)) {
          throw new UserError(`${host.hostname}'s daemon exited during start-up:\n${logTail(host.logFile)}`);
        }
        if (Date.now() > deadline) {
          throw new UserError(
            `${host.hostname}'s daemon did not answer within ${timeoutMs} ms: ${errorMessage(err)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    client.close();
  }
}

/** SIGTERM (a clean stop) or SIGKILL (a crash) the host's daemon and wait until it is gone. */
export async function stopDaemon(host: LabHostState, signal: 'SIGTERM' | 'SIGKILL'): Promise<boolean> {
  const ref = readDaemonRef(host);
  if (!ref || !signalProcess(ref, signal)) return false;
  if (!(await waitForExit(ref, signal === 'SIGKILL' ? 5_000 : 12_000))) {
    signalProcess(ref, 'SIGKILL');
    await waitForExit(ref, 5_000);
  }
  rmSync(pidFile(host), { force: true });
  return true;
}

/** Runs a command inside the host with inherited stdio; returns its exit code. */
export function execInHost(host: LabHostState, command: string[]): number {
  const argv = enterHost(host, command);
  const result = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit', env: hostEnv(host) });
  if (result.error)
    throw new UserError(`cannot run ${command[0]} in ${host.hostname}: ${result.error.message}`);
  if (result.status !== null) return result.status;
  return 128 + (result.signal ? (constants.signals[result.signal] ?? 0) : 0);
}
