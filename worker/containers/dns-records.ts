// Which names standalone containers answer on the embedded DNS (Docker's rule): on a user network,
// a running container's name, its short id and its `--network-alias`es resolve to its address there,
// for the containers of that same network only; the predefined `bridge`, `host` and `none` have no
// embedded DNS (the node's resolv.conf). The records are keyed per (container, network), so a
// container on several networks has one entry on each. Pure, but for ContainerNameTable, which
// holds the current entries and is the resolver's EndpointSource (dns/resolver.ts).
import { isDnsName } from '../../lib/dns-name.js';
import type { EndpointRecord, EndpointSource } from '../endpoints/records.js';
import { PREDEFINED_NAMES } from '../network/local-networks.js';
import { networksOf } from './connections.js';
import type { ContainerRecord } from './lifecycle.js';
import { shortId } from './names.js';

/** One container on one network, as that network's embedded DNS answers it. */
export interface ContainerDnsEntry {
  containerId: string;
  networkId: string;
  /** The container's name. */
  name: string;
  /** Its address on the network, without prefix length. */
  ip: string;
  /** Its short id and its aliases on this network (`--network-alias`, `network connect --alias`). */
  aliases: string[];
}

/** Whether containers on the network (by name) resolve each other through 127.0.0.11. */
export function usesEmbeddedDns(networkName: string): boolean {
  return !PREDEFINED_NAMES.includes(networkName);
}

/**
 * A container's entries: one per user network it has an address on, while it runs (a stopped,
 * restarting or removed container no longer resolves, as in Docker, where its endpoints go).
 * Names that are not DNS names (Docker allows `a..b`) are left out: they could not be answered.
 */
export function dnsEntriesOf(r: ContainerRecord): ContainerDnsEntry[] {
  if (r.state.status !== 'running') return [];
  return (networksOf(r) ?? [])
    .filter((s) => usesEmbeddedDns(s.networkName) && s.address !== '')
    .map((s) => ({
      containerId: r.id,
      networkId: s.networkId,
      name: r.name,
      ip: s.address.split('/')[0]!,
      aliases: [...new Set([shortId(r.id), ...(s.aliases ?? [])])],
    }))
    .filter((e) => isDnsName(e.name));
}

/** An entry in the shape the resolver indexes (dns/name-index.ts): a task of no service. */
export function endpointRecordOf(e: ContainerDnsEntry): EndpointRecord {
  return {
    serviceId: '',
    serviceName: '',
    taskId: e.containerId,
    taskName: e.name,
    nodeId: '',
    ip: e.ip,
    vip: '',
    endpointMode: 'dnsrr',
    aliases: e.aliases.filter((a) => isDnsName(a)),
    ports: [],
  };
}

const key = (e: ContainerDnsEntry) => JSON.stringify([e.networkId, e.name, e.ip, e.aliases]);

/** The node's containers' entries now; tells the resolver which networks' names changed. */
export class ContainerNameTable implements EndpointSource {
  private readonly byContainer = new Map<string, ContainerDnsEntry[]>();
  private readonly listeners = new Set<(networkId: string) => void>();

  /** The container's entries from now on ([] when it stopped or is gone). */
  set(containerId: string, entries: ContainerDnsEntry[]): void {
    const before = this.byContainer.get(containerId) ?? [];
    const same = before.length === entries.length && before.every((e, i) => key(e) === key(entries[i]!));
    if (same) return;
    if (entries.length > 0) this.byContainer.set(containerId, entries);
    else this.byContainer.delete(containerId);
    const changed = new Set([...before, ...entries].map((e) => e.networkId));
    for (const n of changed) for (const l of this.listeners) l(n);
  }

  entriesOf(containerId: string): ContainerDnsEntry[] {
    return this.byContainer.get(containerId) ?? [];
  }

  records(networkId: string): EndpointRecord[] {
    return [...this.byContainer.values()]
      .flat()
      .filter((e) => e.networkId === networkId)
      .map(endpointRecordOf);
  }

  onChange(listener: (networkId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
