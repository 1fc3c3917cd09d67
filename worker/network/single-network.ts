// What the `host` and `none` drivers share: one network per node (as Docker allows), no subnets,
// endpoints without addresses or ports, nothing made on the node. They differ only in how a
// sandbox joins (`plug`): none brings up the sandbox's lo, host checks it is the node's namespace.
import { DriverBook } from './book.js';
import {
  NetworkDriverError,
  type DriverCapabilities,
  type EndpointConfig,
  type JoinInfo,
  type JoinOptions,
  type NetworkConfig,
  type NetworkDriver,
  type Sandbox,
} from './driver.js';

export abstract class SingleNetworkDriver implements NetworkDriver {
  abstract readonly name: string;
  abstract readonly capabilities: DriverCapabilities;
  /** How the network is named in errors: `host`, `none`. */
  protected abstract readonly networkName: string;
  private bookOf?: DriverBook;

  /** Makes the sandbox ready for this network (nothing is plugged in). */
  protected abstract plug(sandbox: Sandbox): Promise<void>;

  private get book(): DriverBook {
    return (this.bookOf ??= new DriverBook(this.name));
  }

  async createNetwork(net: NetworkConfig): Promise<void> {
    if (this.book.allNetworks().some((n) => n.id !== net.id))
      throw new NetworkDriverError(`only one instance of the '${this.name}' network is allowed`);
    if (net.subnets.length > 0) throw new NetworkDriverError(`the ${this.name} driver takes no subnets`);
    this.book.addNetwork(net);
  }

  async deleteNetwork(networkId: string): Promise<void> {
    this.book.removeNetwork(networkId);
  }

  async createEndpoint(networkId: string, ep: EndpointConfig): Promise<void> {
    if (ep.address)
      throw new NetworkDriverError(
        `an endpoint on the ${this.networkName} network has no address of its own`,
      );
    if (ep.ports?.length)
      throw new NetworkDriverError(`ports cannot be published on the ${this.networkName} network`);
    this.book.addEndpoint(networkId, ep);
  }

  async deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    this.book.removeEndpoint(networkId, endpointId);
  }

  async join(networkId: string, endpointId: string, sandbox: Sandbox, opts: JoinOptions): Promise<JoinInfo> {
    const ep = this.book.endpoint(networkId, endpointId);
    await this.plug(sandbox);
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
