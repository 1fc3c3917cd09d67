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
