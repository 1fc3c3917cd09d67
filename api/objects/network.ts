// A network: its spec as the user gave it, and what the allocator filled in (subnets, VXLAN id).
import type { StoreObject } from './object.js';

export interface IpamConfig {
  subnet: string; // CIDR
  gateway: string; // IPv4; '' = the subnet's first address
  ipRange: string; // CIDR inside the subnet that task addresses come from; '' = the whole subnet
}

/**
 * The drivers of swarm networks: `overlay` (one VXLAN segment across the nodes, addresses from the
 * managers), and `macvlan`/`bridge` with `--scope swarm` (Docker's node-local swarm networks: one name
 * and id for the whole swarm, but each node plugs its tasks into its own local driver with its own
 * settings and gives out their addresses itself).
 */
export const SWARM_NETWORK_DRIVERS = ['overlay', 'macvlan', 'bridge'] as const;
export type SwarmNetworkDriver = (typeof SWARM_NETWORK_DRIVERS)[number];

export interface NetworkSpec {
  name: string;
  driver: SwarmNetworkDriver;
  /** User-requested subnets; empty: one is carved from the cluster's default address pool. */
  ipam: IpamConfig[];
  attachable: boolean;
  internal: boolean;
  /** The routing mesh's network (10.255.0.0/16, VNI 4096), made at init. */
  ingress: boolean;
  /** Driver options, e.g. { mtu: '1400' }. */
  options: Record<string, string>;
  labels: Record<string, string>;
  /**
   * `--config-from`: the name of the local config-only network every node takes this network's
   * settings from (subnet, gateway, ip range, parent, mode); '' = the spec's own ipam and options,
   * the same on every node. Only for node-local drivers. Absent in networks stored before it existed.
   */
  configFrom?: string;
}

/**
 * A swarm network whose tasks each node plugs in with a local driver (macvlan, bridge), taking their
 * addresses from its own range: the managers allocate it no subnet, VNI, VIP or task address.
 */
export const isNodeLocalNetwork = (spec: Pick<NetworkSpec, 'driver'>): boolean => spec.driver !== 'overlay';

export interface Network extends StoreObject {
  spec: NetworkSpec;
  /** Filled by the allocator: the subnets actually in use, and the VXLAN id. */
  ipam: IpamConfig[];
  vni: number;
}

/**
 * The overlay driver options swarmlite knows: `mtu` and Docker's `encrypted` (IPsec between nodes).
 * Any other key is refused at create rather than stored and ignored: an option that cannot be
 * honoured must not look accepted.
 */
const OVERLAY_OPTIONS: readonly string[] = ['mtu', 'encrypted'];

/** Options of the node-local drivers a swarm network may carry (the same keys as their local networks). */
const NODE_LOCAL_OPTIONS: Record<Exclude<SwarmNetworkDriver, 'overlay'>, readonly string[]> = {
  macvlan: ['parent', 'macvlan_mode', 'mtu', 'com.docker.network.driver.mtu'],
  bridge: ['com.docker.network.bridge.name', 'mtu', 'com.docker.network.driver.mtu'],
};
const MACVLAN_MODES: readonly string[] = ['bridge', 'private', 'vepa', 'passthru'];

/**
 * Why a node-local swarm network's spec cannot be used, or undefined. With `--config-from` the
 * settings are each node's, so the spec carries none (Docker: the two are exclusive); without, the
 * spec's one subnet and options hold on every node.
 */
export function checkNodeLocalSpec(
  spec: Pick<NetworkSpec, 'driver' | 'ipam' | 'options' | 'configFrom' | 'ingress'>,
): string | undefined {
  if (spec.driver === 'overlay') {
    return spec.configFrom
      ? '--config-from is for macvlan and bridge networks (--scope swarm), not overlay'
      : undefined;
  }
  if (spec.ingress) return `the ingress network must be an overlay, not ${spec.driver}`;
  if (spec.configFrom) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(spec.configFrom))
      return `invalid --config-from "${spec.configFrom}": not a network name`;
    const given = [
      ...(spec.ipam.length > 0 ? ['--subnet/--gateway/--ip-range'] : []),
      ...(Object.keys(spec.options).length > 0 ? ['-o/--opt'] : []),
    ];
    if (given.length > 0)
      return `--config-from ${spec.configFrom} and ${given.join(', ')} are exclusive: the settings come from each node's config-only network ${spec.configFrom}`;
    return undefined;
  }
  if (spec.ipam.length !== 1)
    return `a ${spec.driver} network with --scope swarm needs one --subnet (or --config-from a config-only network on each node)`;
  for (const key of Object.keys(spec.options)) {
    if (!NODE_LOCAL_OPTIONS[spec.driver].includes(key))
      return `unknown ${spec.driver} option "${key}": the known options are ${NODE_LOCAL_OPTIONS[spec.driver].join(', ')}`;
  }
  const mode = spec.options.macvlan_mode;
  if (mode !== undefined && !MACVLAN_MODES.includes(mode))
    return `invalid macvlan_mode "${mode}": use ${MACVLAN_MODES.join(', ')}`;
  return undefined;
}

/** Why these driver options cannot be used, or undefined (unknown keys, a malformed value). */
export function checkNetworkOptions(
  options: Record<string, string>,
  driver: SwarmNetworkDriver = 'overlay',
): string | undefined {
  // A node-local network's options are checked with the rest of its spec (checkNodeLocalSpec).
  if (driver !== 'overlay') return undefined;
  for (const key of Object.keys(options)) {
    if (!OVERLAY_OPTIONS.includes(key))
      return `unknown overlay option "${key}": the known options are ${OVERLAY_OPTIONS.join(' and ')}`;
  }
  const enc = options.encrypted;
  if (enc !== undefined && !['', 'true'].includes(enc))
    return `invalid encrypted option "${enc}": use --opt encrypted (or leave it out)`;
  return undefined;
}

/** Docker's `--opt encrypted`: the network's traffic between nodes must be encrypted. */
export const isEncryptedNetwork = (spec: Pick<NetworkSpec, 'options'>): boolean =>
  spec.options.encrypted !== undefined;
