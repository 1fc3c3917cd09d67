// A lab VM's processes and commands: its tap device, its copy-on-write disk, its QEMU (recorded by
// pid and start time, only ever signalled as that very process), its power button (QMP), and
// commands run in it over SSH with the lab's key.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { constants } from 'node:os';
import { join } from 'node:path';
import { errorMessage, UserError } from '../../lib/errors.js';
import { CommandError, findTool, run } from '../../lib/exec.js';
import { isRunning, processRef, signalProcess, waitForExit, type ProcessRef } from '../../lib/process.js';
import { qemuArgv, sshArgv, sshControlPath, type BaseImage, type VmLabPlan, type VmPlan } from './plan.js';

export interface SshAccess {
  key: string;
  knownHosts: string;
}

export async function createTap(plan: VmLabPlan, vm: VmPlan): Promise<void> {
  await run('ip', ['-n', plan.switchNetns, 'tuntap', 'add', 'dev', vm.tap, 'mode', 'tap']);
  await run('ip', ['-n', plan.switchNetns, 'link', 'set', vm.tap, 'master', plan.bridge, 'up']);
}

export async function createDisk(vm: VmPlan, base: string): Promise<void> {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, vm.disk]);
}

const pidFile = (vm: VmPlan) => join(vm.dir, 'qemu.pid');

export function readVmRef(vm: VmPlan): ProcessRef | undefined {
  try {
    const [pid, startTime] = readFileSync(pidFile(vm), 'utf8').trim().split(' ');
    return { pid: Number(pid), startTime: startTime ?? '' };
  } catch {
    return undefined;
  }
}

export function vmRunning(vm: VmPlan): boolean {
  const ref = readVmRef(vm);
  return !!ref && isRunning(ref);
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(nothing)';
  }
}

/** Boots the VM: QEMU at nice 10 inside the switch namespace, where its tap device is. */
export async function startVm(plan: VmLabPlan, vm: VmPlan, image: BaseImage): Promise<ProcessRef> {
  if (vmRunning(vm)) throw new UserError(`${vm.hostname} is already running`);
  mkdirSync(vm.dir, { recursive: true });
  rmSync(vm.qmpSocket, { force: true });
  const log = openSync(vm.qemuLog, 'a');
  const argv = [
    '-n',
    '10',
    findTool('nsenter'),
    `--net=/run/netns/${plan.switchNetns}`,
    '--',
    ...qemuArgv(plan, vm, image, findTool('qemu-system-x86_64')),
  ];
  // nice and nsenter exec in place: this pid is QEMU's own.
  const child = spawn(findTool('nice'), argv, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  await new Promise((r) => setTimeout(r, 300));
  const ref = child.pid === undefined ? undefined : processRef(child.pid);
  if (!ref || !isRunning(ref))
    throw new UserError(`${vm.hostname}: QEMU did not start:\n${tail(vm.qemuLog)}`);
  writeFileSync(pidFile(vm), `${ref.pid} ${ref.startTime}\n`);
  return ref;
}

/** Pulls the plug (SIGKILL) or asks QEMU to quit at once (SIGTERM); waits until it is gone. */
export async function killVm(vm: VmPlan, signal: 'SIGTERM' | 'SIGKILL'): Promise<boolean> {
  const ref = readVmRef(vm);
  if (!ref || !signalProcess(ref, signal)) {
    rmSync(pidFile(vm), { force: true });
    return false;
  }
  if (!(await waitForExit(ref, 10_000))) {
    signalProcess(ref, 'SIGKILL');
    await waitForExit(ref, 5_000);
  }
  rmSync(pidFile(vm), { force: true });
  return true;
}

/** One QMP command on the VM's monitor socket (JSON lines: greeting, capabilities, command). */
export function qmp(vm: VmPlan, command: string, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(vm.qmpSocket);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${vm.hostname}: QMP ${command} timed out`));
    }, timeoutMs);
    let buffer = '';
    let step = 0;
    sock.setEncoding('utf8');
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${vm.hostname}: QMP: ${err.message}`));
    });
    sock.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const msg = JSON.parse(buffer.slice(0, nl)) as {
          QMP?: unknown;
          return?: unknown;
          error?: { desc: string };
        };
        buffer = buffer.slice(nl + 1);
        if (msg.error) {
          clearTimeout(timer);
          sock.destroy();
          return reject(new Error(`${vm.hostname}: QMP ${command}: ${msg.error.desc}`));
        }
        if (msg.QMP && step === 0) {
          step = 1;
          sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (msg.return !== undefined && step === 1) {
          step = 2;
          sock.write(JSON.stringify({ execute: command }) + '\n');
        } else if (msg.return !== undefined && step === 2) {
          clearTimeout(timer);
          sock.end();
          return resolve();
        }
      }
    });
  });
}

/** A clean shutdown: the ACPI power button, then QEMU exits with the guest; killed if it will not. */
export async function powerOffVm(vm: VmPlan, timeoutMs = 90_000): Promise<boolean> {
  const ref = readVmRef(vm);
  if (!ref || !isRunning(ref)) return false;
  await qmp(vm, 'system_powerdown');
  if (!(await waitForExit(ref, timeoutMs))) {
    signalProcess(ref, 'SIGKILL');
    await waitForExit(ref, 5_000);
  }
  rmSync(pidFile(vm), { force: true });
  return true;
}

export function sshCommand(access: SshAccess, vm: VmPlan, command: string[], tty = false): string[] {
  return sshArgv({
    ssh: findTool('ssh'),
    ...access,
    address: vm.address,
    command,
    tty,
    controlPath: sshControlPath(vm),
  });
}

/**
 * Closes the VM's shared ssh connection (its master process exits) before the VM goes away, so no
 * ssh is left waiting on a dead peer and the next boot gets a fresh connection.
 */
export function closeSshConnection(access: SshAccess, vm: VmPlan): void {
  const controlPath = sshControlPath(vm);
  if (!existsSync(controlPath)) return;
  const [ssh, ...args] = sshArgv({
    ssh: findTool('ssh'),
    ...access,
    address: vm.address,
    command: [],
    controlPath,
  });
  // `-O exit` in place of the command: the options and the host stay, `-- <command>` goes.
  const host = args.length - 3;
  spawnSync(ssh!, [...args.slice(0, host), '-O', 'exit', args[host]!], { stdio: 'ignore', timeout: 10_000 });
  rmSync(controlPath, { force: true });
}

/** Runs a command in the VM and returns its stdout; a failure carries its stderr. */
export async function sshRun(
  access: SshAccess,
  vm: VmPlan,
  command: string[],
  timeoutMs = 900_000,
): Promise<string> {
  const [, ...args] = sshCommand(access, vm, command);
  for (let attempt = 1; ; attempt++) {
    try {
      return await run('ssh', args, { timeoutMs });
    } catch (err) {
      // Retried only when the connection itself failed (the command never started) and the VM is up.
      const retry =
        attempt < 5 &&
        err instanceof CommandError &&
        err.exitCode === 255 &&
        NOT_CONNECTED.test(err.stderr) &&
        vmRunning(vm);
      if (!retry) throw err;
      await new Promise((r) => setTimeout(r, 3_000));
    }
  }
}

// mux_client_request_session: a shared connection whose VM went away (reboot) refused the session.
const NOT_CONNECTED =
  /during banner exchange|kex_exchange_identification|Connection (timed out|refused)|mux_client_request_session/;

/** Runs a command in the VM with inherited stdio; returns its exit code (255: ssh itself failed). */
export function sshExec(access: SshAccess, vm: VmPlan, command: string[]): number {
  const [ssh, ...args] = sshCommand(access, vm, command, process.stdin.isTTY === true);
  const result = spawnSync(ssh!, args, { stdio: 'inherit' });
  if (result.error) throw new UserError(`cannot run ssh to ${vm.hostname}: ${result.error.message}`);
  if (result.status !== null) return result.status;
  return 128 + (result.signal ? (constants.signals[result.signal] ?? 0) : 0);
}

/** Waits until the VM's sshd answers; fails early, with its console, if QEMU is gone. */
export async function waitForSsh(access: SshAccess, vm: VmPlan, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      await sshRun(access, vm, ['true'], 60_000);
      return;
    } catch (err) {
      last = errorMessage(err);
    }
    if (!vmRunning(vm)) {
      throw new UserError(`${vm.hostname} stopped while booting; its console:\n${tail(vm.consoleLog)}`);
    }
    if (Date.now() > deadline) {
      throw new UserError(
        `${vm.hostname} did not answer on ssh within ${timeoutMs / 1000} s (${last}); its console:\n${tail(vm.consoleLog)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}
