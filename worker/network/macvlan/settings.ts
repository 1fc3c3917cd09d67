// A macvlan or ipvlan network's settings read from Docker's options, and the checks a new network must
// pass against itself and the driver's other networks, as pure functions: one NetworkDriverError for
// the first thing wrong, before anything is made.
import { overlaps, parseCidr, type Cidr } from '../../../lib/ipv4.js';
import { NetworkDriverError, type NetworkConfig } from '../driver.js';
import { subnetOf } from '../ipam.js';
import { dummyName, type LowerKind } from './names.js';

export const PARENT_OPTION = 'parent';
export const MODE_OPTION: Record<LowerKind, string> = { macvlan: 'macvlan_mode', ipvlan: 'ipvlan_mode' };
export const MODES: Record<LowerKind, readonly string[]> = {
  macvlan: ['bridge', 'private', 'vepa', 'passthru'],
  ipvlan: ['l2', 'l3'],
};
/** Docker's defaults: macvlan in bridge mode, ipvlan in l2. */
export const DEFAULT_MODE: Record<LowerKind, string> = { macvlan: 'bridge', ipvlan: 'l2' };
const MTU_OPTION = 'com.docker.network.driver.mtu';

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

export interface LowerSettings {
  /** The parent device in the node's namespace: `-o parent`, or Docker's dummy `dm-<id>` without one. */
  parent: string;
  /** No `-o parent`: the parent is a dummy the driver makes, and the network is internal (as Docker). */
  dummy: boolean;
  mode: string;
  /** undefined: the parent's (the kernel's default for a macvlan/ipvlan device). */
  mtu?: number;
  /** No default route through this network: `--internal`, or no parent. */
  internal: boolean;
}

/** `eth0.100` as VLAN 100 on eth0; undefined for a name of any other form. */
export function vlanOf(parent: string): { base: string; id: number } | undefined {
  const m = /^(.+)\.(\d{1,4})$/.exec(parent);
  if (!m) return undefined;
  const id = Number(m[2]);
  return id >= 1 && id <= 4094 ? { base: m[1]!, id } : undefined;
}

/** The settings of one network, or a NetworkDriverError naming what is wrong with it. */
export function settingsOf(kind: LowerKind, net: NetworkConfig): LowerSettings {
  const mode = net.options[MODE_OPTION[kind]] ?? DEFAULT_MODE[kind];
  if (!MODES[kind].includes(mode)) {
    throw new NetworkDriverError(
      `${MODE_OPTION[kind]}=${mode} is not a ${kind} mode (one of ${MODES[kind].join(', ')})`,
    );
  }
  const given = net.options[PARENT_OPTION];
  if (given !== undefined && !IFNAME.test(given)) {
    throw new NetworkDriverError(`parent=${given} is not an interface name (1-15 of A-Za-z0-9_.-)`);
  }
  if (given === undefined && !/^[0-9a-z]{12}/.test(net.id)) {
    throw new NetworkDriverError(`network id '${net.id}' is too short to name a dummy parent`);
  }
  if (net.subnets.length === 0) throw new NetworkDriverError(`${kind} network ${net.name} needs a subnet`);
  for (const s of net.subnets) {
    const c = parseCidr(s.subnet);
    if (typeof c === 'string') throw new NetworkDriverError(c);
    subnetOf(net, `${s.gateway}/${c.prefix}`);
  }
  const text = net.options[MTU_OPTION];
  const mtu = net.mtu ?? (text !== undefined ? Number(text) : undefined);
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    throw new NetworkDriverError(`MTU ${text ?? mtu} of network ${net.name} is not between 68 and 65535`);
  }
  return {
    parent: given ?? dummyName(net.id),
    dummy: given === undefined,
    mode,
    ...(mtu !== undefined ? { mtu } : {}),
    internal: net.internal || given === undefined,
  };
}

const cidrs = (net: NetworkConfig): Cidr[] =>
  net.subnets.map((s) => parseCidr(s.subnet)).filter((c): c is Cidr => typeof c !== 'string');

/**
 * A new network against the node's other macvlan and ipvlan networks: no subnet overlapping theirs,
 * and no parent another one uses, whatever its kind. Docker gives every macvlan/ipvlan network a
 * parent of its own (the parent is what keeps two networks' traffic apart; a second network on the
 * same wire takes a VLAN sub-interface, eth0.N), and the kernel puts one kind of port on a device.
 */
export function checkAgainstOthers(
  kind: LowerKind,
  net: NetworkConfig,
  mine: LowerSettings,
  others: readonly { kind: LowerKind; net: NetworkConfig }[],
): void {
  for (const { kind: theirKind, net: other } of others) {
    if (other.id === net.id) continue;
    const theirs = settingsOf(theirKind, other);
    if (theirs.parent === mine.parent) {
      throw new NetworkDriverError(
        `parent interface ${mine.parent} is already used by ${theirKind} network ${other.name} (mode ${theirs.mode}); ` +
          `a ${kind} network needs a parent of its own (a VLAN sub-interface such as ${mine.parent}.10 for another)`,
      );
    }
    const clash = other.subnets.find((s) => {
      const c = parseCidr(s.subnet);
      return typeof c !== 'string' && cidrs(net).some((m) => overlaps(m, c));
    });
    if (clash) {
      throw new NetworkDriverError(
        `a subnet of network ${net.name} overlaps ${clash.subnet} of ${theirKind} network ${other.name}`,
      );
    }
  }
}
