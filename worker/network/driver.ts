// The Container Network Model (DESIGN.md §5) as one TypeScript interface every network driver
// implements: a *network* is an instance of a driver, an *endpoint* is one sandbox's leg on one
// network, a *sandbox* is a container's (or task's) network namespace. The caller (the container
// runtime's network setup, the swarm agent) keeps the objects; a driver turns them into kernel state.
//
// Lifecycle, as libnetwork's driver API has it:
//
//   createNetwork(net)                      once per network on this node (local: at `network create`;
//                                           swarm: when the first local endpoint needs it)
//   createEndpoint(netId, ep)               reserve the leg (address, MAC); no kernel state is required yet
//   join(netId, epId, sandbox, opts)        plug the leg into the sandbox as opts.ifName (eth0, eth1, ...)
//   leave(netId, epId)                      unplug it (the sandbox may already be gone: not an error)
//   deleteEndpoint(netId, epId)             forget it
//   deleteNetwork(netId)                    refused while endpoints remain
//
// Every call is idempotent (a repeated create/join converges to the same state, a repeated
// delete/leave of something gone succeeds), so a restarted daemon can replay what it knows.
// Addresses come from the caller (IPAM is not the driver's: worker/network/ipam.ts for local
// networks, the manager's allocator for swarm ones).
import { UserError } from '../../lib/errors.js';

/** Where a network's definition lives: this node only, or the swarm's Raft store. */
export type DriverScope = 'local' | 'swarm';

export interface DriverCapabilities {
  scope: DriverScope;
  /**
   * 'own': every container gets its own network namespace and the driver plugs legs into it.
   * 'node': the container shares the node's namespace (`host`): the runtime must not make one, and join
   * plugs nothing in.
   */
  namespace: 'own' | 'node';
  /** A container on this network can be on no other (`host`, `none`), as in Docker. */
  exclusive: boolean;
  /** Endpoints carry an IPv4 address (false for `host` and `none`). */
  addressed: boolean;
  /** The driver publishes an endpoint's `ports` on the node (bridge); others refuse endpoints with ports. */
  publishes?: boolean;
  /**
   * The network's subnet is the LAN of a node interface (macvlan, ipvlan on their parent), so it may
   * be one of the node's routes; other local networks must stay clear of them.
   */
  onTheWire?: boolean;
}

/** One IPv4 subnet of a network (Docker's IPAM config entry). */
export interface NetworkSubnet {
  /** CIDR, e.g. '172.19.0.0/16'. */
  subnet: string;
  /** Gateway address inside the subnet, e.g. '172.19.0.1'. */
  gateway: string;
  /** `--ip-range`: the part of the subnet dynamic addresses come from (CIDR); the whole subnet if absent. */
  ipRange?: string;
}

export interface NetworkConfig {
  /** 64 hex characters, as Docker's network ids. */
  id: string;
  name: string;
  /** The registry name of the driver ('bridge', 'overlay', 'host', 'null'). */
  driver: string;
  subnets: NetworkSubnet[];
  /** `--internal`: no traffic in or out of the network's segment beyond its own members. */
  internal: boolean;
  /** `-o com.docker.network.driver.mtu=` or `--opt mtu=`; undefined: the driver's default. */
  mtu?: number;
  /** Driver options (`-o key=value`), e.g. 'com.docker.network.bridge.name'. */
  options: Record<string, string>;
}

/** `-p [hostIp:]hostPort:containerPort[/proto]`: a port of the node forwarded to the endpoint. */
export interface PortBinding {
  protocol: 'tcp' | 'udp';
  containerPort: number;
  /** Already chosen (for `-P`, from 32768-60999, by the caller). */
  hostPort: number;
  /** Only connections to this node address; undefined: every address of the node. */
  hostIp?: string;
}

export interface EndpointConfig {
  /** Unique on this node; Docker uses 64 hex characters. */
  id: string;
  /** The address with its prefix length, e.g. '172.19.0.2/16'; absent for unaddressed drivers. */
  address?: string;
  /** 'xx:xx:xx:xx:xx:xx'; undefined: derived from the address (02:42:<address bytes>, as Docker). */
  mac?: string;
  /** Published ports (drivers whose capabilities say `publishes`); live between join and leave. */
  ports?: PortBinding[];
}

/** A container's network namespace. */
export interface Sandbox {
  /** The container (or task) id: the driver labels its devices with it. */
  id: string;
  /** The namespace file, e.g. '/run/netns/swl-c-1234' or '/proc/<pid>/ns/net'. */
  netnsPath: string;
}

export interface JoinOptions {
  /** The interface name in the sandbox: 'eth0' for the first network, 'eth1' for the next, ... */
  ifName: string;
  /**
   * Install the sandbox's default route via this network's gateway (the caller sets it for the first
   * network that has one, as Docker does). Ignored by drivers without a gateway.
   */
  defaultRoute: boolean;
}

/** What a join did, for `inspect` and for the runtime (resolv.conf, /etc/hosts). */
export interface JoinInfo {
  /** The interface in the sandbox; undefined when nothing was plugged in (`host`, `none`). */
  ifName?: string;
  address?: string;
  mac?: string;
  /** The default route's next hop, when this join installed one. */
  gateway?: string;
}

export interface NetworkDriver {
  /** The registry name (`network create -d <name>`). */
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  createNetwork(net: NetworkConfig): Promise<void>;
  deleteNetwork(networkId: string): Promise<void>;
  createEndpoint(networkId: string, ep: EndpointConfig): Promise<void>;
  deleteEndpoint(networkId: string, endpointId: string): Promise<void>;
  join(networkId: string, endpointId: string, sandbox: Sandbox, opts: JoinOptions): Promise<JoinInfo>;
  leave(networkId: string, endpointId: string): Promise<void>;
  /** Removes everything the driver made on this node (the daemon's `leave`, a lab's teardown). */
  removeAll(): Promise<void>;
}

/** An error the user caused (unknown network, duplicate endpoint, ...): shown as is, nothing changed. */
export class NetworkDriverError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkDriverError';
  }
}

/** Drivers by name: what `network create -d NAME` and a network's `driver` field look up. */
export class DriverRegistry {
  private readonly drivers = new Map<string, NetworkDriver>();

  register(driver: NetworkDriver): void {
    if (this.drivers.has(driver.name))
      throw new RangeError(`network driver '${driver.name}' registered twice`);
    this.drivers.set(driver.name, driver);
  }

  /** The driver, or a NetworkDriverError naming the ones there are. */
  get(name: string): NetworkDriver {
    const driver = this.drivers.get(name);
    if (!driver) {
      throw new NetworkDriverError(
        `unknown network driver '${name}' (available: ${[...this.drivers.keys()].sort().join(', ')})`,
      );
    }
    return driver;
  }

  has(name: string): boolean {
    return this.drivers.has(name);
  }

  names(): string[] {
    return [...this.drivers.keys()].sort();
  }
}
