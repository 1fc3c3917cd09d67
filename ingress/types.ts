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
