// Where a standalone container meets the network plane: the one attach point. Today the node offers
// `none` (the container's own namespace with only lo, which the runtime makes) and `host` (no
// namespace of its own: the runtime is told so through `hostNetwork`). A driver that gives containers
// interfaces (the bridge of worker/network/) implements ContainerNetworks: `attach` runs once the
// runtime has made the container's namespace and before its process starts (at create, again when a
// sandbox lost with a reboot is made anew, and at daemon start for every container that has one, so
// drivers that keep their state in memory replay it: attach must be idempotent); `detach` runs when
// the container is removed, while its namespace still exists.
//
// On worker/network's CNM interface (NetworkDriver) an adapter is: attach = createEndpoint(net,
// { id: containerId, address from ipam }) then join(net, containerId, { id: containerId, netnsPath },
// { ifName: 'eth0', defaultRoute: true }); detach = leave then deleteEndpoint. For `host` the
// netnsPath given is the node's own (`/proc/<daemon pid>/ns/net`), which its host driver checks.
import type { ContainerOptions } from '../agent/executor.js';
import type { NetworkMode } from './lifecycle.js';

export interface NetworkAttachment {
  containerId: string;
  containerName: string;
  mode: NetworkMode;
  /** `/run/netns/<name>`; for `host` the node's own (the daemon's), as the container has none. */
  netnsPath: string;
}

export interface ContainerNetworks {
  attach(a: NetworkAttachment): Promise<void>;
  detach(a: NetworkAttachment): Promise<void>;
}

/** What the runtime must know of a mode when it makes the sandbox. */
export function runtimeNetworkOptions(mode: NetworkMode): Pick<ContainerOptions, 'hostNetwork'> {
  return mode === 'host' ? { hostNetwork: true } : {};
}

/** `none` and `host` need nothing beyond what the runtime did. */
export const localOnlyNetworks: ContainerNetworks = {
  attach: async () => undefined,
  detach: async () => undefined,
};

/** `--network` as given: the modes this node has, or the reason it has not. */
export function parseNetworkMode(value: string): NetworkMode {
  if (value === 'none' || value === 'host') return value;
  if (value === 'bridge' || value === 'default')
    throw new Error(
      `network ${value} not found: this node has only the "none" and "host" networks for containers until the bridge driver is in`,
    );
  throw new Error(`network ${value} not found`);
}
