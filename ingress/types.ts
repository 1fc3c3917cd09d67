// Plain inputs of the ruleset model. The daemon builds them from the store and gossip's endpoints
// table; nothing here knows where they came from, so the model stays a pure function.

export type Protocol = 'tcp' | 'udp';

/** A port published through the routing mesh: `-p 5000:80` is { tcp, 5000 → 80 }. */
export interface PublishedPort {
  protocol: Protocol;
  publishedPort: number;
  /** The port the tasks listen on. */
  targetPort: number;
  serviceId: string;
  /**
   * How long conntrack keeps an idle connection of this port (TCP established, UDP replied), where
   * the kernel default (5 days for TCP, 2 min for UDP streams) does not suit. Docker's IPVS mesh has
   * a fixed 900 s, a known pain for long-lived quiet connections.
   */
  idleTimeoutSeconds?: number;
  /**
   * Keep the client's source address: DNAT without masquerade. The replies must come back through
   * the namespace that DNATed: in host mode they do (the task's default route is this node); in the
   * ingress sandbox they do only with the return path in each task (return-path.ts).
   */
  preserveClientAddress?: boolean;
}

/** A service's virtual IP on one network. */
export interface ServiceVip {
  serviceId: string;
  networkId: string;
  address: string;
}

/** A running task of a service, by its address on one network (only live tasks belong here). */
export interface Backend {
  serviceId: string;
  networkId: string;
  address: string;
}

/** One nftables table: its name (family is always `ip`) and the `nft -f` text that replaces it. */
export interface RenderedTable {
  name: string;
  text: string;
}
