// The CLI's tests drive the real binary: one run of it against a daemon's socket, a run that must
// succeed, a run that must be refused (one line, nothing printed, the exit code), and the busybox
// image the container tests load (the applets each test runs, nothing else).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { swarmliteBin } from '../lib/repo.js';
import { PROCESS_DEADLINE_MS } from '../test/support.js';
import { imageOf, layerOf, makeTar } from '../worker/images/test-images.js';

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
export function spawnDaemonInNetns(ns: string, dir: string, socket: string, prefix: string): ChildProcess {
  const daemon = ['daemon', '--data-root', `${dir}/data`, '--exec-root', `${dir}/exec`, '--socket', socket];
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
    { stdio: 'ignore' },
  );
}
