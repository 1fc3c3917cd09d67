// The embedded DNS of the node's standalone containers (worker/containers/dns-attach.ts): one
// resolver of dns/ (the class service tasks use, here with the containers' names as its source)
// serving 127.0.0.11 in every container on a user network, forwarding the rest to the container's
// `--dns` or the nameservers of the daemon's --resolv-conf, re-read as each container attaches. It
// lives with the daemon, swarm or not.
import { readFile } from 'node:fs/promises';
import type { Logger } from '../lib/log.js';
import { EmbeddedDns } from '../dns/resolver.js';
import { upstreamsFromResolvConf } from '../dns/resolv-conf.js';
import { ContainerNetworksWithDns } from '../worker/containers/dns-attach.js';
import { ContainerNameTable } from '../worker/containers/dns-records.js';
import type { ContainerNetworks } from '../worker/containers/network.js';
import type { DaemonOptions } from './options.js';
import type { EndpointRecord, EndpointSource } from '../worker/endpoints/records.js';

export interface ContainerDns {
  /** The attach point with the DNS around it: what the engine uses. */
  networks: ContainerNetworksWithDns;
  close(): Promise<void>;
}

/**
 * The swarm's side, for containers on attachable overlays (daemon/worker-role.ts): what the overlay's
 * tasks announce, and where this node's containers are announced so the tasks resolve them.
 */
export interface SwarmEndpoints {
  source: EndpointSource;
  /** A swarm overlay one of this node's containers was attached to. */
  isOverlay(networkId: string): boolean;
  announce(networkId: string, containerId: string, record: EndpointRecord | undefined): void;
}

/**
 * The resolver's source: the node's containers, and on an overlay also the swarm's records (services,
 * VIPs, tasks, other nodes' containers); the node's own containers are answered from the table only.
 * Every change of the table on an overlay is announced into the swarm's records.
 */
function withSwarm(table: ContainerNameTable, swarm: SwarmEndpoints): EndpointSource {
  const announced = new Map<string, Set<string>>();
  table.onChange((networkId) => {
    if (!swarm.isOverlay(networkId) && !announced.has(networkId)) return;
    const now = new Map(table.records(networkId).map((r) => [r.taskId, r]));
    for (const [id, r] of now) swarm.announce(networkId, id, r);
    for (const id of announced.get(networkId) ?? [])
      if (!now.has(id)) swarm.announce(networkId, id, undefined);
    announced.set(networkId, new Set(now.keys()));
  });
  return {
    records: (networkId) => {
      const own = table.records(networkId);
      const mine = new Set(own.map((r) => r.taskId));
      return [...own, ...swarm.source.records(networkId).filter((r) => !mine.has(r.taskId))];
    },
    onChange: (listener) => {
      const a = table.onChange(listener);
      const b = swarm.source.onChange(listener);
      return () => {
        a();
        b();
      };
    },
  };
}

export function openContainerDns(
  opts: DaemonOptions,
  inner: ContainerNetworks,
  log: Logger,
  swarm?: SwarmEndpoints,
): ContainerDns {
  const dnsLog = log.child({ component: 'container-dns' });
  const table = new ContainerNameTable();
  const source = swarm ? withSwarm(table, swarm) : table;
  const resolver = new EmbeddedDns({ source, upstreams: [], log: dnsLog });
  const networks = new ContainerNetworksWithDns(inner, {
    resolver,
    table,
    log: dnsLog,
    nodeUpstreams: async () => {
      try {
        return upstreamsFromResolvConf(await readFile(opts.resolvConf, 'utf8'));
      } catch (err) {
        dnsLog.warn({ err, file: opts.resolvConf }, 'no upstream resolvers: names outside the node fail');
        return [];
      }
    },
  });
  return { networks, close: () => resolver.close() };
}
