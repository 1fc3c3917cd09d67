// A VM lab as pure functions of its name, subnet index and sizes: every VM's names, addresses, files,
// kernel command line and QEMU argv. What `lab up --vms` starts and what `lab down` removes both come
// from here, so a crash half-way leaves nothing `down` cannot find.
//
// A VM lab named L with subnet index k owns, besides what a namespace lab owns (names.ts):
//   tap devices L-vm1 ... L-vmN on the bridge of the switch namespace L-switch
//   QEMU processes named L-node1 ... L-nodeN
//   files under <vmRoot>/L/ (disks, share) and <labRoot>/labs/L/ (state, consoles, sockets)
import { join } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { labNames } from '../lab/names.js';

export const MIN_MEMORY_MIB = 384; // Debian's kernel, systemd, sshd and a node daemon
export const MAX_MEMORY_MIB = 65_536;
/** The 9p tag and guest mount point of the lab's read-only share (the swarmlite tree, first-boot script). */
export const SHARE_TAG = 'swarmlite-lab';
export const SHARE_MOUNT = '/mnt/swarmlite-lab';

/** '1G', '512M', '1536' (MiB) → MiB; anything else is a user error. */
export function parseMemory(value: string): number {
  const m = /^([1-9][0-9]*)([MG]?)$/i.exec(value.trim());
  const mib = m ? Number(m[1]) * (m[2]?.toUpperCase() === 'G' ? 1024 : 1) : NaN;
  if (!m || mib < MIN_MEMORY_MIB || mib > MAX_MEMORY_MIB) {
    throw new UserError(
      `--memory must be a size like 1G or 768M, from ${MIN_MEMORY_MIB}M to ${MAX_MEMORY_MIB / 1024}G, got '${value}'`,
      2,
    );
  }
  return mib;
}

export interface VmPlan {
  index: number;
  hostname: string;
  address: string;
  /** The tap device, in the lab's switch namespace. */
  tap: string;
  mac: string;
  /** QEMU's process name (`ps`, `/proc/PID/comm`). */
  processName: string;
  /** Copy-on-write disk over the cached base image. */
  disk: string;
  /** Per-VM run-time files: console log, QMP socket, pid file, QEMU's own log. */
  dir: string;
  consoleLog: string;
  qmpSocket: string;
  qemuLog: string;
}

/** kvm: hardware virtualization; tcg: QEMU's emulator (slower, works anywhere). */
export type Accel = 'kvm' | 'tcg';
export const ACCELS = ['auto', 'kvm', 'tcg'] as const;

export interface HostVirtFacts {
  /** /dev/kvm opens read-write. */
  devKvm: boolean;
  /** Loaded modules named kvm*: kvm_intel or kvm_amd drive VT-x/AMD-V; kvm_pvm is PVM. */
  kvmModules: string[];
}

/**
 * The accelerator for `--accel auto|kvm|tcg`. auto takes KVM when the CPU's virtualization drives it
 * (kvm_intel, kvm_amd); a /dev/kvm served only by PVM (kvm_pvm: software nested virtualization, as in
 * a cloud sandbox) runs an unmodified Debian kernel too slowly to boot (measured: no console output
 * after 5 minutes, where TCG reaches init in 35 s), so auto takes TCG there.
 */
export function chooseAccel(requested: string, facts: HostVirtFacts): { accel: Accel; why: string } {
  if (!(ACCELS as readonly string[]).includes(requested)) {
    throw new UserError(`--accel must be auto, kvm or tcg, got '${requested}'`, 2);
  }
  const hardware = facts.kvmModules.some((m) => m === 'kvm_intel' || m === 'kvm_amd');
  if (requested === 'kvm') {
    if (!facts.devKvm) throw new UserError('--accel kvm: /dev/kvm is missing or not writable here');
    return { accel: 'kvm', why: 'asked for' };
  }
  if (requested === 'tcg') return { accel: 'tcg', why: 'asked for' };
  if (facts.devKvm && hardware) return { accel: 'kvm', why: '/dev/kvm with hardware virtualization' };
  if (facts.devKvm && facts.kvmModules.includes('kvm_pvm')) {
    return {
      accel: 'tcg',
      why: '/dev/kvm is PVM (software nested virtualization): too slow for a stock kernel',
    };
  }
  return { accel: 'tcg', why: facts.devKvm ? 'no kvm_intel/kvm_amd module' : 'no usable /dev/kvm' };
}

export interface VmLabPlan {
  name: string;
  subnetIndex: number;
  subnet: string;
  machineAddress: string;
  switchNetns: string;
  bridge: string;
  /** Disks and the share: <vmRoot>/<lab>. */
  diskDir: string;
  shareDir: string;
  memoryMiB: number;
  accel: Accel;
  /** vCPUs of each VM (vcpusPerVm). */
  vcpus: number;
  vms: VmPlan[];
}

/**
 * vCPUs per VM. KVM: 2 (a vCPU costs nothing while idle). TCG: every vCPU is a busy host thread
 * (multi-threaded TCG), so the lab's VMs together get no more vCPUs than this machine has cores, and
 * never fewer than 1 each: 1 VM on 2 cores gets 2 (the install's dpkg and Node.js's compile threads
 * overlap), 3 VMs on 2 cores 1 each (more would only add threads that wait for a core).
 */
export function vcpusPerVm(accel: Accel, hostCpus: number, vms: number): number {
  if (accel === 'kvm') return 2;
  return Math.max(1, Math.min(2, Math.floor(hostCpus / Math.max(1, vms))));
}

export function planVmLab(opts: {
  name: string;
  subnetIndex: number;
  vms: number;
  memoryMiB: number;
  accel: Accel;
  /** This machine's cores (os.availableParallelism()). */
  hostCpus: number;
  labDir: string;
  vmRoot: string;
}): VmLabPlan {
  const names = labNames(opts.name, opts.subnetIndex);
  const diskDir = join(opts.vmRoot, opts.name);
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return {
    name: opts.name,
    subnetIndex: opts.subnetIndex,
    subnet: names.subnet,
    machineAddress: names.machineAddress,
    switchNetns: names.switchNetns,
    bridge: names.bridge,
    diskDir,
    shareDir: join(diskDir, 'share'),
    memoryMiB: opts.memoryMiB,
    accel: opts.accel,
    vcpus: vcpusPerVm(opts.accel, opts.hostCpus, opts.vms),
    vms: Array.from({ length: opts.vms }, (_, n) => {
      const host = names.host(n + 1);
      const dir = join(opts.labDir, host.hostname);
      return {
        index: host.index,
        hostname: host.hostname,
        address: host.address,
        tap: `${opts.name}-vm${host.index}`,
        // 52:54:00 is QEMU's locally administered prefix; subnet index and host index make it unique.
        mac: `52:54:00:${hex(opts.subnetIndex >> 8)}:${hex(opts.subnetIndex & 0xff)}:${hex(host.index)}`,
        processName: `${opts.name}-${host.hostname}`,
        disk: join(diskDir, `${host.hostname}.qcow2`),
        dir,
        consoleLog: join(dir, 'console.log'),
        qmpSocket: join(dir, 'qmp.sock'),
        qemuLog: join(dir, 'qemu.log'),
      };
    }),
  };
}

/**
 * The guest kernel's command line: the root disk, a serial console, and the VM's identity. systemd
 * takes the hostname from `systemd.hostname=` and systemd-network-generator turns `ip=` into a
 * networkd configuration. No gateway: the lab's VMs reach each other and this machine, nothing else.
 * mitigations=off: a throwaway lab VM runs only the lab's code, and under TCG the speculation
 * mitigations (page-table isolation flushing the emulated TLB on every system call, retpolines) only
 * cost time. * systemd's start and device timeouts (90 s) are raised to 15 minutes: on an emulated CPU beside other
 * work systemd-networkd once timed out at start, was killed and started again (~100 s lost), and
 * /dev/ttyS0 came within seconds of its 90 s. The blacklist keeps udev from loading drivers for the
 * machine's emulated hardware that a lab VM never uses (SATA, SMBus, watchdog, speaker, PS/2 mouse,
 * nested KVM, wireless): each module load is seconds of emulated work at boot.
 */
/** Guest drivers a lab VM never needs (kernelCommandLine); evdev and button stay: `lab stop` is ACPI's power button. */
export const UNUSED_GUEST_MODULES = [
  'ahci',
  'i2c_i801',
  'lpc_ich',
  'iTCO_wdt',
  'intel_pmc_bxt',
  'pcspkr',
  'psmouse',
  'serio_raw',
  'kvm_amd',
  'kvm_intel',
  'ccp',
  'cfg80211',
  'efi_pstore',
];

export function kernelCommandLine(vm: VmPlan): string {
  const mask = '255.255.255.0';
  return [
    'root=/dev/vda',
    'rw',
    'console=ttyS0,115200',
    'net.ifnames=0',
    'panic=-1',
    'mitigations=off',
    'systemd.default_timeout_start_sec=900',
    'systemd.default_device_timeout_sec=900',
    `modprobe.blacklist=${UNUSED_GUEST_MODULES.join(',')}`,
    `systemd.hostname=${vm.hostname}`,
    `ip=${vm.address}:::${mask}:${vm.hostname}:eth0:off`,
  ].join(' ');
}

export interface BaseImage {
  /** qcow2 base every VM's disk is a copy-on-write layer over. */
  disk: string;
  /** The uncompressed kernel (ELF with a PVH entry: QEMU starts it directly, no decompressor). */
  kernel: string;
  initrd: string;
}

/** QEMU's argv (the program first) for one VM; it runs inside the lab's switch namespace. */
export function qemuArgv(plan: VmLabPlan, vm: VmPlan, image: BaseImage, qemu: string): string[] {
  return [
    qemu,
    '-name',
    `${vm.processName},process=${vm.processName}`,
    '-machine',
    'q35',
    // thread=multi: one host thread per vCPU under TCG (the default for an x86 guest on an x86
    // host, said here so a QEMU that defaults otherwise does not put 2 vCPUs on one thread).
    '-accel',
    plan.accel === 'kvm' ? 'kvm' : 'tcg,thread=multi',
    // KVM: the host's CPU, less IA32_ARCH_CAPABILITIES (nested KVM in a cloud VM refuses to set that
    // MSR and QEMU aborts). TCG: every feature the emulator has.
    '-cpu',
    plan.accel === 'kvm' ? 'host,-arch-capabilities' : 'max',
    '-smp',
    String(plan.vcpus ?? 1),
    '-m',
    `${plan.memoryMiB}M`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-kernel',
    image.kernel,
    '-initrd',
    image.initrd,
    '-append',
    kernelCommandLine(vm),
    // cache=unsafe: the guest's flushes are not forced to this machine's disk. A lab disk is thrown
    // away with its lab, and dpkg's fsyncs otherwise dominate an install on a busy machine.
    '-drive',
    `file=${vm.disk},if=virtio,format=qcow2,discard=unmap,cache=unsafe`,
    '-netdev',
    `tap,id=net0,ifname=${vm.tap},script=no,downscript=no`,
    '-device',
    `virtio-net-pci,netdev=net0,mac=${vm.mac}`,
    '-virtfs',
    `local,path=${plan.shareDir},mount_tag=${SHARE_TAG},security_model=none,readonly=on,id=share`,
    '-device',
    'virtio-rng-pci',
    '-serial',
    `file:${vm.consoleLog}`,
    '-qmp',
    `unix:${vm.qmpSocket},server=on,wait=off`,
  ];
}

/** POSIX shell quoting, for commands that travel through ssh (which joins its arguments with spaces). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The VM's shared ssh connection's socket (OpenSSH ControlMaster), beside its console. Derived, not
 * stored in the plan, so labs brought up before it existed get it too.
 */
export function sshControlPath(vm: VmPlan): string {
  return join(vm.dir, 'ssh.sock');
}

/** How long a shared ssh connection outlives its last command. */
export const SSH_CONTROL_PERSIST_S = 300;

/**
 * ssh's options that share one connection per VM among all commands. A new connection costs the VM
 * a key exchange, an authentication, a PAM session and a re-executed sshd: measured 16-40 s on an
 * emulated CPU beside an install, against ~2 s for a command over the shared one. The first command
 * starts the master (it detaches, its stdio on /dev/null); a dead VM's master notices in 30 s
 * (server alive probes), and `lab down/kill/stop` closes it at once.
 */
export function sshSharingOptions(controlPath: string): string[] {
  return [
    '-o',
    'ControlMaster=auto',
    '-o',
    `ControlPath=${controlPath}`,
    '-o',
    `ControlPersist=${SSH_CONTROL_PERSIST_S}`,
    '-o',
    'ServerAliveInterval=10',
    '-o',
    'ServerAliveCountMax=3',
  ];
}

export function sshArgv(opts: {
  ssh: string;
  key: string;
  knownHosts: string;
  address: string;
  command: string[];
  tty?: boolean;
  connectTimeoutS?: number;
  /** Share one connection through this socket (sshSharingOptions). */
  controlPath?: string;
}): string[] {
  return [
    opts.ssh,
    '-i',
    opts.key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${opts.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    // Generous: an emulated VM on a busy machine takes seconds to send its banner.
    `ConnectTimeout=${opts.connectTimeoutS ?? 60}`,
    '-o',
    'LogLevel=ERROR',
    ...(opts.controlPath ? sshSharingOptions(opts.controlPath) : []),
    ...(opts.tty ? ['-t'] : ['-T']),
    `root@${opts.address}`,
    '--',
    opts.command.map(shellQuote).join(' '),
  ];
}
