// Every name the bridge driver gives the kernel, and the labels by which it knows its own devices.
//
// Bridges and veths carry Docker's names (`br-<12 of id>`, `swl0` for the default network, `veth<7>`),
// which leave no room for the daemon's prefix in 15 bytes; the driver owns a device by the label it
// writes into the device's alias, never by its name, and refuses to touch a device of that name that
// carries no label of its own. Each daemon has a node namespace of its own (labs give each host one),
// so Docker's names do not collide between daemons; the nftables table, shared by name, carries the
// prefix.
import { createHash } from 'node:crypto';
import { NetworkDriverError, type NetworkConfig } from '../driver.js';

/** Docker's option naming a bridge network's Linux bridge. */
export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
/** Docker's option marking the default `bridge` network. */
export const DEFAULT_BRIDGE_OPTION = 'com.docker.network.bridge.default_bridge';
export const DEFAULT_BRIDGE_NAME = 'swl0';

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** The Linux bridge of a network: the option's name, `swl0` for the default network, or `br-<id>`. */
export function bridgeName(net: NetworkConfig): string {
  const given = net.options[BRIDGE_NAME_OPTION];
  if (given !== undefined) {
    if (!IFNAME.test(given)) {
      throw new NetworkDriverError(
        `${BRIDGE_NAME_OPTION}=${given} is not an interface name (1-15 of A-Za-z0-9_.-)`,
      );
    }
    return given;
  }
  if (net.options[DEFAULT_BRIDGE_OPTION] === 'true') return DEFAULT_BRIDGE_NAME;
  if (!/^[0-9a-z]{12}/.test(net.id))
    throw new NetworkDriverError(`network id '${net.id}' is too short to name a bridge`);
  return `br-${net.id.slice(0, 12)}`;
}

const hash = (text: string, n: number) => createHash('sha256').update(text).digest('hex').slice(0, n);

/** The node's end of an endpoint's veth: `veth` + 7 hex of a hash of the endpoint id (Docker's form). */
export function vethName(endpointId: string): string {
  return `veth${hash(endpointId, 7)}`;
}

/**
 * The names a bridge and a leg are born under before they are labelled and renamed: derived from the
 * network's and endpoint's ids, so a leftover of an interrupted step is recognized and removed.
 */
export const tempBridgeName = (networkId: string): string => `brtmp${hash(networkId, 10)}`;
export const tempLegName = (endpointId: string): string => `vetmp${hash(endpointId, 10)}`;

export const tableName = (prefix: string): string => `${prefix}_bridge`;

/** 02:42 and the address's four bytes, as Docker derives a container's MAC. */
export function macFromAddress(address: string): string {
  const ip = address.split('/')[0]!;
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

// Labels: `swarmlite-bridge owner=<prefix> net=<id>` on a bridge; `swarmlite-bridge owner=<prefix>
// net=<id> ep=<id> if=<name> addr=<cidr> gw=<ip|->` on the node's end of a veth (how the sandbox end was
// set up, so a change makes the leg again). The owner is the daemon's prefix: two daemons sharing a
// namespace never take each other's devices.
const LABEL_HEAD = 'swarmlite-bridge';

export interface LegLabel {
  networkId: string;
  endpointId: string;
  ifName: string;
  address: string;
  /** The default route set through this leg, '-' for none. */
  gateway: string;
}

export const bridgeLabel = (owner: string, networkId: string): string =>
  `${LABEL_HEAD} owner=${owner} net=${networkId}`;

/** The network id of one of `owner`'s bridge labels; undefined for any other alias. */
export function parseBridgeLabel(owner: string, alias: string | undefined): string | undefined {
  const m = alias && /^swarmlite-bridge owner=(\S+) net=(\S+)$/.exec(alias);
  return m && m[1] === owner ? m[2] : undefined;
}

export const legLabel = (owner: string, l: LegLabel): string =>
  `${LABEL_HEAD} owner=${owner} net=${l.networkId} ep=${l.endpointId} if=${l.ifName} addr=${l.address} gw=${l.gateway}`;

/** One of `owner`'s leg labels; undefined for any other alias. */
export function parseLegLabel(owner: string, alias: string | undefined): LegLabel | undefined {
  const m =
    alias && /^swarmlite-bridge owner=(\S+) net=(\S+) ep=(\S+) if=(\S+) addr=(\S+) gw=(\S+)$/.exec(alias);
  return m && m[1] === owner
    ? { networkId: m[2]!, endpointId: m[3]!, ifName: m[4]!, address: m[5]!, gateway: m[6]! }
    : undefined;
}
