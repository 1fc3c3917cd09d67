// The macvlan driver's shell, and the base the ipvlan driver (../ipvlan/driver.ts) shares: containers
// appear on the parent's wire with addresses of their own. A network is a parent device in the node's
// namespace (the user's `-o parent`, a VLAN sub-interface `eth0.N` the driver makes, or Docker's dummy
// when no parent is given); a join makes a macvlan (ipvlan) device on it, moves it into the sandbox
// and sets it up there. Each call observes, plans (plan.ts, pure) and runs, one queue per network.
// Kernel features a network needs (802.1Q, dummy; ipvlan for the other driver) are asked of the
// kernel first (kernel.ts) and their absence refused by name. What differs between the two kinds is
// the leg (macvlanLeg, ipvlanLeg: pure), the endpoint's checks and the ipvlan kernel check.
import { requireTools, isAbsentError } from '../../../lib/exec.js';
import { errorMessage } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/log.js';
import { KeyedMutex } from '../../../lib/mutex.js';
import { NETNS_PREFIX_PATTERN } from '../../../lib/netns-prefix.js';
import { DriverBook } from '../book.js';
import { parseLinks } from '../bridge/observe.js';
import type { ObservedLink, Step } from '../bridge/types.js';
import { cmd, describeCommand, inSandbox, NODE, runCommand, type Where } from '../commands.js';
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
import { subnetOf } from '../ipam.js';
import { KernelFeatures, missingFeature, probeKernel } from './kernel.js';
import type { LowerKind } from './names.js';
import {
  featureFor,
  joinInfoOf,
  macvlanLeg,
  parentWork,
  planJoin,
  planLeave,
  planParent,
  planRemove,
  type DesiredLeg,
  type LegRequest,
} from './plan.js';
import { LowerNetworks } from './parents.js';
import { checkAgainstOthers, settingsOf } from './settings.js';

export interface LowerDriverOptions {
  /** The daemon's prefix: the owner in the labels, and the start of the kernel probes' namespaces. */
  prefix: string;
  /** A named namespace standing for the node (labs, tests); undefined: the daemon's own. */
  nodeNetns?: string;
  /** Shared by a node's macvlan and ipvlan drivers so each feature is probed once; default a new one. */
  kernel?: KernelFeatures;
  /** Shared by a node's macvlan and ipvlan drivers so a parent carries one network of either kind. */
  networks?: LowerNetworks;
  log?: Logger;
}

export abstract class LowerDeviceDriver implements NetworkDriver {
  abstract readonly name: LowerKind;
  readonly capabilities: DriverCapabilities = {
    scope: 'local',
    namespace: 'own',
    exclusive: false,
    addressed: true,
    onTheWire: true,
  };
  private bookOf?: DriverBook;
  private readonly queues = new KeyedMutex();
  protected readonly kernel: KernelFeatures;
  private readonly lower: LowerNetworks;

  constructor(private readonly opts: LowerDriverOptions) {
    requireTools(['ip', 'nsenter']);
    if (!NETNS_PREFIX_PATTERN.test(opts.prefix))
      throw new RangeError(`invalid netns prefix '${opts.prefix}'`);
    this.kernel = opts.kernel ?? new KernelFeatures((f) => probeKernel(opts.prefix, f));
    this.lower = opts.networks ?? new LowerNetworks();
  }

  /** The device a join makes, from what it is asked (pure: macvlanLeg, ipvlanLeg). */
  protected abstract legOf(r: LegRequest): DesiredLeg;

  /** A kind's own refusals of a new network, before anything is looked at on the node. */
  protected async checkNetwork(_net: NetworkConfig): Promise<void> {}

  /** A kind's own refusals of an endpoint (beyond an address in the network and no ports). */
  protected checkEndpoint(_net: NetworkConfig, _ep: EndpointConfig): void {}

  private get book(): DriverBook {
    return (this.bookOf ??= new DriverBook(this.name));
  }

  async createNetwork(net: NetworkConfig): Promise<void> {
    const kind = this.name;
    const s = settingsOf(kind, net);
    await this.checkNetwork(net);
    // Checked and booked under one lock for the node's macvlan and ipvlan networks, so two networks
    // created at once cannot both take the same parent or overlapping subnets.
    await this.lower.lock.run(() =>
      this.queues.run(net.id, async () => {
        checkAgainstOthers(kind, net, s, this.lower.all());
        const work = parentWork(kind, this.opts.prefix, net.id, s, await this.nodeLinks());
        const feature = featureFor(work);
        if (feature && !(await this.kernel.has(feature))) {
          throw work.make === 'vlan'
            ? missingFeature(
                feature,
                `parent ${s.parent} (VLAN ${work.id} on ${work.base}, made by the driver)`,
              )
            : missingFeature(
                feature,
                `${kind} network ${net.name} without -o parent (Docker's dummy parent ${s.parent})`,
                'give -o parent=IFACE',
              );
        }
        this.book.addNetwork(net);
        this.lower.add(kind, net);
        await this.runSteps(planParent(kind, this.opts.prefix, net.id, s, work));
      }),
    );
  }

  async deleteNetwork(networkId: string): Promise<void> {
    // Refused while in use; otherwise forgotten first, and what carries its label removed even for a
    // network not known (any more), so a retry after a failed removal finishes it.
    this.book.removeNetwork(networkId);
    this.lower.remove(networkId);
    await this.queues.run(networkId, async () =>
      this.runSteps(planRemove(this.name, this.opts.prefix, networkId, await this.nodeLinks())),
    );
  }

  async createEndpoint(networkId: string, ep: EndpointConfig): Promise<void> {
    const net = this.book.network(networkId);
    if (!ep.address)
      throw new NetworkDriverError(`an endpoint on ${this.name} network ${net.name} needs an address`);
    subnetOf(net, ep.address);
    if (ep.ports?.length)
      throw new NetworkDriverError(`ports cannot be published on ${this.name} network ${net.name}`);
    this.checkEndpoint(net, ep);
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
    const leg = this.legOf({
      owner: this.opts.prefix,
      networkId,
      endpointId,
      settings: settingsOf(this.name, net),
      sandboxPath: sandbox.netnsPath,
      ifName: opts.ifName,
      address,
      gateway: subnetOf(net, address).gateway,
      defaultRoute: opts.defaultRoute,
      ...(ep.mac ? { mac: ep.mac } : {}),
    });
    await this.queues.run(networkId, async () => {
      const sandboxLinks = await this.links(inSandbox(sandbox.netnsPath));
      await this.runSteps(planJoin(leg, await this.nodeLinks(), sandboxLinks));
    });
    Object.assign(ep, { sandbox, ifName: opts.ifName, defaultRoute: leg.route !== undefined });
    return joinInfoOf(leg);
  }

  async leave(networkId: string, endpointId: string): Promise<void> {
    const ep = this.book.findEndpoint(networkId, endpointId);
    await this.queues.run(networkId, () => this.unplug(networkId, endpointId, ep?.sandbox));
    if (ep) delete ep.sandbox;
  }

  /** The legs of the endpoints it knows, then every labelled device on the node, whatever its network. */
  async removeAll(): Promise<void> {
    for (const net of this.book.allNetworks()) {
      for (const ep of this.book.endpointsOf(net.id)) {
        await this.queues.run(net.id, () => this.unplug(net.id, ep.id, ep.sandbox));
      }
    }
    for (const net of this.book.allNetworks()) this.lower.remove(net.id);
    this.book.clear();
    await this.runSteps(planRemove(this.name, this.opts.prefix, undefined, await this.nodeLinks()));
  }

  private async unplug(networkId: string, endpointId: string, sandbox: Sandbox | undefined): Promise<void> {
    let inside: { path: string; links: ObservedLink[] } | undefined;
    if (sandbox) {
      try {
        inside = { path: sandbox.netnsPath, links: await this.links(inSandbox(sandbox.netnsPath)) };
      } catch (err) {
        // The sandbox is gone, and its devices with it.
        if (!isAbsentError(err)) throw err;
      }
    }
    await this.runSteps(
      planLeave(this.name, this.opts.prefix, networkId, endpointId, await this.nodeLinks(), inside),
    );
  }

  /** The node's links as `ip -d -j addr show` reports them. */
  nodeLinks(): Promise<ObservedLink[]> {
    return this.links(NODE);
  }

  private async links(where: Where): Promise<ObservedLink[]> {
    return parseLinks(await runCommand(cmd('ip', where, '-d', '-j', 'addr', 'show'), this.opts.nodeNetns));
  }

  private async runSteps(steps: Step[]): Promise<void> {
    for (const step of steps) {
      this.opts.log?.debug({ step: step.why }, `${this.name} step`);
      for (const c of step.commands) {
        this.opts.log?.trace({ cmd: describeCommand(c, this.opts.nodeNetns) }, `${this.name} command`);
        try {
          await runCommand(c, this.opts.nodeNetns);
        } catch (err) {
          throw new Error(`${this.name} driver: ${step.why}: ${errorMessage(err)}`);
        }
      }
    }
  }
}

/** `-d macvlan`: modes bridge (default), private, vepa, passthru. */
export class MacvlanDriver extends LowerDeviceDriver {
  readonly name = 'macvlan' as const;

  protected legOf(r: LegRequest): DesiredLeg {
    return macvlanLeg(r);
  }
}
