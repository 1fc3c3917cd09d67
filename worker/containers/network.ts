// Where a standalone container meets the network plane: the one attach point. `attach` runs once the
// runtime has made the container's namespace and before its process starts (at create, again when a
// sandbox lost with a reboot is made anew, and at daemon start for every container that has one, so
// drivers that keep their state in memory replay it: attach must be idempotent); `detach` runs when
// the container is removed, while its namespace still exists. `host` needs the runtime's help too
// (no namespace of its own: `hostNetwork`); its netnsPath is the node's own (`/proc/<daemon
// pid>/ns/net`), which the host driver checks. The node's implementation over worker/network's CNM
// drivers is cnm-networks.ts.
import type { ContainerOptions } from '../agent/executor.js';
import type { PortBinding } from '../network/driver.js';
import { usesEmbeddedDns } from './dns-records.js';
import type { PortRequest } from './ports.js';

/** What an attach did (Docker's NetworkSettings), kept in the container's record. */
export interface NetworkSettings {
  networkId: string;
  networkName: string;
  /** With its prefix length ('172.17.0.2/16'); '' on unaddressed networks. */
  address: string;
  gateway: string;
  macAddress: string;
  ports: PortBinding[];
  /** The interface in the container ('eth0', 'eth1', ...); absent in records older than connect: eth0. */
  ifName?: string;
  /** The driver's endpoint id; absent: the container id (the network it was created on). */
  endpointId?: string;
  /** `network connect --alias` (kept for name resolution on the network). */
  aliases?: string[];
  /** On a swarm overlay: the managers' attachment holding the address (given back at removal). */
  attachmentId?: string;
}

export interface NetworkAttachment {
  containerId: string;
  containerName: string;
  /** The network's name or id as the user gave it (`--network`, `network connect`). */
  mode: string;
  /** The interface it becomes in the container (connections.ts nextIfName); absent: eth0. */
  ifName?: string;
  /** This network carries the container's default route (connections.ts defaultRouteNetwork); absent: yes. */
  defaultRoute?: boolean;
  /** `network connect --ip`: this address or a refusal, never another. */
  requestedIp?: string;
  /** `network connect --alias`. */
  aliases?: string[];
  /** `/run/netns/<name>`; for `host` the node's own (the daemon's), as the container has none. */
  netnsPath: string;
  /** For `-P`: the image whose exposed ports are published. */
  image: string;
  /** `-p` as parsed, and `-P`. */
  portBindings: PortRequest[];
  publishAllPorts: boolean;
  /** `--dns`: the upstreams of the network's embedded DNS (absent: the node's). */
  dns?: string[];
  /** What the last attach of this container gave (its address and ports are kept on a replay). */
  settings?: NetworkSettings;
}

export interface ContainerNetworks {
  /** Idempotent; gives what the container's record keeps, undefined when there is nothing to keep. */
  attach(a: NetworkAttachment): Promise<NetworkSettings | undefined>;
  detach(a: NetworkAttachment): Promise<void>;
  /** At daemon start, before any attach: the containers' addresses and ports are theirs already. */
  remember?(a: NetworkAttachment): void;
  /** What `network connect/disconnect` must know of a network (name, id or id prefix), undefined: none. */
  describe?(ref: string): NetworkFacts | undefined;
}

/** A network as connect's refusals see it. */
export interface NetworkFacts {
  id: string;
  name: string;
  /** `host`, `none`: a container on it can be on no other. */
  exclusive: boolean;
  /** A network of the user's (`network create`): the only ones `--ip` and `--alias` apply to. */
  userDefined: boolean;
}

/**
 * What the runtime must know of a mode when it makes the sandbox. The embedded DNS's resolv.conf when
 * the container is created on a user network or has been connected to one (`networkNames`, its
 * networks now), as a Docker sandbox made with such an endpoint.
 */
export function runtimeNetworkOptions(
  mode: string,
  nodeResolvConf = '/etc/resolv.conf',
  networkNames: readonly string[] = [],
): Pick<ContainerOptions, 'hostNetwork' | 'resolvConf'> {
  if (mode === 'host') return { hostNetwork: true };
  const embedded = usesEmbeddedDns(mode) || networkNames.some(usesEmbeddedDns);
  return { resolvConf: { mode: embedded ? 'embedded' : 'node', nodeFile: nodeResolvConf } };
}

/** `none` and `host` only: what a node without local networks (unit tests of the engine) offers. */
export const localOnlyNetworks: ContainerNetworks = {
  attach: async (a) => {
    if (a.mode !== 'none' && a.mode !== 'host') throw new Error(`network ${a.mode} not found`);
    return undefined;
  },
  detach: async () => undefined,
};
