// A network: its spec as the user gave it, and what the allocator filled in (subnets, VXLAN id).
import type { StoreObject } from './object.js';

export interface IpamConfig {
  subnet: string; // CIDR
  gateway: string; // IPv4; '' = the subnet's first address
  ipRange: string; // CIDR inside the subnet that task addresses come from; '' = the whole subnet
}

export interface NetworkSpec {
  name: string;
  driver: 'overlay';
  /** User-requested subnets; empty: one is carved from the cluster's default address pool. */
  ipam: IpamConfig[];
  attachable: boolean;
  internal: boolean;
  /** The routing mesh's network (10.255.0.0/16, VNI 4096), made at init. */
  ingress: boolean;
  /** Driver options, e.g. { mtu: '1400' }. */
  options: Record<string, string>;
  labels: Record<string, string>;
}

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

/** Why these driver options cannot be used, or undefined (unknown keys, a malformed value). */
export function checkNetworkOptions(options: Record<string, string>): string | undefined {
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
