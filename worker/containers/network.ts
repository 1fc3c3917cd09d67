// Where a standalone container meets the network plane: the one attach point. Today the node offers
// `none` (the container's own namespace with only lo, which the runtime makes) and `host` (no
// namespace of its own: the runtime is told so through `hostNetwork`). A driver that gives containers
// interfaces (the bridge of worker/network/) implements ContainerNetworks: `attach` runs after the
// runtime made the container's namespace and before its process starts, with that namespace's path;
// `detach` runs when the container is removed (its namespace still exists).
import type { ContainerOptions } from '../agent/executor.js';
import type { NetworkMode } from './lifecycle.js';

export interface NetworkAttachment {
  containerId: string;
  containerName: string;
  mode: NetworkMode;
  /** `/run/netns/<name>`; '' for `host`, which has no namespace of its own. */
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
