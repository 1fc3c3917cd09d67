// Address management for local networks (bridge), as pure functions: the subnet a new network takes
// from the default pools, the checks on a user's --subnet/--gateway/--ip-range, and the address a new
// endpoint takes. Swarm networks get theirs from the manager's allocator instead.
import {
  cidrAt,
  containsAddress,
  containsCidr,
  formatAddress,
  overlaps,
  parseAddress,
  parseAddressWithPrefix,
  parseCidr,
  type Cidr,
} from '../../lib/ipv4.js';
import { NetworkDriverError, type NetworkConfig, type NetworkSubnet } from './driver.js';
import { DEFAULT_GATEWAY_BRIDGE } from './overlay/types.js';

/** The default `bridge` network (Docker's docker0). */
export const DEFAULT_BRIDGE_SUBNET: NetworkSubnet = { subnet: '172.17.0.0/16', gateway: '172.17.0.1' };

/** Docker's default local pools: 172.17-31.0.0/16 (172.17 is the default bridge's), then 192.168.0.0/20s. */
export const DEFAULT_POOLS: { base: string; size: number }[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: '192.168.0.0/16', size: 20 },
];

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (typeof c === 'string') throw new NetworkDriverError(c);
  return c;
}

function address(text: string): number {
  const a = parseAddress(text);
  if (typeof a === 'string') throw new NetworkDriverError(a);
  return a;
}

/**
 * Subnets no local network takes even when nothing uses them yet: the overlay's gateway bridge
 * (172.18.0.0/16, Docker's docker_gwbridge default, made when the node's first swarm task starts), so a
 * node that joins a swarm later never finds its bridge networks overlapping it. Docker gives a first
 * user bridge 172.18.0.0/16 and then has docker_gwbridge take the next free one; swarmlite keeps the
 * gateway bridge's subnet fixed (the routing mesh's DNAT targets it), so user bridges start at 172.19.
 */
export const ALWAYS_RESERVED: readonly string[] = [DEFAULT_GATEWAY_BRIDGE.subnet];

/**
 * The first subnet of the pools that overlaps nothing in `taken` (callers pass ALWAYS_RESERVED, the
 * node's other local networks, and the subnets of its own routes: BridgeDriver.nodeSubnets), with
 * its first host address as gateway. Throws when the pools are exhausted.
 */
export function allocateSubnet(taken: readonly string[], pools = DEFAULT_POOLS): NetworkSubnet {
  const used = taken.map(cidr);
  for (const pool of pools) {
    const base = cidr(pool.base);
    const step = 2 ** (32 - pool.size);
    for (let first = base.first; first + step - 1 <= base.last; first += step) {
      const candidate = cidrAt(first, pool.size);
      if (!used.some((u) => overlaps(u, candidate))) {
        return { subnet: candidate.text, gateway: formatAddress(candidate.first + 1) };
      }
    }
  }
  throw new NetworkDriverError('all predefined address pools have been fully subnetted');
}

/**
 * Checks a user's subnet (`--subnet`, `--gateway`, `--ip-range`) against itself and the subnets the
 * node already uses; fills in the gateway (first host address) when absent.
 */
export function checkSubnet(
  want: Partial<NetworkSubnet> & { subnet: string },
  taken: readonly string[],
): NetworkSubnet {
  const net = cidr(want.subnet);
  if (net.prefix > 30)
    throw new NetworkDriverError(`subnet ${net.text} is too small for a network (at most /30)`);
  const clash = taken.find((t) => overlaps(cidr(t), net));
  if (clash)
    throw new NetworkDriverError(`subnet ${net.text} overlaps with ${clash}, which is already in use`);
  const gateway = want.gateway ?? formatAddress(net.first + 1);
  const gw = address(gateway);
  if (!containsAddress(net, gw) || gw === net.first || gw === net.last) {
    throw new NetworkDriverError(`gateway ${gateway} is not a host address of subnet ${net.text}`);
  }
  const out: NetworkSubnet = { subnet: net.text, gateway };
  if (want.ipRange !== undefined) {
    const range = cidr(want.ipRange);
    if (!containsCidr(net, range))
      throw new NetworkDriverError(`ip range ${range.text} is not inside subnet ${net.text}`);
    out.ipRange = range.text;
  }
  return out;
}

/**
 * The address (with prefix length) for a new endpoint: `requested` (`--ip`) if it is a free host
 * address of the subnet, else the lowest free one in the ip range (or the subnet), skipping the
 * network and broadcast addresses, the gateway and `used` (addresses without prefix).
 */
export function allocateAddress(sub: NetworkSubnet, used: readonly string[], requested?: string): string {
  const net = cidr(sub.subnet);
  const taken = new Set(used.map(address));
  taken.add(address(sub.gateway));
  const free = (a: number) => a !== net.first && a !== net.last && !taken.has(a);
  if (requested !== undefined) {
    const a = address(requested);
    if (!containsAddress(net, a))
      throw new NetworkDriverError(`address ${requested} is not in subnet ${net.text}`);
    if (!free(a))
      throw new NetworkDriverError(`address ${requested} is already in use on subnet ${net.text}`);
    return `${requested}/${net.prefix}`;
  }
  const range = sub.ipRange ? cidr(sub.ipRange) : net;
  for (let a = range.first; a <= range.last; a++) {
    if (free(a)) return `${formatAddress(a)}/${net.prefix}`;
  }
  throw new NetworkDriverError(`no free address left in ${range.text}`);
}

/**
 * The subnet of `net` that holds `address` ('a.b.c.d/len' with the subnet's length) as a host address
 * (not the network or broadcast address), or a NetworkDriverError: how a driver checks an endpoint's
 * address before it plugs it in.
 */
export function subnetOf(net: NetworkConfig, address: string): NetworkSubnet {
  const a = parseAddressWithPrefix(address);
  if (typeof a === 'string') throw new NetworkDriverError(a);
  const found = net.subnets.find((s) => {
    const c = parseCidr(s.subnet);
    return (
      typeof c !== 'string' &&
      c.prefix === a.prefix &&
      containsAddress(c, a.addr) &&
      c.first !== a.addr &&
      c.last !== a.addr
    );
  });
  if (!found)
    throw new NetworkDriverError(`address ${address} is not a host address of network ${net.name}'s subnets`);
  return found;
}
