// Node-local swarm networks (`network create -d macvlan|bridge --scope swarm [--config-from CFG]`), the
// node's side, as Docker's: the network is the swarm's (one name and id, in the managers' store, sent
// with the tasks), but each node plugs its tasks into its own local driver with its own settings and
// gives them addresses itself from its own range. With `--config-from CFG` the settings (subnet,
// gateway, ip range, parent, mode) are those of this node's config-only network CFG; without, the
// spec's one subnet and options, the same on every node.
//
// `nodeLocalConfig` (pure) resolves the settings; `NodeLocalSwarmNetworks` (the shell) creates the network
// in the driver when the node's first task joins it, gives each task the lowest free address of the
// range, and deletes the network when the last task leaves (so a changed config-only network takes
// effect with the next task, and the config-only network can be removed once no task is left).
import { createHash } from 'node:crypto';
import { isNodeLocalNetwork, type Network, type Task } from '../../api/objects/index.js';
import type { Logger } from '../../lib/log.js';
import { Mutex } from '../../lib/mutex.js';
import { NetworkDriverError, type DriverRegistry, type NetworkConfig } from './driver.js';
import { allocateAddress, checkSubnet } from './ipam.js';
import type { LocalNetworkRecord } from './local-store.js';

/**
 * The driver's view of swarm network `network` on this node, or why this node cannot have it (the
 * reason a task is rejected with). `local`: the node's local networks (config-only ones among them).
 */
export function nodeLocalConfig(
  network: Network,
  local: readonly LocalNetworkRecord[],
): NetworkConfig | string {
  const { spec } = network;
  const base = { id: network.id, name: spec.name, driver: spec.driver, internal: spec.internal };
  if (spec.configFrom) {
    const cfg = local.find((r) => r.name === spec.configFrom);
    if (!cfg)
      return (
        `network ${spec.name}: this node has no config-only network ${spec.configFrom} ` +
        `(make one here: network create --config-only --subnet ... -o parent=... ${spec.configFrom})`
      );
    if (!cfg.configOnly)
      return `network ${spec.name}: network ${spec.configFrom} on this node is not a config-only network (--config-only)`;
    return { ...base, subnets: cfg.subnets.map((s) => ({ ...s })), options: { ...cfg.options } };
  }
  const ipam = spec.ipam[0];
  if (!ipam) return `network ${spec.name}: no subnet and no --config-from`;
  try {
    const subnet = checkSubnet(
      {
        subnet: ipam.subnet,
        ...(ipam.gateway ? { gateway: ipam.gateway } : {}),
        ...(ipam.ipRange ? { ipRange: ipam.ipRange } : {}),
      },
      [],
    );
    return { ...base, subnets: [subnet], options: { ...spec.options } };
  } catch (err) {
    return `network ${spec.name}: ${(err as Error).message}`;
  }
}

/** The endpoint of a task on a network: stable, 64 hex as Docker's, so a repeated join is the same one. */
export const nodeLocalEndpointId = (taskId: string, networkId: string): string =>
  createHash('sha256').update(`${taskId}/${networkId}`).digest('hex');

/** A task's attachments to node-local networks, in order (their ids). */
export function nodeLocalAttachments(
  task: Pick<Task, 'networks'>,
  nodeLocal: (id: string) => boolean,
): string[] {
  return task.networks.filter((a) => nodeLocal(a.networkId)).map((a) => a.networkId);
}

export interface NodeLocalOptions {
  drivers: DriverRegistry;
  /** The node's local networks now (config-only ones among them). */
  localNetworks: () => readonly LocalNetworkRecord[];
  log: Logger;
}

interface Instance {
  config: NetworkConfig;
  /** task id → its endpoint and address. */
  endpoints: Map<string, { id: string; address: string }>;
}

export class NodeLocalSwarmNetworks {
  /** Every swarm network the assignments brought, by id (node-local ones among them). */
  private readonly specs = new Map<string, Network>();
  /** The node-local networks instantiated in their driver on this node, by id. */
  private readonly instances = new Map<string, Instance>();
  /** A task's legs, by task id: which networks, for detach. */
  private readonly legs = new Map<string, string[]>();
  /** Addresses are chosen against what the others hold: one attach or detach at a time. */
  private readonly busy = new Mutex();

  constructor(private readonly o: NodeLocalOptions) {}

  setNetworks(networks: readonly Network[]): void {
    for (const n of networks) this.specs.set(n.id, n);
  }

  /** Whether the network is a node-local one the assignments described. */
  isNodeLocal(networkId: string): boolean {
    const n = this.specs.get(networkId);
    return n !== undefined && isNodeLocalNetwork(n.spec);
  }

  /** Why this node cannot plug the task into its node-local networks, or undefined. */
  refusal(task: Pick<Task, 'networks'>): string | undefined {
    for (const id of nodeLocalAttachments(task, (n) => this.isNodeLocal(n))) {
      const resolved = nodeLocalConfig(this.specs.get(id)!, this.o.localNetworks());
      if (typeof resolved === 'string') return resolved;
    }
    return undefined;
  }

  /** The swarm networks instantiated here now (for `network rm` of a config-only network). */
  inUse(): Network[] {
    return [...this.instances.keys()].flatMap((id) => this.specs.get(id) ?? []);
  }

  /**
   * Plugs the task into its node-local networks as `eth<firstIf>`, `eth<firstIf+1>`, ...; the first one
   * carries the default route when `defaultRoute` (no overlay leg took it).
   */
  attach(task: Pick<Task, 'id' | 'networks'>, netnsPath: string, firstIf: number, defaultRoute: boolean) {
    return this.busy.run(async () => {
      const ids = nodeLocalAttachments(task, (n) => this.isNodeLocal(n));
      if (ids.length === 0) return;
      this.legs.set(task.id, ids);
      for (const [i, networkId] of ids.entries()) {
        const instance = await this.instance(networkId);
        const driver = this.o.drivers.get(instance.config.driver);
        const held = instance.endpoints.get(task.id);
        const endpoint = held ?? {
          id: nodeLocalEndpointId(task.id, networkId),
          address: allocateAddress(
            instance.config.subnets[0]!,
            [...instance.endpoints.values()].map((e) => e.address.split('/')[0]!),
          ),
        };
        instance.endpoints.set(task.id, endpoint);
        await driver.createEndpoint(networkId, { id: endpoint.id, address: endpoint.address });
        await driver.join(
          networkId,
          endpoint.id,
          { id: task.id, netnsPath },
          { ifName: `eth${firstIf + i}`, defaultRoute: defaultRoute && i === 0 },
        );
        this.o.log.info(
          { task: task.id, network: instance.config.name, address: endpoint.address },
          'task plugged into a node-local network',
        );
      }
    });
  }

  /** The task's address on a node-local network here, if it has one. */
  addressOf(taskId: string, networkId: string): string | undefined {
    return this.instances.get(networkId)?.endpoints.get(taskId)?.address;
  }

  /** Unplugs the task; a network left without tasks is deleted from its driver. */
  detach(taskId: string): Promise<void> {
    return this.busy.run(async () => {
      const ids = this.legs.get(taskId) ?? [];
      this.legs.delete(taskId);
      for (const networkId of ids) {
        const instance = this.instances.get(networkId);
        const endpoint = instance?.endpoints.get(taskId);
        if (!instance || !endpoint) continue;
        const driver = this.o.drivers.get(instance.config.driver);
        await driver.leave(networkId, endpoint.id);
        await driver.deleteEndpoint(networkId, endpoint.id);
        instance.endpoints.delete(taskId);
        if (instance.endpoints.size === 0) {
          await driver.deleteNetwork(networkId);
          this.instances.delete(networkId);
        }
      }
    });
  }

  /** The network in its driver on this node, created with this node's settings on first use. */
  private async instance(networkId: string): Promise<Instance> {
    const known = this.instances.get(networkId);
    if (known) return known;
    const spec = this.specs.get(networkId);
    if (!spec) throw new NetworkDriverError(`network ${networkId} is not known on this node`);
    const config = nodeLocalConfig(spec, this.o.localNetworks());
    if (typeof config === 'string') throw new NetworkDriverError(config);
    await this.o.drivers.get(config.driver).createNetwork(config);
    const instance: Instance = { config, endpoints: new Map() };
    this.instances.set(networkId, instance);
    return instance;
  }
}
