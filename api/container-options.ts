// Docker's container options of a task spec (capabilities, mounts, stop signal), checked the same way
// by the CLI (a usage error before anything is sent), the control API (INVALID_ARGUMENT before anything
// is stored) and the worker. Pure: each check returns the problem in words, or undefined.
import { constants } from 'node:os';
import { posix } from 'node:path';
import type { Mount } from './objects/index.js';

/** Every capability of Linux 5.9+, indexed by its number (the bit in /proc/PID/status's masks). */
export const LINUX_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

const KNOWN_CAPABILITIES = new Set<string>(LINUX_CAPABILITIES);

/**
 * Docker's spellings: `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` are CAP_NET_ADMIN; `all` is ALL.
 * Undefined for a name Linux does not have.
 */
export function normalizeCapability(name: string): string | undefined {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL' || upper === 'CAP_ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  return KNOWN_CAPABILITIES.has(full) ? full : undefined;
}

const SIGNAL_NUMBERS = Object.entries(constants.signals) as [NodeJS.Signals, number][];

/**
 * `--stop-signal`: `SIGUSR1`, `usr1` or `10` → `SIGUSR1` (the name the kernel numbers it by here);
 * undefined for anything else (real-time signals by number have no name and are not taken).
 */
export function normalizeSignal(text: string): NodeJS.Signals | undefined {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) return SIGNAL_NUMBERS.find(([, n]) => n === Number(t))?.[0];
  const name = t.startsWith('SIG') ? t : `SIG${t}`;
  return SIGNAL_NUMBERS.find(([s]) => s === name)?.[0];
}

/** Names of named volumes (a folder of the node's volume root each). */
export const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The longest tmpfs mode: permission bits plus setuid, setgid and sticky. */
const MAX_MODE = 0o7777;

/** Where the runtime mounts what every container has (worker/exec/oci/spec.ts), and its init. */
export const RESERVED_MOUNT_TARGETS: ReadonlySet<string> = new Set([
  '/proc',
  '/dev',
  '/dev/pts',
  '/sys',
  '/sys/fs/cgroup',
  '/dev/mqueue',
  '/dev/shm',
  '/dev/init',
]);

/** The mount target as the container sees it, or the reason it cannot be one. */
export function mountTarget(target: string): { path: string } | { problem: string } {
  if (!posix.isAbsolute(target) || target.includes('\0'))
    return { problem: `invalid mount target "${target}": it must be an absolute path` };
  const path = posix.normalize(target).replace(/\/+$/, '') || '/';
  if (path === '/') return { problem: 'invalid mount target "/": the root filesystem cannot be replaced' };
  if (RESERVED_MOUNT_TARGETS.has(path))
    return { problem: `invalid mount target "${target}": it is reserved by the runtime` };
  return { path };
}

/** One mount's fields, as Docker's daemon checks them per type. */
export function checkMount(m: Mount): string | undefined {
  const target = mountTarget(m.target);
  if ('problem' in target) return target.problem;
  const tmpfsOptions = m.tmpfsSizeBytes !== 0 || m.tmpfsMode !== 0;
  if (m.type !== 'tmpfs' && tmpfsOptions)
    return `invalid ${m.type} mount on ${m.target}: tmpfs-size and tmpfs-mode are for tmpfs mounts`;
  switch (m.type) {
    case 'bind':
      if (!posix.isAbsolute(m.source) || m.source.includes('\0'))
        return `invalid bind mount on ${m.target}: source "${m.source}" must be an absolute path on the node`;
      return undefined;
    case 'volume':
      if (!m.source)
        return `invalid volume mount on ${m.target}: name the volume with source= (anonymous volumes are not supported)`;
      if (!VOLUME_NAME.test(m.source))
        return `invalid volume name "${m.source}": use letters, digits, '_', '.' and '-' (at most 128)`;
      return undefined;
    case 'tmpfs':
      if (m.source) return `invalid tmpfs mount on ${m.target}: a tmpfs has no source`;
      if (!Number.isSafeInteger(m.tmpfsSizeBytes) || m.tmpfsSizeBytes < 0)
        return `invalid tmpfs size ${m.tmpfsSizeBytes} for ${m.target}: use a positive number of bytes`;
      if (!Number.isInteger(m.tmpfsMode) || m.tmpfsMode < 0 || m.tmpfsMode > MAX_MODE)
        return `invalid tmpfs mode ${m.tmpfsMode.toString(8)} for ${m.target}: use an octal mode up to 7777`;
      return undefined;
    default:
      return `invalid mount type "${String(m.type)}": use bind, volume or tmpfs`;
  }
}

/** Every mount, and no two on one target (Docker: "duplicate mount point"). */
export function checkMounts(mounts: readonly Mount[]): string | undefined {
  const seen = new Set<string>();
  for (const m of mounts) {
    const problem = checkMount(m);
    if (problem) return problem;
    const target = mountTarget(m.target);
    if ('path' in target) {
      if (seen.has(target.path)) return `duplicate mount point "${target.path}"`;
      seen.add(target.path);
    }
  }
  return undefined;
}
