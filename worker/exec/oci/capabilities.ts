// Capabilities as Docker gives them: a default set, `--cap-add`/`--cap-drop` with or without the
// `CAP_` prefix, in any case, and `ALL`. Pure.

/** Docker's default set, in the kernel's numbering order. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW',
  'CAP_SYS_CHROOT',
  'CAP_MKNOD',
  'CAP_AUDIT_WRITE',
  'CAP_SETFCAP',
] as const;

/** Every capability of Linux 5.9+, indexed by its number (the bit in /proc/PID/status's masks). */
const ALL_CAPABILITIES = [
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

const KNOWN = new Set<string>(ALL_CAPABILITIES);

/** `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `all` → `ALL`; anything else refused. */
function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL' || upper === 'CAP_ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!KNOWN.has(full)) throw new Error(`invalid capability "${name}": unknown to Linux`);
  return full;
}

/**
 * Docker's rule: start from the default set (or from nothing when ALL is dropped), add, then drop;
 * an added ALL gives every capability, and an explicit add wins over a drop of ALL.
 */
export function effectiveCapabilities(capAdd: readonly string[], capDrop: readonly string[]): string[] {
  const add = capAdd.map(normalizeCapability);
  const drop = capDrop.map(normalizeCapability);
  const set = new Set<string>(drop.includes('ALL') ? [] : DEFAULT_CAPABILITIES);
  if (add.includes('ALL')) for (const c of ALL_CAPABILITIES) set.add(c);
  for (const c of drop) if (c !== 'ALL' && !add.includes(c)) set.delete(c);
  for (const c of add) if (c !== 'ALL') set.add(c);
  return ALL_CAPABILITIES.filter((c) => set.has(c));
}

/** The capability mask as /proc/PID/status prints it (CapEff: 16 hex digits). */
export function capabilityMask(caps: readonly string[]): string {
  let mask = 0n;
  for (const c of caps) {
    const bit = ALL_CAPABILITIES.indexOf(c as (typeof ALL_CAPABILITIES)[number]);
    if (bit < 0) throw new Error(`unknown capability ${c}`);
    mask |= 1n << BigInt(bit);
  }
  return mask.toString(16).padStart(16, '0');
}
