// A node's drivers and the networks every node has from the start, as in `docker network ls`:
// `bridge` (the Linux bridge swl0, 172.17.0.0/16), `host` and `none`. `macvlan` and `ipvlan` are
// always registered; a kernel without ipvlan (or 802.1Q, for a `parent=eth0.N`) refuses the network
// at creation with the missing kernel option named.
import type { Logger } from '../../lib/log.js';
import { BridgeDriver } from './bridge/driver.js';
import { DEFAULT_BRIDGE_NAME, DEFAULT_BRIDGE_OPTION, BRIDGE_NAME_OPTION } from './bridge/names.js';
import { DriverRegistry, type NetworkConfig } from './driver.js';
import { HostDriver } from './host/driver.js';
import { KernelFeatures, probeKernel } from './macvlan/kernel.js';
import { IpvlanDriver } from './ipvlan/driver.js';
import { MacvlanDriver } from './macvlan/driver.js';
import { LowerNetworks } from './macvlan/parents.js';
import { DEFAULT_BRIDGE_SUBNET } from './ipam.js';
import { NullDriver } from './null/driver.js';
import { overlayNetworkDriver } from './overlay/cnm.js';
import type { OverlayAgent } from './overlay/agent.js';

export interface NodeDriversOptions {
  /** The daemon's netns prefix. */
  prefix: string;
  /** A named namespace standing for the node (labs, tests); undefined: the daemon's own. */
  nodeNetns?: string;
  log?: Logger;
  /** The node's overlay agent once it is in a swarm: registers `overlay`. */
  overlay?: OverlayAgent;
}

export function nodeDrivers(opts: NodeDriversOptions): DriverRegistry {
  const registry = new DriverRegistry();
  const common = {
    prefix: opts.prefix,
    ...(opts.nodeNetns ? { nodeNetns: opts.nodeNetns } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  };
  registry.register(new BridgeDriver(common));
  // One kernel, one answer per feature for both drivers on a parent device; one index of their
  // networks, so a parent carries one network of either kind.
  const kernel = new KernelFeatures((feature) => probeKernel(opts.prefix, feature));
  const networks = new LowerNetworks();
  registry.register(new MacvlanDriver({ ...common, kernel, networks }));
  registry.register(new IpvlanDriver({ ...common, kernel, networks }));
  registry.register(new HostDriver(opts.nodeNetns ? { nodeNetnsPath: `/run/netns/${opts.nodeNetns}` } : {}));
  registry.register(new NullDriver());
  if (opts.overlay) registry.register(overlayNetworkDriver(opts.overlay));
  return registry;
}

/** The three predefined networks, given the ids the daemon stored for them (made once per node). */
export function predefinedNetworks(
  ids: { bridge: string; host: string; none: string },
  bip = DEFAULT_BRIDGE_SUBNET,
) {
  const bridge: NetworkConfig = {
    id: ids.bridge,
    name: 'bridge',
    driver: 'bridge',
    subnets: [bip],
    internal: false,
    options: { [DEFAULT_BRIDGE_OPTION]: 'true', [BRIDGE_NAME_OPTION]: DEFAULT_BRIDGE_NAME },
  };
  const host: NetworkConfig = {
    id: ids.host,
    name: 'host',
    driver: 'host',
    subnets: [],
    internal: false,
    options: {},
  };
  const none: NetworkConfig = {
    id: ids.none,
    name: 'none',
    driver: 'null',
    subnets: [],
    internal: false,
    options: {},
  };
  return [bridge, host, none];
}
