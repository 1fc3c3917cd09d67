// The overlay driver's contract as plain data: what the node should have (desired), what the kernel has
// (observed), and the steps that turn one into the other. The planner (plan.ts) is a pure function of
// the first two; the driver (driver.ts) observes, plans and runs the steps.
import type { EspKeySet } from './esp-keys.js';

/** One subnet of an overlay network; its gateway lives on the network's br0 on every node. */
export interface OverlaySubnet {
  /** CIDR, e.g. '10.0.1.0/24'. */
  subnet: string;
  /** IPv4 address inside the subnet. */
  gateway: string;
}

export interface OverlayNetwork {
  id: string;
  /** The network's VXLAN id (the store gives one per network; every subnet of it shares the segment). */
  vni: number;
  subnets: OverlaySubnet[];
  /** `--opt mtu`; undefined: the underlay's MTU minus the 50 bytes of VXLAN encapsulation. */
  mtu?: number;
  /** `--internal`: tasks on it get no gateway-bridge leg from this network (no egress). */
  internal: boolean;
  /** `--opt encrypted`: its VXLAN between nodes goes through IPsec ESP (plan-esp.ts). */
  encrypted?: boolean;
}

/** One network a local task is plugged into. */
export interface TaskAttachment {
  networkId: string;
  /** The task's address with its prefix length, e.g. '10.0.1.5/24'. */
  address: string;
  /**
   * The interface name inside the task; default eth<i> by the attachment's position. A container
   * plugged in through the CNM interface (cnm.ts) names it, since its other networks' drivers share
   * the namespace.
   */
  ifName?: string;
}

export interface LocalTask {
  taskId: string;
  /** The task's network namespace, e.g. '/run/netns/swl-t-abc' (Executor.netnsPath). */
  netnsPath: string;
  /** In the order the service names its networks: the first becomes eth0, the next eth1, ... */
  attachments: TaskAttachment[];
  /**
   * A fixed address for its gateway-bridge leg (CIDR in the bridge's subnet), for the ingress sandbox,
   * which the node's published-port DNAT targets; tasks take the lowest free one.
   */
  gatewayAddress?: string;
  /**
   * Set for an endpoint whose namespace the driver makes itself, since no runtime does (the node's
   * ingress sandbox): its name (`ownNamespaceName`), and `netnsPath` is `/run/netns/<name>`. Made with
   * lo up and IPv4 forwarding on (it routes between its legs) before its legs, and removed once no
   * desired endpoint names it.
   */
  ownNamespace?: string;
  /**
   * false: the endpoint has its way out elsewhere (a container whose default route another network's
   * driver gives): no gateway-bridge leg, so no second default route. Default: a leg as described.
   */
  egress?: false;
}

/** A task on another node, as the `overlay-peers` gossip table announces it. */
export interface RemotePeer {
  networkId: string;
  /** The remote task's overlay IPv4 address (no prefix length). */
  ip: string;
  /** Defaults to macFromIp(ip): every node derives the same MAC from the address. */
  mac?: string;
  /** The remote node's underlay address (its VTEP). */
  vtep: string;
}

/** The gateway bridge's subnet; tasks' legs get addresses from it. Docker's docker_gwbridge default. */
export interface GatewayBridgeConfig {
  subnet: string;
  gateway: string;
}

export const DEFAULT_GATEWAY_BRIDGE: GatewayBridgeConfig = { subnet: '172.18.0.0/16', gateway: '172.18.0.1' };

export interface OverlayDesiredState {
  /** This node's underlay address: the VXLAN source address and what peers use as its VTEP. */
  vtep: string;
  networks: OverlayNetwork[];
  tasks: LocalTask[];
  peers: RemotePeer[];
  gatewayBridge?: GatewayBridgeConfig;
  /** The managers' overlay IPsec keys (only a node with tasks on an encrypted network gets them). */
  esp?: EspKeySet;
  /**
   * Set while a restarted daemon re-adopts the tasks still running from before: until each attaches
   * again, the sandbox legs it left (and a sandbox holding them) may belong to a task about to come
   * back, so they are kept, except for the tasks detached since the daemon started.
   */
  adopting?: { detached: string[] };
}

// ------------------------------------------------------------------------------------------ observed

export interface ObservedVxlan {
  vni: number;
  local: string;
  port: number;
  learning: boolean;
  proxy: boolean;
  mtu: number;
  master?: string;
  up: boolean;
}

export interface ObservedBridge {
  /** 'a.b.c.d/len' */
  addresses: string[];
  mtu: number;
  up: boolean;
}

/** A veth end this driver made, identified by the label it wrote into the device's alias. */
export interface ObservedLeg {
  ifName: string;
  /** Undefined: the alias is missing or foreign, so the device is a leftover of an interrupted step. */
  label?: LegLabel;
  master?: string;
  up: boolean;
}

/** What a leg's alias records: whose it is and how its far end was configured. */
export interface LegLabel {
  taskId: string;
  /** The far (task) end's name, e.g. 'eth0' or 'gw0'. */
  taskIf: string;
  /** The far end's address with prefix length. */
  address: string;
}

export interface ObservedSandbox {
  netns: string;
  vni: number;
  bridge?: ObservedBridge;
  vxlan?: ObservedVxlan;
  /** veth ends on br0 (and any leftover veth) in the sandbox. */
  legs: ObservedLeg[];
  /** Permanent neighbor entries on vxlan0: IP → MAC. */
  neighbors: { ip: string; mac: string }[];
  /** FDB entries on vxlan0 that point at a remote VTEP. */
  fdb: { mac: string; dst: string }[];
}

export interface ObservedGatewayTable {
  chains: string[];
  /** The source prefix the postrouting chain masquerades, e.g. '172.18.0.0/16'. */
  masqueradeSource?: string;
}

export interface ObservedGateway {
  bridge?: ObservedBridge;
  /** `table inet <prefix>_gw`, when it exists. */
  nftTable?: ObservedGatewayTable;
  /** Host-side ends of tasks' gateway legs (this driver's alias). */
  legs: ObservedLeg[];
  /** Every `<prefix>_` interface name in the node's namespace, ours or not: new legs avoid them. */
  takenNames: string[];
}

/** One of the endpoint namespaces the driver makes (LocalTask.ownNamespace), as found. */
export interface ObservedOwnNamespace {
  name: string;
  loUp: boolean;
  forwarding: boolean;
}

export interface OverlayObservedState {
  /** MTU of the interface holding the VTEP address (undefined: not found; 1500 is assumed). */
  underlayMtu?: number;
  ownNamespaces: ObservedOwnNamespace[];
  sandboxes: ObservedSandbox[];
  gateway: ObservedGateway;
  /** This driver's temporary vxlan names left in the node namespace by an interrupted create. */
  strayTempVxlans: string[];
}

// ------------------------------------------------------------------------------------------- steps

/**
 * Where a command runs: the node's namespace, a sandbox (by name), a task (by path), or nowhere in
 * particular: `ip netns add/del/list` manage names under /run/netns, which must be run without entering
 * a namespace (`ip -n` enters a private mount namespace too, where a new name's bind mount would be lost).
 */
export type Where =
  { ns: 'node' } | { ns: 'sandbox'; name: string } | { ns: 'task'; path: string } | { ns: 'netns-names' };

export interface Command {
  tool: 'ip' | 'bridge' | 'nft' | 'sysctl';
  where: Where;
  args: string[];
  /** stdin (the nft ruleset). */
  input?: string;
  /** Deleting something that is already gone counts as done (cleanup of possible leftovers). */
  okIfAbsent?: boolean;
}

/** A few commands that belong together, with the reason, as logs and golden tests show them. */
export interface Step {
  why: string;
  commands: Command[];
  /**
   * Uses a name in the node's namespace that another network's step could use at the same time (the
   * vxlan device's temporary name, shortened for long prefixes): run under the driver-wide lock.
   */
  nodeExclusive?: boolean;
  /** Later steps of the same queue depend on this one: if it fails, they are not tried this sync. */
  required?: boolean;
}

/**
 * The steps of one sync, grouped by the queue that runs them: one per network, one for the gateway,
 * and one for the endpoint namespaces the driver makes, which runs before the others (making them)
 * and after them (removing them).
 */
export interface Plan {
  namespaces: OwnNamespacePlan;
  /** Keyed by sandbox namespace name. */
  networks: Map<string, Step[]>;
  gateway: Step[];
}

export interface OwnNamespacePlan {
  /** Run before the networks' and the gateway's steps: their legs go into these namespaces. */
  make: Step[];
  /** Run after them, once the legs are gone. */
  remove: Step[];
}
