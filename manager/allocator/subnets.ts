// Subnets: checking the ones users ask for, and carving new ones from the cluster's default address
// pools. Stateless: the caller passes the subnets already in use.
import {
  checkNodeLocalSpec,
  SWARM_NETWORK_DRIVERS,
  type IpamConfig,
  type NetworkSpec,
} from '../../api/objects/index.js';
import {
  cidrAt,
  containsAddress,
  containsCidr,
  formatAddress,
  overlaps,
  parseAddress,
  parseCidr,
  type Cidr,
} from '../../lib/ipv4.js';

/** The routing mesh's subnet (DESIGN.md §5) when `init` does not choose another. */
export const DEFAULT_INGRESS_SUBNET = '10.255.0.0/16';

/** The longest prefix a subnet may have: a /30 leaves two usable addresses (gateway and one task). */
export const MAX_SUBNET_PREFIX = 30;

/** One user subnet, parsed and checked. `gateway` is filled in (first usable address) if it was ''. */
export interface CheckedIpam {
  subnet: Cidr;
  gateway: number;
  range: Cidr;
  config: IpamConfig;
}

/** Checks one `--subnet/--gateway/--ip-range` triple on its own. */
export function checkIpamConfig(config: IpamConfig): CheckedIpam | string {
  const subnet = parseCidr(config.subnet);
  if (typeof subnet === 'string') return `invalid subnet: ${subnet}`;
  if (subnet.prefix > MAX_SUBNET_PREFIX) {
    return `subnet ${subnet.text} is too small: the prefix length must be at most ${MAX_SUBNET_PREFIX}`;
  }
  let gateway = subnet.first + 1;
  if (config.gateway !== '') {
    const parsed = parseAddress(config.gateway);
    if (typeof parsed === 'string') return `invalid gateway: ${parsed}`;
    if (!containsAddress(subnet, parsed))
      return `gateway ${config.gateway} is not inside subnet ${subnet.text}`;
    if (parsed === subnet.first || parsed === subnet.last) {
      return `gateway ${config.gateway} is the network or broadcast address of subnet ${subnet.text}`;
    }
    gateway = parsed;
  }
  let range = subnet;
  if (config.ipRange !== '') {
    const parsed = parseCidr(config.ipRange);
    if (typeof parsed === 'string') return `invalid ip-range: ${parsed}`;
    if (!containsCidr(subnet, parsed)) return `ip-range ${parsed.text} is not inside subnet ${subnet.text}`;
    range = parsed;
  }
  const ipRange = config.ipRange === '' ? '' : range.text;
  return {
    subnet,
    gateway,
    range,
    config: { subnet: subnet.text, gateway: formatAddress(gateway), ipRange },
  };
}

/**
 * Checks a network spec on its own (no other networks needed): what the control API calls before
 * proposing `network create`. Overlaps with other networks are the allocator's (allocateNetwork).
 */
export function validateNetworkSpec(spec: NetworkSpec): string | undefined {
  if (!spec.name) return 'network name must not be empty';
  if (!(SWARM_NETWORK_DRIVERS as readonly string[]).includes(spec.driver))
    return `unsupported network driver "${String(spec.driver)}" (swarm networks: ${SWARM_NETWORK_DRIVERS.join(', ')})`;
  const nodeLocal = checkNodeLocalSpec({ ...spec, configFrom: spec.configFrom ?? '' });
  if (nodeLocal) return nodeLocal;
  const checked = checkNetworkIpam(spec);
  return typeof checked === 'string' ? checked : undefined;
}

/** Checks every user subnet of a spec, and that they do not overlap each other. */
export function checkNetworkIpam(spec: NetworkSpec): CheckedIpam[] | string {
  const checked: CheckedIpam[] = [];
  for (const config of spec.ipam) {
    const one = checkIpamConfig(config);
    if (typeof one === 'string') return one;
    const clash = checked.find((c) => overlaps(c.subnet, one.subnet));
    if (clash) return `subnets ${clash.subnet.text} and ${one.subnet.text} of network ${spec.name} overlap`;
    checked.push(one);
  }
  return checked;
}

/** The cluster's default address pools and subnet size, parsed; an error message if they are unusable. */
export interface AddressPools {
  pools: Cidr[];
  subnetSize: number;
}

export function parseAddressPools(pools: readonly string[], subnetSize: number): AddressPools | string {
  if (pools.length === 0) return 'the default address pool list is empty';
  if (!Number.isInteger(subnetSize) || subnetSize < 1 || subnetSize > MAX_SUBNET_PREFIX) {
    return `default subnet size /${subnetSize} is not a prefix length between 1 and ${MAX_SUBNET_PREFIX}`;
  }
  const parsed: Cidr[] = [];
  for (const text of pools) {
    const pool = parseCidr(text);
    if (typeof pool === 'string') return `invalid default address pool: ${pool}`;
    if (pool.prefix > subnetSize)
      return `default address pool ${pool.text} is smaller than the subnet size /${subnetSize}`;
    parsed.push(pool);
  }
  return { pools: parsed, subnetSize };
}

/**
 * The lowest free subnet of the configured size, pools in order: skips any candidate overlapping a
 * subnet in `used` (user subnets of any size included). Jumps past each overlapping used subnet, so the
 * cost grows with the number of used subnets, not with the size of the pool.
 */
export function carveSubnet(pools: AddressPools, used: readonly Cidr[]): Cidr | undefined {
  const step = 2 ** (32 - pools.subnetSize);
  for (const pool of pools.pools) {
    let first = pool.first;
    while (first + step - 1 <= pool.last) {
      const candidate = cidrAt(first, pools.subnetSize);
      const clash = used.find((u) => overlaps(u, candidate));
      if (!clash) return candidate;
      // The next aligned candidate after the end of the clashing subnet (pools start aligned).
      first = Math.max(first + step, pool.first + Math.ceil((clash.last + 1 - pool.first) / step) * step);
    }
  }
  return undefined;
}
