// `none` (Docker's `null` driver): the container keeps a network namespace of its own with only `lo`.
// Join brings lo up (a fresh namespace has it down) and plugs nothing else in.
import { requireTools } from '../../../lib/exec.js';
import { DriverBook } from '../book.js';
import { cmd, inSandbox, runCommand } from '../commands.js';
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

export class NullDriver implements NetworkDriver {
  readonly name = 'null';
  readonly capabilities: DriverCapabilities = {
    scope: 'local',
    namespace: 'own',
    exclusive: true,
    addressed: false,
  };
  private readonly book = new DriverBook(this.name);

  constructor() {
    requireTools(['ip', 'nsenter']);
  }

  async createNetwork(net: NetworkConfig): Promise<void> {
    onlyOne(this.book.allNetworks(), net, 'null');
    if (net.subnets.length > 0) throw new NetworkDriverError(`the null driver takes no subnets`);
    this.book.addNetwork(net);
  }

  async deleteNetwork(networkId: string): Promise<void> {
    this.book.removeNetwork(networkId);
  }

  async createEndpoint(networkId: string, ep: EndpointConfig): Promise<void> {
    if (ep.address) throw new NetworkDriverError(`an endpoint on a null network has no address`);
    if (ep.ports?.length) throw new NetworkDriverError(`ports cannot be published on a null network`);
    this.book.addEndpoint(networkId, ep);
  }

  async deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    this.book.removeEndpoint(networkId, endpointId);
  }

  async join(networkId: string, endpointId: string, sandbox: Sandbox, opts: JoinOptions): Promise<JoinInfo> {
    const ep = this.book.endpoint(networkId, endpointId);
    await runCommand(cmd('ip', inSandbox(sandbox.netnsPath), 'link', 'set', 'lo', 'up'));
    Object.assign(ep, { sandbox, ifName: opts.ifName, defaultRoute: false });
    return {};
  }

  async leave(networkId: string, endpointId: string): Promise<void> {
    const ep = this.book.findEndpoint(networkId, endpointId);
    if (ep) delete ep.sandbox;
  }

  async removeAll(): Promise<void> {
    this.book.clear();
  }
}

/** Docker allows one `host` and one `none` network per node. */
export function onlyOne(existing: NetworkConfig[], net: NetworkConfig, driver: string): void {
  if (existing.some((n) => n.id !== net.id)) {
    throw new NetworkDriverError(`only one instance of the '${driver}' network is allowed`);
  }
}
