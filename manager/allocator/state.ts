// The allocator's in-memory state: which subnets, VNIs, addresses and ports are held, and by whom.
//
// It is a mutable class, not an immutable value: the address pools are bitmaps (8 KiB for a /16), and
// copying them on every allocation would defeat the point of having them. Instead every operation in
// networks.ts/services.ts/tasks.ts is transactional: it either succeeds and mutates, or fails and leaves
// the state exactly as it was. The leader owns one instance, rebuilt from the store (restore.ts) whenever
// it takes office, so nothing here is ever persisted on its own.
import type { PortConfig } from '../../api/objects/index.js';
import { DEFAULT_ADDR_POOL, DEFAULT_SUBNET_SIZE, type ClusterSpec } from '../../api/objects/index.js';
import type { AddressPool } from './address-pool.js';
import type { Cidr } from '../../lib/ipv4.js';
import { PublishedPorts } from './ports.js';
import { parseAddressPools, type AddressPools } from './subnets.js';

export const INGRESS_VNI = 4096;
export const FIRST_VNI = 4097;
/** VXLAN ids are 24 bits. */
export const MAX_VNI = 16_777_215;

export interface NetworkState {
  id: string;
  name: string;
  ingress: boolean;
  vni: number;
  /** One pool per subnet, in the order of Network.ipam. */
  pools: AddressPool[];
  /**
   * A node-local swarm network (macvlan, bridge with --scope swarm): no VNI, no pools; each node gives
   * its tasks addresses from its own range, so tasks get an attachment without an address and no VIP.
   */
  nodeLocal?: boolean;
}

/** An address held in one pool of one network. */
export interface HeldAddress {
  networkId: string;
  pool: AddressPool;
  addr: number;
}

export interface ServiceState {
  id: string;
  name: string;
  ports: PortConfig[];
  vips: HeldAddress[];
}

export interface TaskState {
  id: string;
  addresses: HeldAddress[];
  aliases: Map<string, string[]>;
  /** Its node-local networks (no address here: the node gives one), in the order of its attachments. */
  nodeLocal?: string[];
}

export class AllocatorState {
  /** The parsed default address pools, or why the cluster's configuration cannot be used. */
  readonly addressPools: AddressPools | string;
  readonly networks = new Map<string, NetworkState>();
  readonly vnis = new Set<number>();
  readonly services = new Map<string, ServiceState>();
  readonly tasks = new Map<string, TaskState>();
  /** Node id → its ingress sandbox's address on the ingress network. */
  readonly nodes = new Map<string, HeldAddress>();
  readonly ports = new PublishedPorts();

  constructor(cluster?: Pick<ClusterSpec, 'defaultAddrPool' | 'subnetSize'>) {
    const pools = cluster?.defaultAddrPool.length ? cluster.defaultAddrPool : DEFAULT_ADDR_POOL;
    this.addressPools = parseAddressPools(pools, cluster?.subnetSize || DEFAULT_SUBNET_SIZE);
  }

  ingressNetwork(): NetworkState | undefined {
    for (const n of this.networks.values()) if (n.ingress) return n;
    return undefined;
  }

  /** Every subnet held by a network other than `exceptId`. */
  usedSubnets(exceptId?: string): { subnet: Cidr; network: NetworkState }[] {
    const used: { subnet: Cidr; network: NetworkState }[] = [];
    for (const network of this.networks.values()) {
      if (network.id === exceptId) continue;
      for (const pool of network.pools) used.push({ subnet: pool.subnet, network });
    }
    return used;
  }

  /** Takes an address on `network` from its first subnet with room; undefined if all are exhausted. */
  allocateAddress(network: NetworkState): HeldAddress | undefined {
    for (const pool of network.pools) {
      const addr = pool.allocate();
      if (addr !== undefined) return { networkId: network.id, pool, addr };
    }
    return undefined;
  }

  /** The message for a network whose pools are all exhausted. */
  static exhaustedMessage(network: NetworkState): { pool: string; message: string } {
    const pools = network.pools.map((p) => p.range.text).join(', ');
    const many = network.pools.length > 1;
    return {
      pool: pools,
      message: `address pool${many ? 's' : ''} ${pools} of network ${network.name} ${many ? 'are' : 'is'} exhausted`,
    };
  }

  static release(held: readonly HeldAddress[]): void {
    for (const h of held) h.pool.release(h.addr);
  }
}
