// The CLI's tests drive the real binary: one run of it against a daemon's socket, a run that must
// succeed, a run that must be refused (one line, nothing printed, the exit code), the busybox image
// the container tests load (the applets each test runs, nothing else), and a node of their own.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { containerRuntime } from '../daemon/executor.js';
import { swarmliteBin } from '../lib/repo.js';
import { PROCESS_DEADLINE_MS } from '../test/support.js';
import { dockerSaveTar, imageOf, layerOf, makeTar } from '../worker/images/test-images.js';
import { waitForDaemon } from './test-daemon.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `swarmlite -H unix://socket args...` with `stdin`; killed after the process deadline. */
export function cli(socket: string, args: string[], stdin = ''): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [swarmliteBin(), '-H', `unix://${socket}`, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_DEADLINE_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

/** A command that must succeed: its stdout. */
export async function ok(socket: string, args: string[], stdin = ''): Promise<string> {
  const r = await cli(socket, args, stdin);
  assert.equal(r.code, 0, `swarmlite ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A refusal: exit `code`, one line on stderr matching `message`, nothing on stdout. */
export async function refused(socket: string, args: string[], message: RegExp, code = 1): Promise<void> {
  const r = await cli(socket, args);
  assert.equal(r.code, code, `swarmlite ${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
  assert.equal(r.stdout, '', `swarmlite ${args.join(' ')} printed ${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0] ?? '', message, `swarmlite ${args.join(' ')}`);
  assert.equal(lines.length, 1, r.stderr);
}

/** Resolves once `child` has exited, sending it SIGTERM if it still runs. */
export function stopped(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * The machine's static busybox with `applets` linked in /bin, a root user and /tmp; `config` adds to
 * (or overrides) the image config's `Env: ['PATH=/bin']` and `Cmd: ['sh']`. No entrypoint, so the
 * command given is the command.
 */
export async function busyboxTestImage(applets: string[], config: Record<string, unknown> = {}) {
  const layer = await makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: readFileSync('/bin/busybox'), mode: 0o755 },
    ...applets.map((applet) => ({ name: `bin/${applet}`, type: 'symlink' as const, linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
  return imageOf([layerOf(layer, true)], { Env: ['PATH=/bin'], Cmd: ['sh'], ...config });
}

/**
 * A daemon inside the network namespace `ns` (standing for a node), with its state under `dir`.
 * nsenter, not `ip netns exec`, which remounts /sys (and so hides the cgroup mounts) in a mount
 * namespace of its own; nsenter execs it: the child's pid is the daemon's.
 */
export function spawnDaemonInNetns(
  ns: string,
  dir: string,
  socket: string,
  prefix: string,
  flags: string[] = [],
  log: 'ignore' | number = 'ignore',
): ChildProcess {
  const daemon = [
    'daemon',
    '--data-root',
    `${dir}/data`,
    '--exec-root',
    `${dir}/exec`,
    '--socket',
    socket,
    ...flags,
  ];
  return spawn(
    'nsenter',
    [
      `--net=/run/netns/${ns}`,
      '--',
      process.execPath,
      swarmliteBin(),
      ...daemon,
      '--netns-prefix',
      prefix,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', log, log] },
  );
}

/**
 * A node for the container tests: a network namespace of its own (`<prefix>-node`, standing for the
 * node, with only `lo` at first) and a daemon in it with its state under a fresh `swl-<tag>-` folder.
 * Everything it made goes when the test ends, also when it fails: the daemon and the processes
 * started with `inNs`, the runtime's containers, the namespace (its bridges, veth ends and nftables
 * table go with it) and the folder.
 */
export class TestNode {
  readonly ns: string;
  readonly socket: string;
  private daemon?: ChildProcess;
  private readonly children: ChildProcess[] = [];

  private constructor(
    readonly dir: string,
    private readonly prefix: string,
    private readonly flags: string[],
  ) {
    this.ns = `${prefix}-node`;
    this.socket = join(dir, 's.sock');
  }

  /**
   * A node whose daemon runs with `flags` (made from the node's folder); `setUp` runs before the
   * daemon starts (files it reads, upstreams it talks to).
   */
  static async start(
    t: TestContext,
    prefix: string,
    tag: string,
    flags: (dir: string) => string[] = () => [],
    setUp?: (node: TestNode) => void,
  ): Promise<TestNode> {
    const dir = mkdtempSync(join(tmpdir(), `swl-${tag}-`));
    const node = new TestNode(dir, prefix, flags(dir));
    t.after(() => node.remove());
    node.dropNs();
    execFileSync('ip', ['netns', 'add', node.ns]);
    execFileSync('ip', ['netns', 'exec', node.ns, 'ip', 'link', 'set', 'lo', 'up']);
    setUp?.(node);
    await node.startDaemon();
    return node;
  }

  /** A process in the node's namespace, stopped with the node. */
  inNs(args: string[]): ChildProcess {
    const child = spawn('nsenter', [`--net=/run/netns/${this.ns}`, '--', ...args], { stdio: 'ignore' });
    this.children.push(child);
    return child;
  }

  /**
   * Stops the daemon and starts it again on the same state (containers run on meanwhile); `whileDown`
   * runs in between (a test rewriting a record as an older daemon wrote it).
   */
  async restartDaemon(whileDown?: () => void): Promise<void> {
    if (this.daemon) await stopped(this.daemon);
    whileDown?.();
    await this.startDaemon();
  }

  /** Saves `image` as `ref` and loads it into the node's daemon. */
  async loadImage(image: Awaited<ReturnType<typeof imageOf>>, ref: string): Promise<void> {
    const tar = join(this.dir, 'image.tar');
    writeFileSync(tar, await dockerSaveTar(image, [ref]));
    await ok(this.socket, ['image', 'load', '-q', '-i', tar]);
  }

  /** Starts the daemon, its output appended to daemon.log: a daemon that never answers says why. */
  private async startDaemon(): Promise<void> {
    const logPath = join(this.dir, 'daemon.log');
    const log = openSync(logPath, 'a');
    try {
      this.daemon = spawnDaemonInNetns(this.ns, this.dir, this.socket, this.prefix, this.flags, log);
    } finally {
      closeSync(log); // the child has its own copy
    }
    try {
      await waitForDaemon(this.socket);
    } catch (err) {
      const tail = readFileSync(logPath, 'utf8').split('\n').slice(-30).join('\n');
      const exit = this.daemon.exitCode ?? this.daemon.signalCode ?? 'still running';
      throw new Error(`daemon in ${this.ns} did not answer (${exit}): ${String(err)}\n${tail}`);
    }
  }

  private dropNs(): void {
    spawnSync('ip', ['netns', 'del', this.ns], { stdio: 'ignore' });
  }

  private async remove(): Promise<void> {
    for (const child of [...this.children, ...(this.daemon ? [this.daemon] : [])]) await stopped(child);
    const { dir, prefix } = this;
    await containerRuntime(join(dir, 'data'), join(dir, 'exec'), prefix, hostname()).removeEverything();
    this.dropNs();
    // As the e2e labs: SWARMLITE_E2E_LOGS=DIR keeps the daemon's log (DIR/<ns>.log).
    const keep = process.env.SWARMLITE_E2E_LOGS;
    if (keep && existsSync(join(dir, 'daemon.log'))) {
      mkdirSync(keep, { recursive: true });
      copyFileSync(join(dir, 'daemon.log'), join(keep, `${this.ns}.log`));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
