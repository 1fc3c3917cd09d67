// The node's local networks (DESIGN.md §5): the predefined `bridge`, `host` and `none`, and the user's
// bridges from `network create`. Kept in LocalNetworkStore; the drivers keep their state in memory, so
// `open` gives them every stored network again at daemon start (their calls are idempotent). Names and
// refusals are Docker's.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../lib/log.js';
import { NetworkDriverError, type DriverRegistry, type NetworkConfig } from './driver.js';
import { predefinedNetworks } from './drivers.js';
import { ALWAYS_RESERVED, allocateSubnet, checkSubnet } from './ipam.js';
import type { LocalNetworkRecord, LocalNetworkStore } from './local-store.js';
import { Mutex } from '../../lib/mutex.js';

export const PREDEFINED_NAMES: readonly string[] = ['bridge', 'host', 'none'];

export interface LocalNetworksOptions {
  store: LocalNetworkStore;
  drivers: DriverRegistry;
  /** Subnets of the node's routes (BridgeDriver.nodeSubnets): a new network overlaps none of them. */
  nodeSubnets: () => Promise<string[]>;
  /** false: no default `bridge` network (the daemon's `--bridge none`, as dockerd's). */
  defaultBridge: boolean;
  log: Logger;
  now?: () => string;
  /**
   * The swarm's gateway bridge while the node is in a swarm (gateway-record.ts), else undefined: listed
   * and found with the others, never stored, given to a driver, removed or attached to from here.
   */
  swarmGateway?: () => LocalNetworkRecord | undefined;
  /**
   * The swarm networks that take their settings from the config-only network of this name (as far as
   * this node knows: the managers' store on a manager, the networks of its tasks on a worker);
   * `network rm` of a config-only network is refused while any does.
   */
  configUsers?: (configName: string) => Promise<string[]>;
}

export interface CreateLocalNetwork {
  name: string;
  driver: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  internal: boolean;
  options: Record<string, string>;
  /** `--config-only`: store the settings only (the driver is ignored: `null`). */
  configOnly?: boolean;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The request's `--subnet` with its `--gateway` and `--ip-range`, as the IPAM checks them. */
function requestedSubnet(req: CreateLocalNetwork, subnet: string) {
  return {
    subnet,
    ...(req.gateway !== undefined ? { gateway: req.gateway } : {}),
    ...(req.ipRange !== undefined ? { ipRange: req.ipRange } : {}),
  };
}

export class LocalNetworks {
  private readonly records = new Map<string, LocalNetworkRecord>();
  /** One create or remove at a time: names and subnets are checked against a settled set. */
  private readonly busy = new Mutex();

  constructor(private readonly o: LocalNetworksOptions) {}

  private stamp(): string {
    return this.o.now ? this.o.now() : new Date().toISOString();
  }

  /** Reads the store, adds the predefined networks a fresh node lacks, and replays every network. */
  async open(): Promise<void> {
    const { records, problems } = this.o.store.load();
    for (const p of problems) this.o.log.warn({ file: p }, 'network record skipped');
    for (const r of records) this.records.set(r.id, r);
    const ids = { bridge: newNetworkId(), host: newNetworkId(), none: newNetworkId() };
    for (const net of predefinedNetworks(ids)) {
      if (net.name === 'bridge' && !this.o.defaultBridge) continue;
      if (this.byName(net.name)) continue;
      const record = { ...net, created: this.stamp() };
      this.o.store.save(record);
      this.records.set(record.id, record);
    }
    for (const r of this.stored()) {
      if (r.configOnly) continue; // settings only: no driver holds it
      if (r.name === 'bridge' && r.driver === 'bridge' && !this.o.defaultBridge) continue;
      await this.o.drivers
        .get(r.driver)
        .createNetwork(config(r))
        .catch((err: unknown) => this.o.log.warn({ network: r.name, err }, 'local network not replayed'));
    }
  }

  /** Every network, predefined ones first, then by name; the swarm's gateway bridge among them. */
  list(): LocalNetworkRecord[] {
    const gateway = this.o.swarmGateway?.();
    return gateway ? [...this.stored(), gateway].sort(byRank) : this.stored();
  }

  /** The swarm's gateway bridge record when `r` is it (the node is in a swarm). */
  isSwarmGateway(r: LocalNetworkRecord): boolean {
    return r.id === this.o.swarmGateway?.()?.id;
  }

  /** The networks of the store (the gateway bridge is not one). */
  private stored(): LocalNetworkRecord[] {
    return [...this.records.values()]
      .filter((r) => r.name !== 'bridge' || r.driver !== 'bridge' || this.o.defaultBridge)
      .sort(byRank);
  }

  private byName(name: string): LocalNetworkRecord | undefined {
    return this.list().find((r) => r.name === name);
  }

  /** Docker's lookup: full id, then name, then a unique id prefix; undefined when none matches. */
  find(ref: string): LocalNetworkRecord | undefined {
    if (ref === '') return undefined;
    const all = this.list();
    const exact = all.find((r) => r.id === ref) ?? all.find((r) => r.name === ref);
    if (exact) return exact;
    const prefixed = all.filter((r) => r.id.startsWith(ref));
    return prefixed.length === 1 ? prefixed[0] : undefined;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    return this.busy.run(work);
  }

  create(req: CreateLocalNetwork): Promise<LocalNetworkRecord> {
    return this.serially(async () => {
      if (!NAME.test(req.name))
        throw new NetworkDriverError(
          `invalid network name "${req.name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
        );
      if (this.byName(req.name) || PREDEFINED_NAMES.includes(req.name))
        throw new NetworkDriverError(`network with name ${req.name} already exists`);
      if (req.configOnly) return this.createConfigOnly(req);
      const driver = this.o.drivers.get(req.driver);
      if (driver.capabilities.scope !== 'local')
        throw new NetworkDriverError(`network driver '${req.driver}' is not a local driver`);
      if (!driver.capabilities.addressed)
        throw new NetworkDriverError(`only one instance of "${req.driver}" network is allowed`);
      if (req.subnet === undefined && (req.gateway !== undefined || req.ipRange !== undefined))
        throw new NetworkDriverError('--gateway and --ip-range need --subnet');
      const taken = [
        ...this.reservedAndNetworkSubnets(),
        // A macvlan's subnet is its parent's own LAN: one of the node's routes by design.
        ...(driver.capabilities.onTheWire ? [] : await this.o.nodeSubnets()),
      ];
      const subnet =
        req.subnet === undefined
          ? allocateSubnet(taken)
          : checkSubnet(requestedSubnet(req, req.subnet), taken);
      const record: LocalNetworkRecord = {
        id: newNetworkId(),
        name: req.name,
        driver: req.driver,
        subnets: [subnet],
        internal: req.internal,
        options: req.options,
        created: this.stamp(),
      };
      await driver.createNetwork(config(record));
      try {
        this.o.store.save(record);
      } catch (err) {
        await driver.deleteNetwork(record.id).catch(() => undefined);
        throw err;
      }
      this.records.set(record.id, record);
      return record;
    });
  }

  /**
   * The subnets a new network must not overlap: the reserved ranges and the node's networks. A
   * config-only network's subnet is no network yet: the swarm network made from it is checked by its
   * driver when a task plugs it in.
   */
  private reservedAndNetworkSubnets(): string[] {
    return [
      ...ALWAYS_RESERVED,
      ...this.list()
        .filter((r) => !r.configOnly)
        .flatMap((r) => r.subnets.map((s) => s.subnet)),
    ];
  }

  /**
   * `--config-only`: the settings are checked as a subnet (host bits, gateway and range inside it),
   * against the reserved ranges and the node's other networks but not its routes (a macvlan's subnet is
   * its parent's LAN), and stored; no driver is told.
   */
  private async createConfigOnly(req: CreateLocalNetwork): Promise<LocalNetworkRecord> {
    if (req.subnet === undefined)
      throw new NetworkDriverError(
        '--config-only needs --subnet (the settings the swarm network takes here)',
      );
    const subnet = checkSubnet(requestedSubnet(req, req.subnet), this.reservedAndNetworkSubnets());
    const record: LocalNetworkRecord = {
      id: newNetworkId(),
      name: req.name,
      driver: 'null',
      subnets: [subnet],
      internal: req.internal,
      options: req.options,
      created: this.stamp(),
      configOnly: true,
    };
    this.o.store.save(record);
    this.records.set(record.id, record);
    return record;
  }

  /** Removes a user network; `users` are the names of the containers on it (refused while any). */
  remove(ref: string, usersOf: (id: string) => string[]): Promise<LocalNetworkRecord> {
    return this.serially(async () => {
      const r = this.find(ref);
      if (!r) throw new NetworkDriverError(`network ${ref} not found`);
      if (PREDEFINED_NAMES.includes(r.name))
        throw new NetworkDriverError(`${r.name} is a pre-defined network and cannot be removed`);
      if (this.isSwarmGateway(r))
        throw new NetworkDriverError(
          `${r.name} is the swarm's gateway bridge (tasks' way out) and cannot be removed while the node is in a swarm; it goes when the node leaves`,
        );
      if (r.configOnly) {
        const swarmUsers = (await this.o.configUsers?.(r.name)) ?? [];
        if (swarmUsers.length > 0)
          throw new NetworkDriverError(
            `error while removing network: configuration network ${r.name} is in use by swarm network${swarmUsers.length > 1 ? 's' : ''} ${swarmUsers.join(', ')}: remove ${swarmUsers.length > 1 ? 'them' : 'it'} first`,
          );
        this.o.store.delete(r.id);
        this.records.delete(r.id);
        return r;
      }
      const users = usersOf(r.id);
      if (users.length > 0)
        throw new NetworkDriverError(
          `error while removing network: network ${r.name} id ${r.id} has active endpoints (${users.join(', ')})`,
        );
      await this.o.drivers.get(r.driver).deleteNetwork(r.id);
      this.o.store.delete(r.id);
      this.records.delete(r.id);
      return r;
    });
  }
}

const rank = (r: LocalNetworkRecord) => {
  const i = PREDEFINED_NAMES.indexOf(r.name);
  return i < 0 ? PREDEFINED_NAMES.length : i;
};
const byRank = (a: LocalNetworkRecord, b: LocalNetworkRecord) =>
  rank(a) - rank(b) || a.name.localeCompare(b.name);

export const newNetworkId = (): string => randomBytes(32).toString('hex');

/** The driver's view of a record. */
export function config(r: LocalNetworkRecord): NetworkConfig {
  const { created: _created, configOnly: _configOnly, ...net } = r;
  return net;
}
