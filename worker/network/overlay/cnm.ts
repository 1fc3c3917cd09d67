// The overlay driver behind the CNM interface (../driver.ts), for what plugs a namespace into a swarm
// overlay one network at a time: a standalone container on an attachable overlay (`run --network`,
// `network connect`). Service tasks keep their own path (OverlayAgent.attach, all networks of a task at
// once, from the assignment); both end in the same agent, so a container and a task on one node share
// the network's sandbox, its gossip entries and its DNS.
//
// The agent's unit is a namespace with all its overlay legs (a LocalTask), so each join or leave hands
// it the sandbox's whole current set: the agent adds what is new and withdraws what is gone. Addresses
// come from the managers' allocator (the network is swarm-scoped); the network must have reached this
// node through the assignments first. The default route: the overlay gives its way out through the
// gateway bridge (gw0), and only when one of the sandbox's overlay endpoints was joined with
// defaultRoute; otherwise another driver (a bridge network) gives it and no gw0 leg is made.
import { parseAddressWithPrefix } from '../../../lib/ipv4.js';
import {
  NetworkDriverError,
  type DriverCapabilities,
  type EndpointConfig,
  type JoinInfo,
  type JoinOptions,
  type NetworkConfig,
  type NetworkDriver,
  type Sandbox,
} from '../driver.js';
import type { OverlayAgent } from './agent.js';
import { macFromIp } from './names.js';
import type { LocalTask, TaskAttachment } from './types.js';

/** What the adapter needs of OverlayAgent (which has exactly these). */
export interface OverlayAttacher {
  knows(networkId: string): boolean;
  inSubnets(networkId: string, ip: string): boolean;
  attachLocal(local: LocalTask, name: string): Promise<void>;
  detach(taskId: string): Promise<void>;
}

interface Joined {
  endpointId: string;
  attachment: TaskAttachment;
  defaultRoute: boolean;
}

/** eth0 < eth2 < eth10: the sandbox's legs in the order of their names. */
const ifOrder = (a: Joined, b: Joined) =>
  (a.attachment.ifName ?? '').localeCompare(b.attachment.ifName ?? '', 'en', { numeric: true });

export class OverlayNetworkDriver implements NetworkDriver {
  readonly name = 'overlay';
  readonly capabilities: DriverCapabilities = {
    scope: 'swarm',
    namespace: 'own',
    exclusive: false,
    addressed: true,
  };
  private readonly endpoints = new Map<string, { networkId: string; address: string }>();
  private readonly sandboxes = new Map<string, { sandbox: Sandbox; joined: Joined[] }>();

  constructor(private readonly agent: OverlayAttacher) {}

  /** The network lives in the swarm's store; here it only has to have reached this node. */
  async createNetwork(net: NetworkConfig): Promise<void> {
    if (!this.agent.knows(net.id)) {
      throw new NetworkDriverError(
        `overlay network ${net.name} is not available on this node yet (the managers have not sent it)`,
      );
    }
  }

  async deleteNetwork(networkId: string): Promise<void> {
    const users = [...this.endpoints].filter(([, e]) => e.networkId === networkId).map(([id]) => id);
    if (users.length > 0)
      throw new NetworkDriverError(`network ${networkId} has active endpoints (${users.join(', ')})`);
  }

  async createEndpoint(networkId: string, ep: EndpointConfig): Promise<void> {
    const parsed = ep.address === undefined ? 'no address' : parseAddressWithPrefix(ep.address);
    if (typeof parsed === 'string' || !this.agent.inSubnets(networkId, ep.address!.split('/')[0]!)) {
      throw new NetworkDriverError(
        `endpoint ${ep.id} needs an address in overlay network ${networkId}'s subnets`,
      );
    }
    if (ep.ports?.length) {
      throw new NetworkDriverError(
        'publishing ports of a container on an overlay network is not supported yet (publish them on a bridge network)',
      );
    }
    const known = this.endpoints.get(ep.id);
    if (known && (known.networkId !== networkId || known.address !== ep.address)) {
      throw new NetworkDriverError(`endpoint ${ep.id} already exists`);
    }
    this.endpoints.set(ep.id, { networkId, address: ep.address! });
  }

  async deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    const ep = this.endpoints.get(endpointId);
    if (!ep || ep.networkId !== networkId) return;
    const joined = [...this.sandboxes.values()].find((s) =>
      s.joined.some((j) => j.endpointId === endpointId),
    );
    if (joined)
      throw new NetworkDriverError(`endpoint ${endpointId} is still joined to sandbox ${joined.sandbox.id}`);
    this.endpoints.delete(endpointId);
  }

  async join(networkId: string, endpointId: string, sandbox: Sandbox, opts: JoinOptions): Promise<JoinInfo> {
    const ep = this.endpoints.get(endpointId);
    if (!ep || ep.networkId !== networkId) {
      throw new NetworkDriverError(`endpoint ${endpointId} not found on network ${networkId}`);
    }
    const entry = this.sandboxes.get(sandbox.id) ?? { sandbox, joined: [] };
    if (entry.sandbox.netnsPath !== sandbox.netnsPath) {
      throw new NetworkDriverError(
        `sandbox ${sandbox.id} is already known with namespace ${entry.sandbox.netnsPath}`,
      );
    }
    const other = [...this.sandboxes.values()].find(
      (s) => s.sandbox.id !== sandbox.id && s.joined.some((j) => j.endpointId === endpointId),
    );
    if (other)
      throw new NetworkDriverError(`endpoint ${endpointId} is already joined to sandbox ${other.sandbox.id}`);
    const joined: Joined = {
      endpointId,
      attachment: { networkId, address: ep.address, ifName: opts.ifName },
      defaultRoute: opts.defaultRoute,
    };
    const next = [...entry.joined.filter((j) => j.endpointId !== endpointId), joined].sort(ifOrder);
    await this.agent.attachLocal(this.localTask(sandbox, next), sandbox.id);
    this.sandboxes.set(sandbox.id, { sandbox, joined: next });
    return { ifName: opts.ifName, address: ep.address, mac: macFromIp(ep.address.split('/')[0]!) };
  }

  async leave(networkId: string, endpointId: string): Promise<void> {
    for (const [id, entry] of this.sandboxes) {
      if (!entry.joined.some((j) => j.endpointId === endpointId && j.attachment.networkId === networkId))
        continue;
      const rest = entry.joined.filter((j) => j.endpointId !== endpointId);
      if (rest.length === 0) {
        await this.agent.detach(id);
        this.sandboxes.delete(id);
      } else {
        await this.agent.attachLocal(this.localTask(entry.sandbox, rest), id);
        this.sandboxes.set(id, { sandbox: entry.sandbox, joined: rest });
      }
    }
  }

  /** Unplugs every sandbox this adapter plugged in (the overlay's own removeAll is the agent's). */
  async removeAll(): Promise<void> {
    for (const id of [...this.sandboxes.keys()]) {
      await this.agent.detach(id);
      this.sandboxes.delete(id);
    }
    this.endpoints.clear();
  }

  private localTask(sandbox: Sandbox, joined: Joined[]): LocalTask {
    return {
      taskId: sandbox.id,
      netnsPath: sandbox.netnsPath,
      attachments: joined.map((j) => j.attachment),
      ...(joined.some((j) => j.defaultRoute) ? {} : { egress: false as const }),
    };
  }
}

/** The adapter over the node's overlay agent (the type check that the agent is an OverlayAttacher). */
export const overlayNetworkDriver = (agent: OverlayAgent): OverlayNetworkDriver =>
  new OverlayNetworkDriver(agent);
