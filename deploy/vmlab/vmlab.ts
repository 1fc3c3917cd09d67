// The lab of QEMU/KVM VMs: `lab up --vms`, and the VM side of `down`, `ls`, `exec`, `kill`, `stop`,
// `start`. Its underlay is the namespace lab's (a switch namespace with a bridge, this machine
// attached at .254), with one tap per VM on the bridge. Each step leaves a trace `down` can find.
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants as fsConstants,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { run } from '../../lib/exec.js';
import { packageRoot } from '../../lib/repo.js';
import { attachMachine, createSwitch } from '../lab/network.js';
import { labNames } from '../lab/names.js';
import { labDir, writeLabState, type LabState, type VmLabState } from '../lab/state.js';
import { ensureBaseImage, sshKeyPath, vmCacheRoot } from './image.js';
import { FIRSTBOOT_UNIT, firstbootScript, SHARE_SOURCE_TAR } from './image-files.js';
import { chooseAccel, planVmLab, type HostVirtFacts, type VmLabPlan, type VmPlan } from './plan.js';
import { installScriptPins, stageTree, type InstallPins } from './stage.js';
import { formVmSwarm } from './swarm.js';
import { ensureDebianTools } from './tools.js';
import {
  closeSshConnection,
  createDisk,
  createTap,
  killVm,
  powerOffVm,
  readVmRef,
  sshExec,
  sshRun,
  startVm,
  tail,
  vmRunning,
  waitForSsh,
  type SshAccess,
} from './vms.js';

/** Disks and shares of VM labs (they outgrow a tmpfs): <vmRoot>/<lab>. */
export function vmRoot(): string {
  return process.env.SWARMLITE_VM_ROOT ?? '/var/lib/swarmlite-lab';
}

const VM_TOOLS: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  mmdebstrap: 'mmdebstrap',
  'mkfs.ext4': 'e2fsprogs',
  'dpkg-scanpackages': 'dpkg-dev',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
};

/** Boot to ssh: seconds with KVM; minutes with TCG on a loaded machine. */
const bootTimeoutMs = (plan: VmLabPlan) => (plan.accel === 'kvm' ? 300_000 : 1_200_000);

function hostVirtFacts(): HostVirtFacts {
  let devKvm = true;
  try {
    accessSync('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK);
  } catch {
    devKvm = false;
  }
  let kvmModules: string[] = [];
  try {
    kvmModules = readdirSync('/sys/module').filter((m) => m.startsWith('kvm'));
  } catch {
    // no sysfs: no modules known
  }
  return { devKvm, kvmModules };
}

export function sshAccess(state: LabState): SshAccess {
  return { key: sshKeyPath(), knownHosts: join(labDir(state.name), 'known_hosts') };
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** The Node.js package install.sh is pinned to, fetched once with npm and checked against the pin. */
async function ensureNodeTarball(pins: InstallPins, say: (l: string) => void): Promise<string> {
  const dir = join(vmCacheRoot(), 'node');
  const file = join(dir, `${pins.nodePackage}-${pins.nodeVersion}.tgz`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    say(`fetching ${pins.nodePackage}@${pins.nodeVersion} from the npm registry (npm pack)`);
    await run(
      'npm',
      ['pack', '--silent', `${pins.nodePackage}@${pins.nodeVersion}`, '--pack-destination', dir],
      {
        timeoutMs: 600_000,
      },
    );
  }
  const digest = createHash('sha512').update(readFileSync(file)).digest('base64');
  if (digest !== pins.nodeSha512) {
    rmSync(file, { force: true });
    throw new UserError(`${file} does not match deploy/install.sh's NODE_SHA512: removed, try again`);
  }
  return file;
}

export interface VmLabUpOptions {
  name: string;
  vms: number;
  managers: number;
  memoryMiB: number;
  install: boolean;
  /** auto, kvm or tcg (plan.ts: chooseAccel). */
  accel: string;
  say: (line: string) => void;
}

/** Builds the VM lab on a state already claimed and written (lab.ts does the common part). */
export async function vmLabUp(state: LabState, opts: VmLabUpOptions): Promise<void> {
  const say = opts.say;
  const started = Date.now();
  await ensureDebianTools(VM_TOOLS, say);
  const root = packageRoot();
  const { accel, why } = chooseAccel(opts.accel, hostVirtFacts());
  say(`lab ${state.name}: QEMU accelerator ${accel} (${why})`);
  const plan = planVmLab({
    accel,
    name: state.name,
    subnetIndex: state.subnetIndex,
    vms: opts.vms,
    memoryMiB: opts.memoryMiB,
    hostCpus: availableParallelism(),
    labDir: labDir(state.name),
    vmRoot: vmRoot(),
  });
  const vmState: VmLabState = { plan, install: opts.install };
  state.vms = vmState;
  writeLabState(state);

  const installScript = join(root, 'deploy', 'install.sh');
  const packages = (await run('bash', [installScript, '--print-packages'])).split('\n').filter(Boolean);
  let phase = Date.now();
  const image = await ensureBaseImage(packages, say);
  vmState.image = image;
  writeLabState(state);
  say(`  base image ${image.dir} (${seconds(phase)})`);

  phase = Date.now();
  rmSync(plan.diskDir, { recursive: true, force: true });
  mkdirSync(plan.shareDir, { recursive: true });
  // Bare VMs get the tree too: installing by hand is what they are for.
  stageTree(root, join(plan.shareDir, 'src'));
  // The same tree as one file, which VMs unpack to their own disk (image-files.ts: unpackSourceCommands).
  await run('tar', ['-cf', join(plan.shareDir, SHARE_SOURCE_TAR), '-C', join(plan.shareDir, 'src'), '.'], {
    timeoutMs: 300_000,
  });
  const tarball = await ensureNodeTarball(installScriptPins(readFileSync(installScript, 'utf8')), say);
  copyFileSync(tarball, join(plan.shareDir, 'node.tgz'));
  if (opts.install) {
    writeFileSync(
      join(plan.shareDir, 'firstboot.sh'),
      firstbootScript({ lab: state.name, nodeTarball: 'node.tgz' }),
    );
  }
  // Every VM of the image has the image's host key: one known_hosts line covers the lab's /24.
  const subnetPattern = plan.subnet.replace(/\.0\/24$/, '.*');
  writeFileSync(sshAccess(state).knownHosts, `${subnetPattern} ${image.hostKey}\n`);
  say(`  share ${plan.shareDir}: this tree (built), Node.js for install.sh (${seconds(phase)})`);

  const names = labNames(state.name, state.subnetIndex);
  say(`lab ${state.name}: underlay ${plan.subnet} on bridge ${plan.bridge} in ${plan.switchNetns}`);
  await createSwitch(names);
  await attachMachine(names);
  phase = Date.now();
  for (const vm of plan.vms) {
    await createTap(plan, vm);
    await createDisk(vm, image.disk);
    const ref = await startVm(plan, vm, image);
    say(
      `  ${vm.hostname}  ${vm.address}  qemu pid ${ref.pid}  ${plan.vcpus} vCPU  ${opts.memoryMiB}M  console ${vm.consoleLog}`,
    );
  }
  const access = sshAccess(state);
  await Promise.all(plan.vms.map((vm) => waitForSsh(access, vm, bootTimeoutMs(plan))));
  say(`  booted, ssh answers (${seconds(phase)})`);

  if (opts.install) {
    phase = Date.now();
    await Promise.all(plan.vms.map((vm) => runFirstboot(access, vm)));
    say(`  first boot: deploy/install.sh done on every VM, swarmlite.service running (${seconds(phase)})`);
  }
  if (opts.managers > 0) {
    phase = Date.now();
    say(
      `  swarm: init on node1, ${opts.managers - 1} more manager(s), ${opts.vms - opts.managers} worker(s)`,
    );
    await formVmSwarm(access, plan.vms, opts.managers, plan.accel);
    say(`  swarm formed, every node Ready (${seconds(phase)})`);
  }
  say(`  up in ${seconds(started)}`);
}

/** Waits for the first-boot unit (a oneshot: `systemctl start` returns when it is done). */
async function runFirstboot(access: SshAccess, vm: VmPlan): Promise<void> {
  try {
    await sshRun(access, vm, ['systemctl', 'start', FIRSTBOOT_UNIT], 3_600_000);
  } catch (err) {
    const journal = await sshRun(access, vm, [
      'journalctl',
      '-u',
      FIRSTBOOT_UNIT,
      '--no-pager',
      '-n',
      '30',
    ]).catch(() => tail(vm.consoleLog));
    throw new UserError(`${vm.hostname}: first boot failed (${String(err)}):\n${journal}`);
  }
}

/**
 * Stops every VM (QEMU quits at once: the disks go too) and removes the disks and share; the taps go
 * with the switch namespace, which the namespace lab's teardown removes.
 */
export async function vmLabDown(state: LabState | undefined, name: string): Promise<boolean> {
  let found = false;
  for (const vm of state?.vms?.plan.vms ?? []) {
    closeSshConnection(sshAccess(state!), vm);
    if (await killVm(vm, 'SIGTERM')) found = true;
  }
  const dir = join(vmRoot(), name);
  if (existsSync(dir)) found = true;
  rmSync(dir, { recursive: true, force: true });
  return found;
}

export interface VmView {
  host: string;
  address: string;
  running: boolean;
  pid: number | null;
  role: string;
  leader: boolean;
}

/** The lab's VMs; the role comes from each running VM's daemon (asked over ssh, briefly). */
export async function vmLabViews(state: LabState): Promise<VmView[]> {
  const access = sshAccess(state);
  return Promise.all(
    (state.vms?.plan.vms ?? []).map(async (vm) => {
      const running = vmRunning(vm);
      const info = running
        ? await sshRun(access, vm, ['swarmlite', 'info', '--format', 'json'], 30_000)
            .then((out) => JSON.parse(out) as { role?: string; isLeader?: boolean })
            .catch(() => undefined)
        : undefined;
      return {
        host: vm.hostname,
        address: vm.address,
        running,
        pid: running ? (readVmRef(vm)?.pid ?? null) : null,
        role: info?.role ?? '',
        leader: info?.isLeader ?? false,
      };
    }),
  );
}

function findVm(state: LabState, index: number): VmPlan {
  return state.vms!.plan.vms[index - 1]!;
}

export function vmExec(state: LabState, index: number, command: string[]): number {
  const vm = findVm(state, index);
  if (!vmRunning(vm))
    throw new UserError(`${vm.hostname} is not running (swarmlite lab start ${vm.hostname})`);
  return sshExec(sshAccess(state), vm, command);
}

/** kill: the plug pulled (SIGKILL to QEMU); stop: the power button, a clean shutdown. */
export async function vmSignal(state: LabState, index: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  const vm = findVm(state, index);
  closeSshConnection(sshAccess(state), vm);
  const done = signal === 'SIGKILL' ? await killVm(vm, 'SIGKILL') : await powerOffVm(vm);
  if (!done) throw new UserError(`${vm.hostname} is not running`);
}

/** Boots a stopped VM again on its own disk, and waits for its ssh. */
export async function vmStart(state: LabState, index: number): Promise<number> {
  const vm = findVm(state, index);
  const image = state.vms?.image;
  if (!image)
    throw new UserError(`lab ${state.name} never got its base image: remove it and bring it up again`);
  const ref = await startVm(state.vms!.plan, vm, image);
  await waitForSsh(sshAccess(state), vm, bootTimeoutMs(state.vms!.plan));
  return ref.pid;
}
