// A container's OCI runtime config (config.json) from what the task runtime decided: a pure function,
// so every isolation rule is a table or golden test. Defaults are Docker's: its capability set, the
// default seccomp profile (seccomp.ts), masked and read-only /proc paths, a read-only /sys, a /dev
// with only the default devices, its own PID, mount, UTS and IPC namespaces, and the network
// namespace the network plane prepared, joined by path.
import { posix } from 'node:path';
import { mountTarget } from '../../../api/container-options.js';
import { effectiveCapabilities } from './capabilities.js';
import { defaultSeccompProfile, type SeccompProfile } from './seccomp.js';

/** Docker's masked paths: hidden behind /dev/null (files) or an empty read-only tmpfs (folders). */
const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Docker's read-only paths: the kernel's tunables stay readable but cannot be changed. */
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * The device cgroup rules: nothing but the default devices (null, zero, full, random, urandom, tty,
 * the container's own pseudo-terminals) may be opened; mknod of any node is allowed, as in Docker,
 * because making a node is harmless when it cannot be opened.
 */
const DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  ...(
    [
      [1, 3], // null
      [1, 5], // zero
      [1, 7], // full
      [1, 8], // random
      [1, 9], // urandom
      [5, 0], // tty
      [5, 1], // console
      [5, 2], // ptmx
    ] as const
  ).map(([major, minor]) => ({ allow: true, type: 'c' as const, major, minor, access: 'rwm' })),
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // /dev/pts/*
];

export type MountRequest =
  | { type: 'bind'; source: string; target: string; readonly: boolean }
  | { type: 'tmpfs'; target: string; options: string[] };

export interface ContainerConfigInput {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  hostname: string;
  /** The root filesystem's path, relative to the bundle (`rootfs`) or absolute. */
  rootfs: string;
  readonlyRootfs: boolean;
  /** The network namespace to join (`/run/netns/NAME`); absent: the caller's own (`--network host`). */
  netnsPath?: string;
  /** Relative to each cgroup hierarchy's root, e.g. `/swarmlite/swl/<taskId>`. */
  cgroupsPath: string;
  limits: { memoryBytes: number; nanoCpus: number; pidsMax: number };
  /** Whether the kernel accounts swap (memory.memsw.* on v1): then a limited task gets none. */
  swapAccounting: boolean;
  capAdd: string[];
  capDrop: string[];
  noNewPrivileges: boolean;
  /** `--security-opt seccomp=unconfined`: no syscall filter at all (the capabilities still apply). */
  seccompUnconfined?: boolean;
  /** Host files bound over /etc/hosts, /etc/hostname and /etc/resolv.conf. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** User mounts (binds, volumes resolved to binds, tmpfs), in any order. */
  mounts: MountRequest[];
  /** A host path of a static init (tini): bound at /dev/init and run as PID 1 before args. */
  init?: string;
  /** Node.js `process.arch`, for the seccomp architectures. */
  arch: string;
}

export interface OciDeviceRule {
  allow: boolean;
  type?: 'c' | 'b';
  major?: number;
  minor?: number;
  access: string;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: { type: string; path?: string }[];
    cgroupsPath: string;
    resources: {
      devices: OciDeviceRule[];
      memory?: { limit: number; swap?: number };
      cpu?: { quota: number; period: number };
      pids: { limit: number };
    };
    maskedPaths: string[];
    readonlyPaths: string[];
    /** Absent: the container runs without a syscall filter. */
    seccomp?: SeccompProfile;
  };
}

const INIT_PATH = '/dev/init';
const CFS_PERIOD_US = 100_000;

/** The mounts every container has, before the user's: Docker's set. */
function baseMounts(): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['ro', 'nosuid', 'noexec', 'nodev'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'],
    },
  ];
}

/** The target as the container sees it; the base mounts' and the init's are the runtime's own. */
function checkTarget(target: string): string {
  const checked = mountTarget(target);
  if ('problem' in checked) throw new Error(checked.problem);
  return checked.path;
}

/** The user's mounts, checked, parents before children (a mount under another must come after it). */
function userMounts(requests: MountRequest[]): OciMount[] {
  const seen = new Set<string>();
  const out = requests.map((m) => {
    const destination = checkTarget(m.target);
    if (seen.has(destination)) throw new Error(`duplicate mount point "${destination}"`);
    seen.add(destination);
    if (m.type === 'tmpfs') return { destination, type: 'tmpfs', source: 'tmpfs', options: m.options };
    if (!posix.isAbsolute(m.source))
      throw new Error(`invalid bind source "${m.source}": it must be absolute`);
    return {
      destination,
      type: 'bind',
      source: m.source,
      options: ['rbind', 'rprivate', ...(m.readonly ? ['ro'] : [])],
    };
  });
  return out;
}

/** Parents before children (a mount under another must come after it); stable otherwise. */
function byDepth(mounts: OciMount[]): OciMount[] {
  const depth = (p: string) => p.split('/').length;
  return [...mounts].sort((a, b) => depth(a.destination) - depth(b.destination));
}

export function buildOciConfig(input: ContainerConfigInput): OciConfig {
  if (input.args.length === 0) throw new Error('no command to run');
  const caps = effectiveCapabilities(input.capAdd, input.capDrop);
  // Docker gives a non-root user no effective or permitted capabilities, only the bounding set
  // (what a setuid binary could regain): a process of uid 1000 is not CAP_CHOWN-able.
  const running = input.uid === 0 ? caps : [];
  const userMountList = userMounts(input.mounts);
  const etcMounts: OciMount[] = (
    [
      ['/etc/hosts', input.etcFiles.hosts],
      ['/etc/hostname', input.etcFiles.hostname],
      ['/etc/resolv.conf', input.etcFiles.resolvConf],
    ] as const
  )
    // A user mount on one of these files wins, as in Docker.
    .filter(([target]) => !userMountList.some((m) => m.destination === target))
    .map(([destination, source]) => ({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] }));
  const initMounts: OciMount[] = input.init
    ? [{ destination: INIT_PATH, type: 'bind', source: input.init, options: ['rbind', 'rprivate', 'ro'] }]
    : [];
  const { memoryBytes, nanoCpus, pidsMax } = input.limits;
  const resources: OciConfig['linux']['resources'] = { devices: DEVICE_RULES, pids: { limit: pidsMax } };
  // No swap for a limited task: memory+swap equal to memory (runc derives swap.max = 0 on v2).
  if (memoryBytes)
    resources.memory = { limit: memoryBytes, ...(input.swapAccounting ? { swap: memoryBytes } : {}) };
  if (nanoCpus)
    resources.cpu = {
      quota: Math.max(1000, Math.round((nanoCpus * CFS_PERIOD_US) / 1e9)),
      period: CFS_PERIOD_US,
    };
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: {
        uid: input.uid,
        gid: input.gid,
        ...(input.additionalGids.length ? { additionalGids: input.additionalGids } : {}),
      },
      args: input.init ? [INIT_PATH, '--', ...input.args] : input.args,
      env: input.env,
      cwd: input.cwd,
      capabilities: { bounding: caps, effective: running, permitted: running },
      noNewPrivileges: input.noNewPrivileges,
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs },
    hostname: input.hostname,
    mounts: [...baseMounts(), ...initMounts, ...byDepth([...etcMounts, ...userMountList])],
    linux: {
      namespaces: [
        { type: 'pid' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        ...(input.netnsPath ? [{ type: 'network', path: input.netnsPath }] : []),
      ],
      cgroupsPath: input.cgroupsPath,
      resources,
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      ...(input.seccompUnconfined ? {} : { seccomp: defaultSeccompProfile(caps, input.arch) }),
    },
  };
}
