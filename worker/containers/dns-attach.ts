// The embedded DNS of standalone containers on user networks, around the attach point (network.ts):
// the first attach to a user network also opens the container's 127.0.0.11 sockets (the resolver's
// attachTask, the same machinery as service tasks'), before its process starts; each attach or
// detach of a user network (run, connect, disconnect) changes the networks its queries are answered
// from, in the container's network order. Which names resolve follows the records (`observe`, the
// engine's onRecord): a container's names are in ContainerNameTable while it runs. The sockets stay
// across a stop, as the namespace does, and after its last user network is disconnected (its
// resolv.conf still says 127.0.0.11: other names are still forwarded); they close at its removal.
import type { Logger } from '../../lib/log.js';
import { dnsEntriesOf, usesEmbeddedDns, type ContainerNameTable } from './dns-records.js';
import type { ContainerRecord } from './lifecycle.js';
import type { ContainerNetworks, NetworkAttachment, NetworkFacts, NetworkSettings } from './network.js';

/** What this needs of the resolver (dns/resolver.ts EmbeddedDns). */
export interface ContainerResolver {
  attachTask(t: {
    taskId: string;
    netnsPath: string;
    networkIds: string[];
    nameservers: string[];
  }): Promise<void>;
  updateTask(taskId: string, networkIds: string[]): void;
  detachTask(taskId: string): void;
}

export interface ContainerDnsOptions {
  resolver: ContainerResolver;
  table: ContainerNameTable;
  /** The node's upstreams now (its resolv.conf's nameservers), for containers without `--dns`. */
  nodeUpstreams: () => Promise<string[]>;
  log: Logger;
}

/** Tries of a socket attach before the container goes on without names (as tasks do). */
const TRIES = 3;

export class ContainerNetworksWithDns implements ContainerNetworks {
  /** Each container's user networks, in attach (= its connect) order: what its queries see. */
  private readonly dnsNetworks = new Map<string, string[]>();

  constructor(
    private readonly inner: ContainerNetworks,
    private readonly o: ContainerDnsOptions,
  ) {}

  remember(a: NetworkAttachment): void {
    this.inner.remember?.(a);
  }

  describe(ref: string): NetworkFacts | undefined {
    return this.inner.describe?.(ref);
  }

  async attach(a: NetworkAttachment): Promise<NetworkSettings | undefined> {
    const settings = await this.inner.attach(a);
    if (settings && usesEmbeddedDns(settings.networkName)) {
      const ids = this.dnsNetworks.get(a.containerId) ?? [];
      if (!ids.includes(settings.networkId)) ids.push(settings.networkId);
      this.dnsNetworks.set(a.containerId, ids);
      await this.attachDns(a, ids);
    }
    return settings;
  }

  async detach(a: NetworkAttachment): Promise<void> {
    const networkId = a.settings?.networkId;
    if (networkId !== undefined) {
      // Its names there go at once, not at the record's next save.
      const rest = this.o.table.entriesOf(a.containerId).filter((e) => e.networkId !== networkId);
      this.o.table.set(a.containerId, rest);
      const ids = (this.dnsNetworks.get(a.containerId) ?? []).filter((n) => n !== networkId);
      this.dnsNetworks.set(a.containerId, ids);
      this.o.resolver.updateTask(a.containerId, ids);
    }
    await this.inner.detach(a);
  }

  /** A record changed (undefined: removed): its names are answered while it runs. */
  observe(id: string, r: ContainerRecord | undefined): void {
    this.o.table.set(id, r ? dnsEntriesOf(r) : []);
    if (r) return;
    this.dnsNetworks.delete(id);
    this.o.resolver.detachTask(id);
  }

  /** Failing costs the container its names, not its start: logged, retried, then given up. */
  private async attachDns(a: NetworkAttachment, networkIds: string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.resolver.attachTask({
          taskId: a.containerId,
          netnsPath: a.netnsPath,
          networkIds: [...networkIds],
          nameservers: a.dns?.length ? a.dns : await this.o.nodeUpstreams(),
        });
        return;
      } catch (err) {
        this.o.log.warn({ err, container: a.containerName, attempt }, 'embedded DNS not attached');
        if (attempt >= TRIES) return;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }
}
