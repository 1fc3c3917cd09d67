// Pure: a container on several networks (`network connect/disconnect`, as Docker). The record keeps
// its networks in connect order; each is one interface, named the lowest free ethN (eth0 for the
// network it was created on, eth1 for the first connect, ...); the default route goes through the
// first of them that has a gateway. What connect and disconnect refuse, in one sentence each.
import { createHash } from 'node:crypto';
import type { ContainerRecord } from './lifecycle.js';
import type { NetworkFacts, NetworkSettings } from './network.js';

export const ifNameOf = (s: NetworkSettings): string => s.ifName ?? 'eth0';

/** The driver's endpoint id of a leg: the container id on the network it was created on. */
export const endpointIdOf = (s: Pick<NetworkSettings, 'endpointId'>, containerId: string): string =>
  s.endpointId ?? containerId;

/**
 * The endpoint id of a connect: derived from both ids, so each leg of a container has its own (the
 * bridge names a leg's node end after its endpoint id) and a replay finds the same one.
 */
export const connectEndpointId = (containerId: string, networkId: string): string =>
  createHash('sha256').update(`${containerId}/${networkId}`).digest('hex');

/**
 * What a leg's settings record of its identity: nothing for the first network's eth0 (so records of
 * single-network containers stay as they were; its endpoint id is the container id), the interface
 * and the derived endpoint id for a leg a connect added.
 */
export function legIdentity(
  containerId: string,
  networkId: string,
  ifName: string | undefined,
): Pick<NetworkSettings, 'ifName' | 'endpointId'> {
  if (ifName === undefined || ifName === 'eth0') return {};
  return { ifName, endpointId: connectEndpointId(containerId, networkId) };
}

/**
 * The container's networks in connect order; undefined when it was never attached (then the network
 * it was created with, `hostConfig.networkMode`, is its first). Records older than connect kept one.
 */
export function networksOf(
  r: Pick<ContainerRecord, 'networks' | 'networkSettings'>,
): NetworkSettings[] | undefined {
  if (r.networks) return r.networks;
  return r.networkSettings ? [r.networkSettings] : undefined;
}

/** The lowest `ethN` none of the container's networks uses. */
export function nextIfName(current: readonly NetworkSettings[]): string {
  const used = new Set(current.map(ifNameOf));
  for (let i = 0; ; i++) if (!used.has(`eth${i}`)) return `eth${i}`;
}

/** The id of the network carrying the default route: the first in connect order with a gateway. */
export function defaultRouteNetwork(current: readonly NetworkSettings[]): string | undefined {
  return current.find((s) => s.gateway !== '')?.networkId;
}

export interface ConnectRequest {
  ip?: string;
  aliases: readonly string[];
}

/** Why the container cannot be connected to `net`, or undefined. */
export function connectRefusal(
  c: Pick<ContainerRecord, 'name' | 'state'>,
  current: readonly NetworkSettings[],
  net: NetworkFacts,
  req: ConnectRequest,
): string | undefined {
  if (c.state.status === 'removing') return `container ${c.name} is marked for removal`;
  if (current.some((s) => s.networkId === net.id))
    return `container ${c.name} is already connected to network ${net.name}`;
  if (net.exclusive)
    return `container ${c.name} cannot be connected to the ${net.name} network: a container is on ${net.name} only when it is created there (--network ${net.name}), and then on no other`;
  const alone = current.find((s) => s.networkName === 'host' || s.networkName === 'none');
  if (alone?.networkName === 'host')
    return `container ${c.name} is on the host network, which it cannot leave or share with another network`;
  if (alone)
    return `container ${c.name} is on the none network: disconnect it from none before connecting it to ${net.name}`;
  if (req.ip !== undefined && !net.userDefined)
    return `--ip: a chosen address is only for user-defined networks, not ${net.name}`;
  if (req.aliases.length > 0 && !net.userDefined)
    return `--alias: network-scoped aliases are only for user-defined networks, not ${net.name}`;
  return undefined;
}

/**
 * The container's leg on the network named `ref` (its id, name or an id prefix; `net` when the node
 * still knows the network), or why it cannot be disconnected from it.
 */
export function disconnectTarget(
  c: Pick<ContainerRecord, 'name' | 'state'>,
  current: readonly NetworkSettings[],
  ref: string,
  net: Pick<NetworkFacts, 'id' | 'name'> | undefined,
): NetworkSettings | string {
  if (c.state.status === 'removing') return `container ${c.name} is marked for removal`;
  const leg = net
    ? current.find((s) => s.networkId === net.id)
    : (current.find((s) => s.networkName === ref || s.networkId === ref) ??
      onlyOne(current.filter((s) => ref.length > 0 && s.networkId.startsWith(ref))));
  if (!leg) return `container ${c.name} is not connected to network ${net?.name ?? ref}`;
  if (leg.networkName === 'host')
    return `container ${c.name} cannot be disconnected from the host network: it has no namespace of its own`;
  return leg;
}

const onlyOne = <T>(xs: T[]): T | undefined => (xs.length === 1 ? xs[0] : undefined);
