// Running the system tools swarmlite programs the kernel with (ip, bridge, nft, nsenter, ...).
// Every call names its tool, so a missing one turns into a MissingToolError that says which Debian
// package to install, and a failing one into an error that carries the command and its stderr.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { MissingToolError } from './errors.js';

/** The Debian/Ubuntu package that provides each tool swarmlite uses. */
const TOOL_PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  nft: 'nftables',
  nsenter: 'util-linux',
  setpriv: 'util-linux',
  unshare: 'util-linux',
  sysctl: 'procps',
  mount: 'mount',
  umount: 'mount',
  tcpdump: 'tcpdump',
  ping: 'iputils-ping',
  iperf3: 'iperf3',
  perl: 'perl-base',
  runc: 'runc',
  crun: 'crun',
  'tini-static': 'tini',
  busybox: 'busybox-static',
  setfattr: 'attr',
  getfattr: 'attr',
  mknod: 'coreutils',
  mkfifo: 'coreutils',
  chroot: 'coreutils',
  ss: 'iproute2',
  'docker-registry': 'docker-registry',
  htpasswd: 'apache2-utils',
};

const found = new Map<string, string>();

/** Absolute path of a tool, searching PATH plus the sbin folders a non-login root shell may lack. */
export function findTool(tool: string): string {
  const cached = found.get(tool);
  if (cached) return cached;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      found.set(tool, candidate);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  throw new MissingToolError(tool, TOOL_PACKAGES[tool] ?? tool);
}

/** Fails with one clear error naming every missing tool's package. */
export function requireTools(tools: string[]): void {
  const missing: MissingToolError[] = [];
  for (const tool of tools) {
    try {
      findTool(tool);
    } catch (err) {
      if (err instanceof MissingToolError) missing.push(err);
      else throw err;
    }
  }
  if (missing.length === 1) throw missing[0];
  if (missing.length > 1) {
    const pkgs = [...new Set(missing.map((m) => m.debianPackage))].join(' ');
    throw new MissingToolError(missing.map((m) => m.tool).join(', '), pkgs);
  }
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(
      `${command} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${stderr.trim() || '(no output)'}`,
    );
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  /** Text fed to the command's stdin (e.g. an `nft -f -` ruleset). */
  input?: string;
  /** Run inside this named network namespace (`ip netns exec`). */
  netns?: string;
  /** Exit codes that count as success besides 0. */
  okCodes?: number[];
  /**
   * A failure saying the thing acted on is not there (a device, a namespace, a file) counts as success:
   * for removals, which must be idempotent and may race with the kernel removing it anyway.
   */
  okIfAbsent?: boolean;
  /** When a tool that never ends is killed: TOOL_TIMEOUT_MS unless said. */
  timeoutMs?: number;
}

/**
 * A tool that runs longer than this is taken as hung, killed and reported. It bounds hangs; it is no
 * measure of speed: on a loaded 2-core machine, beside another suite's disk work, a plain
 * `mount -t overlay` once waited more than 30 s (the bound before) for the kernel, and a task's
 * prepare failed for it.
 */
export const TOOL_TIMEOUT_MS = 120_000;

/** What ip, bridge, nft and sysctl print when the thing they were asked about does not exist. */
const ABSENT =
  /Cannot find device|does not exist|No such (file|device|process)|Cannot find|not found|not mounted|Cannot open network namespace/i;

/** True when `err` is a failed command that said the thing it acted on is not there. */
export function isAbsentError(err: unknown): boolean {
  return err instanceof CommandError && ABSENT.test(err.stderr);
}

/**
 * Runs a tool and returns its stdout; throws CommandError on failure (a non-zero exit, a signal, a
 * timeout, or a spawn error). Plain child_process: the daemon runs a few of these per task, and
 * execa's option handling and stream plumbing cost ~1.5 ms of CPU a call over spawn's ~1 ms.
 */
export async function run(tool: string, args: string[], opts: RunOptions = {}): Promise<string> {
  let file = findTool(tool);
  let argv = args;
  if (opts.netns) {
    argv = ['netns', 'exec', opts.netns, file, ...args];
    file = findTool('ip');
  }
  const shownArgs = [tool, ...args].join(' ');
  const shown = opts.netns ? `[netns ${opts.netns}] ${shownArgs}` : shownArgs;
  const { code, stdout, stderr } = await new Promise<{ code?: number; stdout: string; stderr: string }>(
    (resolve) => {
      const child = spawn(file, argv, {
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      let failure: string | undefined;
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      const timer = setTimeout(() => {
        failure = `timed out after ${opts.timeoutMs ?? TOOL_TIMEOUT_MS} ms`;
        child.kill('SIGTERM');
      }, opts.timeoutMs ?? TOOL_TIMEOUT_MS);
      child.on('error', (e) => (failure ??= e.message));
      // 'close': the process ended and its stdout and stderr are read to the end.
      child.on('close', (exitCode, signal) => {
        clearTimeout(timer);
        const why = failure ?? (signal ? `killed by ${signal}` : undefined);
        resolve({
          ...(exitCode !== null && !failure ? { code: exitCode } : {}),
          stdout: out,
          stderr: why ? `${err}${err && !err.endsWith('\n') ? '\n' : ''}${why}` : err,
        });
      });
      if (opts.input !== undefined) {
        child.stdin!.on('error', () => undefined); // a tool that exits without reading: its exit says why
        child.stdin!.end(opts.input);
      }
    },
  );
  if (code === 0 || (code !== undefined && opts.okCodes?.includes(code))) return stdout;
  const err = new CommandError(shown, code, stderr);
  if (opts.okIfAbsent && code !== undefined && isAbsentError(err)) return stdout;
  throw err;
}
