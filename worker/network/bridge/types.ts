// The bridge driver's planner contract as plain data: what one network and its legs should be
// (desired), what the node's namespace has (observed), and the steps between them.
import type { Command } from '../commands.js';
import type { PortBinding } from '../driver.js';

export interface DesiredBridge {
  /** The daemon's prefix, written into the labels. */
  owner: string;
  networkId: string;
  bridge: string;
  /** The gateway addresses with the subnets' prefix lengths, e.g. ['172.19.0.1/16']. */
  addresses: string[];
  mtu: number;
}

/** One endpoint joined to a sandbox: a veth from the bridge into it. */
export interface DesiredLeg {
  owner: string;
  networkId: string;
  endpointId: string;
  bridge: string;
  /** The node's end. */
  hostIf: string;
  sandboxPath: string;
  /** The sandbox's end: eth0, eth1, ... */
  ifName: string;
  address: string;
  mac: string;
  mtu: number;
  /** The default route's next hop, when this leg carries it. */
  gateway?: string;
}

/** A device in the node's namespace, as `ip -d -j addr show` reports it. */
export interface ObservedLink {
  ifName: string;
  kind?: string;
  alias?: string;
  master?: string;
  mtu: number;
  up: boolean;
  /** IPv4 'a.b.c.d/len'. */
  addresses: string[];
}

/** The bridge-relevant part of a network in the driver's nftables table. */
export interface TableNetwork {
  bridge: string;
  subnets: string[];
  internal: boolean;
}

/** One published port of a joined endpoint, as the table's DNAT rules need it. */
export interface PublishedPort {
  bridge: string;
  /** The endpoint's address, no prefix length. */
  ip: string;
  port: PortBinding;
}

export interface Step {
  why: string;
  commands: Command[];
}
