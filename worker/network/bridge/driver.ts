// The bridge driver's shell (DESIGN.md §5): one Linux bridge per network with the gateway address, a
// veth per endpoint, IP forwarding, and the driver's nftables table (masquerade, isolation, internal).
// Each call observes the node's links, plans (plan.ts, pure) and runs the steps, in one queue per
// network so two calls for a network never interleave; the table has a queue of its own and is
// replaced whole from every network the driver has.
import { requireTools } from '../../../lib/exec.js';
import { errorMessage } from '../../../lib/errors.js';
import { parseAddressWithPrefix, parseCidr, overlaps } from '../../../lib/ipv4.js';
import type { Logger } from '../../../lib/log.js';
import { KeyedMutex } from '../../../lib/mutex.js';
import { NETNS_PREFIX_PATTERN } from '../../../lib/netns-prefix.js';
import { DriverBook } from '../book.js';
import { cmd, describeCommand, ipDel, NODE, runCommand } from '../commands.js';
import {
  NetworkDriverError,
  type DriverCapabilities,
  type EndpointConfig,
  type JoinInfo,
  type JoinOptions,
  type NetworkConfig,
  type NetworkDriver,
  type PortBinding,
  type Sandbox,
} from '../driver.js';
import { subnetOf } from '../ipam.js';
import { bridgeName, macFromAddress, tableName, vethName } from './names.js';
import { explainBridge, type ProgrammedBridge } from './explain.js';
import { syncTable } from './nft.js';
import { parseLinks, parseRouteSubnets } from './observe.js';
import { planBridge, planLeave, planLeg, planRemove } from './plan.js';
import type { DesiredLeg, ObservedLink, Step } from './types.js';

export interface BridgeDriverOptions {
  /** The daemon's netns prefix: names the nftables table. */
  prefix: string;
  /** A named namespace standing for the node (labs, tests); undefined: the daemon's own. */
  nodeNetns?: string;
  /** MTU of a network without one; 1500 (Docker's default). */
  defaultMtu?: number;
  log?: Logger;
}

const TABLE_QUEUE = '\0table';
const MTU_OPTION = 'com.docker.network.driver.mtu';

export class BridgeDriver implements NetworkDriver {
  readonly name = 'bridge';
  readonly capabilities: DriverCapabilities = {
    scope: 'local',
    namespace: 'own',
    exclusive: false,
    addressed: true,
    publishes: true,
  };
  private readonly book = new DriverBook(this.name);
  private readonly queues = new KeyedMutex();

  constructor(private readonly opts: BridgeDriverOptions) {
    requireTools(['ip', 'nft', 'nsenter', 'sysctl']);
    if (!NETNS_PREFIX_PATTERN.test(opts.prefix))
      throw new RangeError(`invalid netns prefix '${opts.prefix}'`);
  }

  async createNetwork(net: NetworkConfig): Promise<void> {
    const bridge = bridgeName(net);
    const mtu = this.mtuOf(net);
    this.checkNew(net, bridge);
    const known = this.book.hasNetwork(net.id);
    this.book.addNetwork(net);
    try {
      await this.queues.run(net.id, async () => {
        const want = {
          owner: this.opts.prefix,
          networkId: net.id,
          bridge,
          mtu,
          addresses: net.subnets.map((s) => `${s.gateway}/${prefixOf(s.subnet)}`),
        };
        await this.runSteps(planBridge(want, await this.links()));
      });
    } catch (err) {
      // A bridge name taken by someone else: the network was never ours to keep.
      if (!known && err instanceof NetworkDriverError) this.book.removeNetwork(net.id);
      throw err;
    }
    await this.runSteps([
      ...(net.internal ? [] : [{ why: 'IPv4 forwarding', commands: [forwarding()] }]),
      // The node reaching a published port at 127.0.0.1: the DNATed packet leaves by the bridge with a
      // loopback source, which the kernel drops without this (nft.ts masquerades it).
      {
        why: `route_localnet on ${bridge}`,
        commands: [cmd('sysctl', NODE, '-q', '-w', `net/ipv4/conf/${bridge}/route_localnet=1`)],
      },
    ]);
    await this.syncTable();
  }

  async deleteNetwork(networkId: string): Promise<void> {
    // Refused while in use; otherwise forgotten first, and the kernel cleaned even for a network not
    // known (any more): a retry after a failed removal still removes what carries its label.
    this.book.removeNetwork(networkId);
    await this.queues.run(networkId, async () =>
      this.runSteps(planRemove(this.opts.prefix, networkId, await this.links())),
    );
    await this.syncTable();
  }

  async createEndpoint(networkId: string, ep: EndpointConfig): Promise<void> {
    const net = this.book.network(networkId);
    if (!ep.address)
      throw new NetworkDriverError(`an endpoint on bridge network ${net.name} needs an address`);
    subnetOf(net, ep.address);
    this.checkPorts(net, ep);
    this.book.addEndpoint(networkId, ep);
  }

  async deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    this.book.removeEndpoint(networkId, endpointId);
  }

  async join(networkId: string, endpointId: string, sandbox: Sandbox, opts: JoinOptions): Promise<JoinInfo> {
    const net = this.book.network(networkId);
    const ep = this.book.endpoint(networkId, endpointId);
    if (ep.sandbox && ep.sandbox.id !== sandbox.id) {
      throw new NetworkDriverError(`endpoint ${endpointId} is already joined to sandbox ${ep.sandbox.id}`);
    }
    const address = ep.address!;
    // An internal network has no way out, so it never carries the default route (as in Docker).
    const gateway = opts.defaultRoute && !net.internal ? subnetOf(net, address).gateway : undefined;
    const leg: DesiredLeg = {
      owner: this.opts.prefix,
      networkId,
      endpointId,
      bridge: bridgeName(net),
      hostIf: vethName(endpointId),
      sandboxPath: sandbox.netnsPath,
      ifName: opts.ifName,
      address,
      mac: ep.mac ?? macFromAddress(address),
      mtu: this.mtuOf(net),
      ...(gateway ? { gateway } : {}),
    };
    await this.queues.run(networkId, async () => this.runSteps(planLeg(leg, await this.links())));
    Object.assign(ep, { sandbox, ifName: opts.ifName, defaultRoute: gateway !== undefined });
    if (ep.ports?.length) await this.syncTable();
    return { ifName: opts.ifName, address, mac: leg.mac, ...(gateway ? { gateway } : {}) };
  }

  async leave(networkId: string, endpointId: string): Promise<void> {
    await this.queues.run(networkId, async () =>
      this.runSteps(planLeave(this.opts.prefix, networkId, endpointId, await this.links())),
    );
    const ep = this.book.findEndpoint(networkId, endpointId);
    if (!ep?.sandbox) return;
    delete ep.sandbox;
    if (ep.ports?.length) await this.syncTable();
  }

  /** Every bridge, leg and the table this driver labelled on the node, whether it knows them or not. */
  async removeAll(): Promise<void> {
    this.book.clear();
    await this.queues.run(TABLE_QUEUE, async () => {
      await this.runSteps(planRemove(this.opts.prefix, undefined, await this.links()));
      await this.runSteps([
        { why: 'remove the nftables table', commands: [ipDelTable(tableName(this.opts.prefix))] },
      ]);
    });
  }

  /**
   * What the node has for a network, read from the kernel (`network inspect -v`): its bridge, the
   * veths on it and the table's rules that concern it; `containers` names the endpoints' owners.
   */
  async programmed(
    networkId: string,
    containers: ReadonlyMap<string, { id: string; name: string }>,
  ): Promise<ProgrammedBridge> {
    const net = this.book.network(networkId);
    const table = tableName(this.opts.prefix);
    const ruleset = await runCommand(
      { ...cmd('nft', NODE, 'list', 'table', 'inet', table), okIfAbsent: true },
      this.opts.nodeNetns,
    );
    return explainBridge({
      owner: this.opts.prefix,
      networkId,
      bridge: bridgeName(net),
      subnets: net.subnets.map((s) => s.subnet),
      links: await this.links(),
      table: ruleset ? table : '',
      ruleset,
      containers,
    });
  }

  /** The node's links as `ip -d -j addr show` reports them. */
  async links(): Promise<ObservedLink[]> {
    return parseLinks(await runCommand(cmd('ip', NODE, '-d', '-j', 'addr', 'show'), this.opts.nodeNetns));
  }

  /**
   * The subnets the node's own routes cover (its addresses' subnets included, the default route not):
   * what a new local network's subnet must not overlap (ipam.allocateSubnet's `taken`).
   */
  async nodeSubnets(): Promise<string[]> {
    const json = await runCommand(
      cmd('ip', NODE, '-4', '-j', 'route', 'show', 'table', 'all'),
      this.opts.nodeNetns,
    );
    return parseRouteSubnets(json);
  }

  private async syncTable(): Promise<void> {
    await this.queues.run(TABLE_QUEUE, async () => {
      const networks = this.book.allNetworks().map((n) => ({
        bridge: bridgeName(n),
        subnets: n.subnets.map((s) => s.subnet),
        internal: n.internal,
      }));
      const published = this.book.allNetworks().flatMap((n) =>
        this.book
          .endpointsOf(n.id)
          .filter((e) => e.sandbox)
          .flatMap((e) =>
            (e.ports ?? []).map((port) => ({ bridge: bridgeName(n), ip: e.address!.split('/')[0]!, port })),
          ),
      );
      await this.runSteps([
        {
          why: 'sync the nftables table',
          commands: [syncTable(tableName(this.opts.prefix), networks, published)],
        },
      ]);
    });
  }

  private async runSteps(steps: Step[]): Promise<void> {
    for (const step of steps) {
      this.opts.log?.debug({ step: step.why }, 'bridge step');
      for (const c of step.commands) {
        this.opts.log?.trace({ cmd: describeCommand(c, this.opts.nodeNetns) }, 'bridge command');
        try {
          await runCommand(c, this.opts.nodeNetns);
        } catch (err) {
          throw new Error(`bridge driver: ${step.why}: ${errorMessage(err)}`);
        }
      }
    }
  }

  private mtuOf(net: NetworkConfig): number {
    const text = net.options[MTU_OPTION];
    const mtu = net.mtu ?? (text !== undefined ? Number(text) : (this.opts.defaultMtu ?? 1500));
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new NetworkDriverError(`MTU ${text ?? mtu} of network ${net.name} is not between 68 and 65535`);
    }
    return mtu;
  }

  /** Published ports: well-formed, not on an internal network, no host port any other endpoint has. */
  private checkPorts(net: NetworkConfig, ep: EndpointConfig): void {
    const ports = ep.ports ?? [];
    if (ports.length > 0 && net.internal) {
      throw new NetworkDriverError(`ports cannot be published on internal network ${net.name}`);
    }
    const shown = (p: PortBinding) => `${p.hostIp ?? '0.0.0.0'}:${p.hostPort}/${p.protocol}`;
    const clash = (a: PortBinding, b: PortBinding) =>
      a.protocol === b.protocol &&
      a.hostPort === b.hostPort &&
      (a.hostIp === undefined || b.hostIp === undefined || a.hostIp === b.hostIp);
    ports.forEach((p, i) => {
      const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
      if ((p.protocol !== 'tcp' && p.protocol !== 'udp') || !valid(p.hostPort) || !valid(p.containerPort)) {
        throw new NetworkDriverError(`invalid published port ${p.hostPort}:${p.containerPort}/${p.protocol}`);
      }
      if (p.hostIp !== undefined && typeof parseAddressWithPrefix(`${p.hostIp}/32`) === 'string') {
        throw new NetworkDriverError(`invalid host address ${p.hostIp} for published port ${p.hostPort}`);
      }
      if (ports.slice(0, i).some((q) => clash(p, q))) {
        throw new NetworkDriverError(`port ${shown(p)} is published twice`);
      }
    });
    for (const other of this.book.allNetworks().flatMap((n) => this.book.endpointsOf(n.id))) {
      if (other.id === ep.id) continue;
      const taken = ports.find((p) => (other.ports ?? []).some((q) => clash(p, q)));
      if (taken) throw new NetworkDriverError(`Bind for ${shown(taken)} failed: port is already allocated`);
    }
  }

  /** A network's own consistency and its relation to the others (same bridge name, overlapping subnets). */
  private checkNew(net: NetworkConfig, bridge: string): void {
    if (net.subnets.length === 0) throw new NetworkDriverError(`bridge network ${net.name} needs a subnet`);
    const mine = net.subnets.map((s) => {
      const c = parseCidr(s.subnet);
      if (typeof c === 'string') throw new NetworkDriverError(c);
      subnetOf(net, `${s.gateway}/${c.prefix}`);
      return c;
    });
    for (const other of this.book.allNetworks()) {
      if (other.id === net.id) continue;
      if (bridgeName(other) === bridge)
        throw new NetworkDriverError(`bridge ${bridge} is already network ${other.name}'s`);
      for (const s of other.subnets) {
        const c = parseCidr(s.subnet);
        if (typeof c !== 'string' && mine.some((m) => overlaps(m, c))) {
          throw new NetworkDriverError(
            `a subnet of network ${net.name} overlaps ${s.subnet} of network ${other.name}`,
          );
        }
      }
    }
  }
}

const prefixOf = (subnet: string): number => Number(subnet.split('/')[1]);

const forwarding = () => cmd('sysctl', NODE, '-q', '-w', 'net.ipv4.ip_forward=1');

function ipDelTable(table: string) {
  return { ...ipDel(NODE), tool: 'nft' as const, args: ['delete', 'table', 'inet', table] };
}
