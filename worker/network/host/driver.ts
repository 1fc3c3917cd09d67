// `host`: the container shares the node's network namespace. The runtime makes no namespace for it
// (capabilities.namespace = 'node'); join checks that it was handed the node's own namespace and
// plugs nothing in, so the container sees the node's interfaces, addresses and ports as they are.
import { statSync } from 'node:fs';
import { DriverBook } from '../book.js';
import { onlyOne } from '../null/driver.js';
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

export interface HostDriverOptions {
  /** The node's namespace file; default the daemon's own (`/proc/<pid>/ns/net`). */
  nodeNetnsPath?: string;
}

/** Two namespace files name the same namespace when they are the same inode on the same nsfs device. */
function sameNamespace(a: string, b: string): boolean {
  const x = statSync(a);
  const y = statSync(b);
  return x.dev === y.dev && x.ino === y.ino;
}

export class HostDriver implements NetworkDriver {
  readonly name = 'host';
  readonly capabilities: DriverCapabilities = {
    scope: 'local',
    namespace: 'node',
    exclusive: true,
    addressed: false,
  };
  private readonly book = new DriverBook(this.name);
  private readonly nodeNetnsPath: string;

  constructor(opts: HostDriverOptions = {}) {
    this.nodeNetnsPath = opts.nodeNetnsPath ?? `/proc/${process.pid}/ns/net`;
  }

  async createNetwork(net: NetworkConfig): Promise<void> {
    onlyOne(this.book.allNetworks(), net, 'host');
    if (net.subnets.length > 0) throw new NetworkDriverError(`the host driver takes no subnets`);
    this.book.addNetwork(net);
  }

  async deleteNetwork(networkId: string): Promise<void> {
    this.book.removeNetwork(networkId);
  }

  async createEndpoint(networkId: string, ep: EndpointConfig): Promise<void> {
    if (ep.address) throw new NetworkDriverError(`an endpoint on the host network has no address of its own`);
    if (ep.ports?.length) throw new NetworkDriverError(`ports cannot be published on the host network`);
    this.book.addEndpoint(networkId, ep);
  }

  async deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    this.book.removeEndpoint(networkId, endpointId);
  }

  async join(networkId: string, endpointId: string, sandbox: Sandbox, opts: JoinOptions): Promise<JoinInfo> {
    const ep = this.book.endpoint(networkId, endpointId);
    if (!sameNamespace(sandbox.netnsPath, this.nodeNetnsPath)) {
      throw new NetworkDriverError(
        `container ${sandbox.id} on the host network must run in the node's network namespace, not ${sandbox.netnsPath}`,
      );
    }
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
