// Standalone containers on the node's local networks through worker/network's CNM drivers: the
// ContainerNetworks attach point implemented as the README there says. attach = an address from
// ipam.ts (the one kept from the last attach on a replay), createEndpoint with the published ports,
// join as eth0 with the default route; detach = leave, deleteEndpoint. The endpoint id is the
// container id. `host` and `none` go through their drivers too (no address, no ports: Docker drops
// `-p` on them).
import type { DriverRegistry } from '../network/driver.js';
import { allocateAddress } from '../network/ipam.js';
import type { LocalNetworks } from '../network/local-networks.js';
import type { ContainerNetworks, NetworkAttachment, NetworkSettings } from './network.js';
import { exposedRequests, resolvePorts } from './ports.js';
import { Mutex } from '../../lib/mutex.js';

export interface CnmContainerNetworksOptions {
  networks: LocalNetworks;
  drivers: DriverRegistry;
  /** The image's `ExposedPorts` keys (`80/tcp`), for `-P`. */
  exposedPorts: (image: string) => Promise<string[]>;
  /** Host ports the node's own processes listen on (`port/proto`), never handed out by `-P`. */
  listeningPorts?: () => Promise<Set<string>>;
}

export class CnmContainerNetworks implements ContainerNetworks {
  /** Every container's settings on this node, by container id: who holds which address and port. */
  private readonly held = new Map<string, NetworkSettings>();
  private readonly busy = new Mutex();

  constructor(private readonly o: CnmContainerNetworksOptions) {}

  remember(a: NetworkAttachment): void {
    if (a.settings) this.held.set(a.containerId, a.settings);
  }

  /** Names of the containers holding an endpoint on the network. */
  usersOf(networkId: string, nameOf: (containerId: string) => string | undefined): string[] {
    return [...this.held.entries()]
      .filter(([, s]) => s.networkId === networkId)
      .map(([id]) => nameOf(id) ?? id);
  }

  // Addresses and host ports are chosen against what the others hold: one attach at a time.
  private serially<T>(work: () => Promise<T>): Promise<T> {
    return this.busy.run(work);
  }

  attach(a: NetworkAttachment): Promise<NetworkSettings> {
    return this.serially(async () => {
      const net = this.o.networks.find(a.mode);
      if (!net) throw new Error(`network ${a.mode} not found`);
      const driver = this.o.drivers.get(net.driver);
      const kept = a.settings?.networkId === net.id ? a.settings : undefined;
      const settings = kept ?? (await this.choose(a, net.id));
      await driver.createEndpoint(net.id, {
        id: a.containerId,
        ...(settings.address ? { address: settings.address } : {}),
        ...(settings.ports.length > 0 ? { ports: settings.ports } : {}),
      });
      try {
        const info = await driver.join(
          net.id,
          a.containerId,
          { id: a.containerId, netnsPath: a.netnsPath },
          { ifName: 'eth0', defaultRoute: true },
        );
        const done = { ...settings, gateway: info.gateway ?? settings.gateway, macAddress: info.mac ?? '' };
        this.held.set(a.containerId, done);
        return done;
      } catch (err) {
        if (!kept) await driver.deleteEndpoint(net.id, a.containerId).catch(() => undefined);
        throw err;
      }
    });
  }

  private async choose(a: NetworkAttachment, networkId: string): Promise<NetworkSettings> {
    const net = this.o.networks.find(networkId)!;
    const driver = this.o.drivers.get(net.driver);
    const others = [...this.held.entries()].filter(([id]) => id !== a.containerId).map(([, s]) => s);
    const subnet = net.subnets[0];
    const address =
      driver.capabilities.addressed && subnet
        ? allocateAddress(
            subnet,
            others.filter((s) => s.networkId === net.id && s.address).map((s) => s.address.split('/')[0]!),
          )
        : '';
    let ports: NetworkSettings['ports'] = [];
    if (driver.capabilities.publishes && (a.portBindings.length > 0 || a.publishAllPorts)) {
      const exposed = a.publishAllPorts ? exposedRequests(await this.o.exposedPorts(a.image)) : [];
      const taken = new Set(others.flatMap((s) => s.ports.map((p) => `${p.hostPort}/${p.protocol}`)));
      for (const p of (await this.o.listeningPorts?.()) ?? []) taken.add(p);
      ports = resolvePorts(a.portBindings, exposed, a.publishAllPorts, taken);
    }
    return {
      networkId: net.id,
      networkName: net.name,
      address,
      gateway: driver.capabilities.addressed && subnet && !net.internal ? subnet.gateway : '',
      macAddress: '',
      ports,
    };
  }

  detach(a: NetworkAttachment): Promise<void> {
    return this.serially(async () => {
      const s = this.held.get(a.containerId) ?? a.settings;
      this.held.delete(a.containerId);
      if (!s) return;
      const net = this.o.networks.find(s.networkId);
      if (!net) return;
      const driver = this.o.drivers.get(net.driver);
      await driver.leave(net.id, a.containerId);
      await driver.deleteEndpoint(net.id, a.containerId);
    });
  }
}
