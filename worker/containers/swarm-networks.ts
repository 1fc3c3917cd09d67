// What a standalone container needs of the swarm to join an attachable overlay (`run --network NAME`
// on a node in a swarm): the managers' attachment (the address their allocator gives, Docker's way)
// and the node's overlay driver behind the CNM interface (worker/network/overlay/cnm.ts). The daemon
// implements it over the dispatcher session and the network plane (daemon/worker-role.ts).
import type { NetworkDriver } from '../network/driver.js';

export interface SwarmAttachment {
  attachmentId: string;
  networkId: string;
  networkName: string;
  /** CIDR, e.g. 10.0.1.5/24. */
  address: string;
}

export interface SwarmNetworks {
  /** Asks the managers (idempotent per container and network); rejects with their refusal. */
  attach(ref: string, containerId: string, aliases: readonly string[]): Promise<SwarmAttachment>;
  /** Gives the address back; an attachment already gone is fine. */
  detach(attachmentId: string): Promise<void>;
  /** The overlay driver, once the node's overlay for that network is ready. */
  driver(networkId: string): Promise<NetworkDriver>;
}
