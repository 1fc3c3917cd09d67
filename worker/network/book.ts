// The networks and endpoints a local driver was told about, with the checks every driver makes the
// same way (unknown network, endpoint created twice with different settings, network deleted while
// in use). Plain data in memory: the caller owns the objects and replays them after a restart.
import { NetworkDriverError, type EndpointConfig, type NetworkConfig, type Sandbox } from './driver.js';

export interface BookedEndpoint extends EndpointConfig {
  networkId: string;
  /** Set between join and leave. */
  sandbox?: Sandbox;
  ifName?: string;
  defaultRoute?: boolean;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export class DriverBook {
  private readonly networks = new Map<string, NetworkConfig>();
  private readonly endpoints = new Map<string, BookedEndpoint>();

  constructor(private readonly driverName: string) {}

  /** Adds a network; the same one again is a no-op, a different one under the same id is refused. */
  addNetwork(net: NetworkConfig): void {
    const known = this.networks.get(net.id);
    if (known && !same(known, net)) {
      throw new NetworkDriverError(`network ${net.id} already exists with other settings`);
    }
    this.networks.set(net.id, net);
  }

  network(id: string): NetworkConfig {
    const net = this.networks.get(id);
    if (!net) throw new NetworkDriverError(`network ${id} not found (driver ${this.driverName})`);
    return net;
  }

  hasNetwork(id: string): boolean {
    return this.networks.has(id);
  }

  allNetworks(): NetworkConfig[] {
    return [...this.networks.values()];
  }

  /** Removes a network; refused while it has endpoints, a no-op when it is not known. */
  removeNetwork(id: string): boolean {
    if (!this.networks.has(id)) return false;
    const users = this.endpointsOf(id).map((e) => e.id);
    if (users.length > 0) {
      throw new NetworkDriverError(`network ${id} has active endpoints (${users.join(', ')})`);
    }
    this.networks.delete(id);
    return true;
  }

  addEndpoint(networkId: string, ep: EndpointConfig): BookedEndpoint {
    this.network(networkId);
    const known = this.endpoints.get(ep.id);
    if (known) {
      if (
        known.networkId === networkId &&
        known.address === ep.address &&
        known.mac === ep.mac &&
        same(known.ports ?? [], ep.ports ?? [])
      ) {
        return known;
      }
      throw new NetworkDriverError(`endpoint ${ep.id} already exists`);
    }
    const booked: BookedEndpoint = { ...ep, networkId };
    this.endpoints.set(ep.id, booked);
    return booked;
  }

  endpoint(networkId: string, id: string): BookedEndpoint {
    const ep = this.endpoints.get(id);
    if (!ep || ep.networkId !== networkId) {
      throw new NetworkDriverError(`endpoint ${id} not found on network ${networkId}`);
    }
    return ep;
  }

  findEndpoint(networkId: string, id: string): BookedEndpoint | undefined {
    const ep = this.endpoints.get(id);
    return ep && ep.networkId === networkId ? ep : undefined;
  }

  endpointsOf(networkId: string): BookedEndpoint[] {
    return [...this.endpoints.values()].filter((e) => e.networkId === networkId);
  }

  /** Removes an endpoint; refused while joined, a no-op when it is not known. */
  removeEndpoint(networkId: string, id: string): void {
    const ep = this.findEndpoint(networkId, id);
    if (!ep) return;
    if (ep.sandbox)
      throw new NetworkDriverError(`endpoint ${id} is still joined to sandbox ${ep.sandbox.id}`);
    this.endpoints.delete(id);
  }

  clear(): void {
    this.networks.clear();
    this.endpoints.clear();
  }
}
