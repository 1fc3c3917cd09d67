// Standalone containers on the node's local networks through worker/network's CNM drivers: the
// ContainerNetworks attach point implemented as the README there says. attach (one network of the
// container) = an address from ipam.ts (the one kept from the last attach on a replay, or `--ip`),
// createEndpoint with the published ports, join as the interface and with the default route the
// engine chose (connections.ts); detach = leave, deleteEndpoint. The endpoint id is the container id
// on the network it was created on, one derived from both ids on a network it was connected to.
// `host` and `none` go through their drivers too (no address, no ports: Docker drops `-p` on them).
import type { DriverRegistry } from '../network/driver.js';
import { allocateAddress } from '../network/ipam.js';
import { PREDEFINED_NAMES, type LocalNetworks } from '../network/local-networks.js';
import { endpointIdOf, legIdentity } from './connections.js';
import type { ContainerNetworks, NetworkAttachment, NetworkFacts, NetworkSettings } from './network.js';
import { exposedRequests, resolvePorts } from './ports.js';
import type { SwarmNetworks } from './swarm-networks.js';
import { Mutex } from '../../lib/mutex.js';

export interface CnmContainerNetworksOptions {
  networks: LocalNetworks;
  drivers: DriverRegistry;
  /** The image's `ExposedPorts` keys (`80/tcp`), for `-P`. */
  exposedPorts: (image: string) => Promise<string[]>;
  /** Host ports the node's own processes listen on (`port/proto`), never handed out by `-P`. */
  listeningPorts?: () => Promise<Set<string>>;
  /** The swarm's attachable overlays, while the node is in a swarm (swarm-networks.ts). */
  swarm?: () => SwarmNetworks | undefined;
}

export class CnmContainerNetworks implements ContainerNetworks {
  /**
   * Every container's settings on this node, by container id, then network id: who holds which
   * address and port.
   */
  private readonly held = new Map<string, Map<string, NetworkSettings>>();
  private readonly busy = new Mutex();

  constructor(private readonly o: CnmContainerNetworksOptions) {}

  remember(a: NetworkAttachment): void {
    if (a.settings) this.hold(a.containerId, a.settings);
  }

  private hold(containerId: string, s: NetworkSettings): void {
    const legs = this.held.get(containerId) ?? new Map<string, NetworkSettings>();
    legs.set(s.networkId, s);
    this.held.set(containerId, legs);
  }

  private release(containerId: string, networkId: string): NetworkSettings | undefined {
    const legs = this.held.get(containerId);
    const s = legs?.get(networkId);
    legs?.delete(networkId);
    if (legs?.size === 0) this.held.delete(containerId);
    return s;
  }

  /** Names of the containers holding an endpoint on the network. */
  usersOf(networkId: string, nameOf: (containerId: string) => string | undefined): string[] {
    return [...this.held.entries()].filter(([, legs]) => legs.has(networkId)).map(([id]) => nameOf(id) ?? id);
  }

  describe(ref: string): NetworkFacts | undefined {
    const net = this.o.networks.find(ref);
    if (!net) return undefined;
    const caps = this.o.drivers.get(net.driver).capabilities;
    const userDefined = !PREDEFINED_NAMES.includes(net.name);
    return { id: net.id, name: net.name, exclusive: caps.exclusive, userDefined };
  }

  // Addresses and host ports are chosen against what the others hold: one attach at a time.
  private serially<T>(work: () => Promise<T>): Promise<T> {
    return this.busy.run(work);
  }

  attach(a: NetworkAttachment): Promise<NetworkSettings> {
    // Not a local network: a swarm overlay, whose address the managers give (no local lock needed).
    const swarm = this.o.networks.find(a.mode) ? undefined : this.o.swarm?.();
    if (swarm) return this.attachSwarm(swarm, a);
    return this.serially(async () => {
      const net = this.o.networks.find(a.mode);
      if (!net) throw new Error(`network ${a.mode} not found`);
      if (net.configOnly)
        throw new Error(
          `network ${net.name} is a configuration-only network: containers cannot use it directly; ` +
            `make a swarm network from it (network create -d macvlan --scope swarm --config-from ${net.name} NAME)`,
        );
      // The overlay driver owns that device (network/gateway-record.ts): no bridge endpoint on it.
      if (this.o.networks.isSwarmGateway(net))
        throw new Error(
          `network ${net.name} is the swarm's gateway bridge: containers cannot be attached to it`,
        );
      const driver = this.o.drivers.get(net.driver);
      const kept = a.settings?.networkId === net.id ? a.settings : undefined;
      const settings = kept ?? (await this.choose(a, net.id));
      const endpointId = endpointIdOf(settings, a.containerId);
      await driver.createEndpoint(net.id, {
        id: endpointId,
        ...(settings.address ? { address: settings.address } : {}),
        ...(settings.ports.length > 0 ? { ports: settings.ports } : {}),
      });
      try {
        const info = await driver.join(
          net.id,
          endpointId,
          { id: a.containerId, netnsPath: a.netnsPath },
          { ifName: settings.ifName ?? 'eth0', defaultRoute: a.defaultRoute ?? true },
        );
        const done = { ...settings, gateway: info.gateway ?? settings.gateway, macAddress: info.mac ?? '' };
        this.hold(a.containerId, done);
        return done;
      } catch (err) {
        if (!kept) await driver.deleteEndpoint(net.id, endpointId).catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * A swarm overlay: the managers' attachment (the same one again on a replay), then the overlay
   * driver's endpoint and join as for a local network. A failed join gives a new attachment back.
   */
  private async attachSwarm(swarm: SwarmNetworks, a: NetworkAttachment): Promise<NetworkSettings> {
    if (a.portBindings.length > 0 || a.publishAllPorts)
      throw new Error(
        `publishing ports of a container on overlay network ${a.mode} is not supported yet (publish them on a bridge network)`,
      );
    const kept = a.settings?.attachmentId ? a.settings : undefined;
    const att = await swarm.attach(kept?.networkId ?? a.mode, a.containerId, a.aliases ?? []);
    const leg = legIdentity(a.containerId, att.networkId, a.ifName);
    const endpointId = endpointIdOf(leg, a.containerId);
    const driver = await swarm.driver(att.networkId);
    try {
      await driver.createEndpoint(att.networkId, { id: endpointId, address: att.address });
      const info = await driver.join(
        att.networkId,
        endpointId,
        { id: a.containerId, netnsPath: a.netnsPath },
        { ifName: a.ifName ?? 'eth0', defaultRoute: a.defaultRoute ?? true },
      );
      const settings: NetworkSettings = {
        networkId: att.networkId,
        networkName: att.networkName,
        address: att.address,
        gateway: info.gateway ?? '',
        macAddress: info.mac ?? '',
        ports: [],
        ...leg,
        ...(a.aliases?.length ? { aliases: [...a.aliases] } : {}),
        attachmentId: att.attachmentId,
      };
      this.hold(a.containerId, settings);
      return settings;
    } catch (err) {
      if (!kept) {
        await driver.deleteEndpoint(att.networkId, endpointId).catch(() => undefined);
        await swarm.detach(att.attachmentId).catch(() => undefined);
      }
      throw err;
    }
  }

  private async choose(a: NetworkAttachment, networkId: string): Promise<NetworkSettings> {
    const net = this.o.networks.find(networkId)!;
    const driver = this.o.drivers.get(net.driver);
    // Every leg but this one: the container's legs on other networks hold their host ports too.
    const others = [...this.held.entries()].flatMap(([id, legs]) =>
      [...legs.values()].filter((s) => id !== a.containerId || s.networkId !== net.id),
    );
    const subnet = net.subnets[0];
    const address =
      driver.capabilities.addressed && subnet
        ? allocateAddress(
            subnet,
            others.filter((s) => s.networkId === net.id && s.address).map((s) => s.address.split('/')[0]!),
            a.requestedIp,
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
      ...legIdentity(a.containerId, net.id, a.ifName),
      ...(a.aliases?.length ? { aliases: [...a.aliases] } : {}),
    };
  }

  detach(a: NetworkAttachment): Promise<void> {
    return this.serially(async () => {
      const s = (a.settings && this.release(a.containerId, a.settings.networkId)) ?? a.settings;
      if (!s) return;
      if (s.attachmentId) return this.detachSwarm(s, a.containerId);
      const net = this.o.networks.find(s.networkId);
      if (!net) return;
      const driver = this.o.drivers.get(net.driver);
      await driver.leave(net.id, endpointIdOf(s, a.containerId));
      await driver.deleteEndpoint(net.id, endpointIdOf(s, a.containerId));
    });
  }

  /** The leg out of the overlay, then the address back to the managers. */
  private async detachSwarm(s: NetworkSettings, containerId: string): Promise<void> {
    const swarm = this.o.swarm?.();
    if (!swarm) throw new Error(`this node is not in a swarm: network ${s.networkName} cannot be left now`);
    const driver = await swarm.driver(s.networkId);
    await driver.leave(s.networkId, endpointIdOf(s, containerId));
    await driver.deleteEndpoint(s.networkId, endpointIdOf(s, containerId));
    await swarm.detach(s.attachmentId!);
  }
}
