// The object model every plane shares (SwarmKit's api/objects): import from here.
import type { Cluster } from './cluster.js';
import type { Network } from './network.js';
import type { Node } from './node.js';
import type { Service } from './service.js';
import type { Task } from './task.js';

export * from './object.js';
export * from './cluster.js';
export * from './node.js';
export * from './network.js';
export * from './service.js';
export * from './service-defaults.js';
export * from './task.js';

/** Every kind the swarmlite store holds, by the name used in actions, events and snapshots. */
export type SwarmObjects = {
  cluster: Cluster;
  node: Node;
  network: Network;
  service: Service;
  task: Task;
};
