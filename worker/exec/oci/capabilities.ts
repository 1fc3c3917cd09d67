// Capabilities as Docker gives them: a default set, `--cap-add`/`--cap-drop` with or without the
// `CAP_` prefix, in any case, and `ALL`. Pure.
import { LINUX_CAPABILITIES, normalizeCapability } from '../../../api/container-options.js';

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

const ALL_CAPABILITIES = LINUX_CAPABILITIES;

/** Normalized, or refused: a name Linux does not have cannot reach a container. */
function capability(name: string): string {
  const full = normalizeCapability(name);
  if (!full) throw new Error(`invalid capability "${name}": unknown to Linux`);
  return full;
}

/**
 * Docker's rule: start from the default set (or from nothing when ALL is dropped), add, then drop;
 * an added ALL gives every capability, and an explicit add wins over a drop of ALL.
 */
export function effectiveCapabilities(capAdd: readonly string[], capDrop: readonly string[]): string[] {
  const add = capAdd.map(capability);
  const drop = capDrop.map(capability);
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
