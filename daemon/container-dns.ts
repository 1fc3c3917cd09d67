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

export interface ContainerDns {
  /** The attach point with the DNS around it: what the engine uses. */
  networks: ContainerNetworksWithDns;
  close(): Promise<void>;
}

export function openContainerDns(opts: DaemonOptions, inner: ContainerNetworks, log: Logger): ContainerDns {
  const dnsLog = log.child({ component: 'container-dns' });
  const table = new ContainerNameTable();
  const resolver = new EmbeddedDns({ source: table, upstreams: [], log: dnsLog });
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
