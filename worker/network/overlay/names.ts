// Every name the overlay driver gives the kernel, as pure functions of the daemon's prefix.
//
// Ownership is by name: what lives in a shared namespace (the node's) or is itself shared (named
// network namespaces, nftables tables) starts with `<prefix>_`. Prefixes are [a-z0-9-] only
// (daemon/options.ts), so the '_' ends the prefix: daemon 'swl' never takes 'swl2_...' for its own.
// Inside a sandbox namespace the driver owns everything, so names there are short and fixed.
import { createHash } from 'node:crypto';
import { formatAddress, parseAddress } from '../../../lib/ipv4.js';
import type { LegLabel } from './types.js';

/** The kernel's interface name limit (IFNAMSIZ 16, with the terminating NUL). */
const MAX_IFNAME_BYTES = 15;

export const VXLAN_PORT = 4789;
/** IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers. */
export const VXLAN_OVERHEAD = 50;
/**
 * ESP in transport mode with rfc4106(gcm(aes)): header (8), IV (8), padding to 4 bytes and trailer
 * (2..5), ICV (16): at most 37; 40 keeps the inner MTU a multiple of 8 on a 1500 underlay (1410).
 */
export const ESP_OVERHEAD = 40;

/** Fixed names inside a sandbox and a task. */
export const SANDBOX_BRIDGE = 'br0';
export const SANDBOX_VXLAN = 'vxlan0';
export const TASK_GATEWAY_IF = 'gw0';

/** `<prefix>_<tag>`, the tag shortened so the whole name fits an interface name. */
export function hostIfName(prefix: string, tag: string): string {
  const room = MAX_IFNAME_BYTES - prefix.length - 1;
  if (room < 1) throw new RangeError(`netns prefix '${prefix}' leaves no room in a 15-byte interface name`);
  return `${prefix}_${tag.slice(0, room)}`;
}

export function sandboxName(prefix: string, vni: number): string {
  return `${prefix}_ov-${vni}`;
}

/** The VNI of one of this prefix's sandbox names, or undefined for any other name. */
export function parseSandboxName(prefix: string, name: string): number | undefined {
  const head = `${prefix}_ov-`;
  if (!name.startsWith(head)) return undefined;
  const rest = name.slice(head.length);
  return /^[1-9][0-9]{0,7}$/.test(rest) ? Number(rest) : undefined;
}

/**
 * A namespace the driver makes for an endpoint no runtime makes (the node's ingress sandbox):
 * `<prefix>_<tag>_sbox`. The suffix tells it from the network sandboxes and from the runtime's task
 * namespaces, which the driver never removes.
 */
export function ownNamespaceName(prefix: string, tag: string): string {
  if (!/^[a-z0-9-]+$/.test(tag)) throw new RangeError(`invalid namespace tag '${tag}'`);
  return `${prefix}_${tag}_sbox`;
}

/** Whether `name` is one of this prefix's own endpoint namespaces. */
export function isOwnNamespaceName(prefix: string, name: string): boolean {
  const head = `${prefix}_`;
  return name.startsWith(head) && /^[a-z0-9-]+_sbox$/.test(name.slice(head.length));
}

export const gatewayBridgeName = (prefix: string): string => hostIfName(prefix, 'gwbridge');
export const gatewayTableName = (prefix: string): string => `${prefix}_gw`;

/**
 * The vxlan device's name in the node's namespace for the moment between its creation and its move into
 * the sandbox (where it is renamed vxlan0). Long prefixes shorten it to the same name for every VNI,
 * hence the driver-wide lock around create-and-move.
 */
export const tempVxlanName = (prefix: string, vni: number): string => hostIfName(prefix, `vx${vni}`);

/** Whether a node-namespace name could be one of this prefix's temporary vxlan names. */
export function isTempVxlanName(prefix: string, name: string): boolean {
  const probe = tempVxlanName(prefix, 0);
  const stem = probe.length < MAX_IFNAME_BYTES ? `${prefix}_vx` : probe;
  return name.startsWith(stem);
}

function shortHash(text: string, salt: number): string {
  return createHash('sha256').update(`${salt}:${text}`).digest('hex');
}

/** A task's veth end on br0: private to the sandbox, so only collisions between tasks matter. */
export function sandboxLegName(taskId: string): string {
  return `ve${shortHash(taskId, 0).slice(0, 12)}`;
}

/**
 * A task's gateway-leg end in the node's namespace: `<prefix>_<hash>`, as many hash characters as
 * fit. With a long prefix few characters remain, so a name already taken is skipped by rehashing.
 */
export function gatewayLegName(prefix: string, taskId: string, taken: ReadonlySet<string>): string {
  for (let salt = 0; salt < 10_000; salt++) {
    const name = hostIfName(prefix, shortHash(taskId, salt));
    if (!taken.has(name)) return name;
  }
  throw new RangeError(`no free gateway leg name for prefix '${prefix}'`);
}

/** Docker's convention: 02:42 and the four address bytes, so every node derives a peer's MAC alone. */
export function macFromIp(ip: string): string {
  const addr = parseAddress(ip);
  if (typeof addr === 'string') throw new RangeError(addr);
  const bytes = formatAddress(addr).split('.').map(Number);
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

// The alias of each veth end the driver makes records whose it is, so that after a restart the
// driver can tell its finished legs (alias written last) from leftovers of an interrupted step.
const LABEL_HEAD = 'swarmlite-overlay';

export function formatLegLabel(label: LegLabel): string {
  return `${LABEL_HEAD} task=${label.taskId} if=${label.taskIf} addr=${label.address}`;
}

export function parseLegLabel(alias: string | undefined): LegLabel | undefined {
  const m = /^swarmlite-overlay task=(\S+) if=(\S+) addr=(\S+)$/.exec(alias ?? '');
  return m ? { taskId: m[1], taskIf: m[2], address: m[3] } : undefined;
}
