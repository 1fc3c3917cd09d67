// The names one network answers, as a pure function of its endpoint records (worker/endpoints): built
// again whenever the network's records change, then read by every query from a task on it. Keys are
// lower case without a trailing dot, as lookups normalize them (DNS names are case-insensitive).
import type { EndpointRecord } from '../worker/endpoints/records.js';

/** The addresses one name answers with. */
export interface NameEntry {
  ips: readonly string[];
  /** dnsrr services, `tasks.<service>` and shared aliases: clients get the order shuffled. */
  shuffle: boolean;
  ttl: number;
}

export interface NetworkIndex {
  /** `web`, `tasks.web`, `web.1.<task id>`, aliases → addresses. */
  names: ReadonlyMap<string, NameEntry>;
  /** `4.3.2.1.in-addr.arpa` → the names of that address (task name and aliases, or service for a VIP). */
  ptr: ReadonlyMap<string, readonly string[]>;
}

// A VIP lives as long as its service, so it may be cached a while; everything derived from running
// tasks changes as tasks come and go, and a resolver that answered a stopped task's address from a
// cache would undo the "gone everywhere at once" rule (DESIGN.md §5). Docker uses 600 s for both.
export const VIP_TTL = 60;
export const TASK_TTL = 0;

export const EMPTY_INDEX: NetworkIndex = { names: new Map(), ptr: new Map() };

/** `10.0.1.5` → `5.1.0.10.in-addr.arpa`. */
export function reverseName(ipv4: string): string {
  return `${ipv4.split('.').reverse().join('.')}.in-addr.arpa`;
}

/**
 * One network's names. When two kinds of name collide, the more specific wins, in this order: a service
 * name, `tasks.<service>`, a task name, an alias (so an alias can never hijack a service's name).
 * Address lists are sorted and deduplicated, so the index is the same whatever order records arrive in.
 */
export function buildNetworkIndex(records: readonly EndpointRecord[]): NetworkIndex {
  const services = new Map<string, { vips: Set<string>; dnsrr: boolean; ips: Set<string> }>();
  const taskNames = new Map<string, Set<string>>();
  const aliases = new Map<string, Set<string>>();
  const ptr = new Map<string, string[]>();
  const addTo = (m: Map<string, Set<string>>, k: string, v: string) => {
    const set = m.get(k) ?? new Set<string>();
    set.add(v);
    m.set(k, set);
  };
  const addPtr = (ip: string, name: string) => {
    const key = reverseName(ip);
    const names = ptr.get(key) ?? [];
    if (!names.includes(name)) names.push(name);
    ptr.set(key, names);
  };

  const sorted = [...records].sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
  for (const r of sorted) {
    const service = r.serviceName.toLowerCase();
    // A standalone container (worker/containers/dns-records.ts) is a task of no service: its name
    // and aliases only, no service or `tasks.` name.
    if (service !== '') {
      const s = services.get(service) ?? { vips: new Set<string>(), dnsrr: false, ips: new Set<string>() };
      s.ips.add(r.ip);
      if (r.endpointMode === 'dnsrr') s.dnsrr = true;
      else if (r.vip) s.vips.add(r.vip);
      services.set(service, s);
    }
    addTo(taskNames, r.taskName.toLowerCase(), r.ip);
    for (const a of r.aliases) addTo(aliases, a.toLowerCase(), r.ip);
    addPtr(r.ip, r.taskName.toLowerCase());
    for (const a of r.aliases) addPtr(r.ip, a.toLowerCase());
    if (r.endpointMode === 'vip' && r.vip) addPtr(r.vip, service);
  }

  const names = new Map<string, NameEntry>();
  const put = (name: string, ips: Iterable<string>, shuffle: boolean, ttl: number) => {
    if (names.has(name)) return;
    const list = sortIps(ips);
    names.set(name, { ips: list, shuffle: shuffle && list.length > 1, ttl });
  };
  for (const [name, s] of services) {
    // A service in the middle of a mode change may have records of both modes: the VIP wins.
    if (s.vips.size > 0) put(name, s.vips, false, VIP_TTL);
    else put(name, s.ips, true, TASK_TTL);
  }
  for (const [name, s] of services) put(`tasks.${name}`, s.ips, true, TASK_TTL);
  for (const [name, ips] of taskNames) put(name, ips, false, TASK_TTL);
  for (const [name, ips] of aliases) put(name, ips, true, TASK_TTL);
  return { names, ptr };
}

function sortIps(ips: Iterable<string>): string[] {
  const key = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  return [...new Set(ips)].sort((a, b) => key(a) - key(b));
}

/** Every name and reverse name any of these networks answers: what this node "owns". */
export function ownedNames(indexes: Iterable<NetworkIndex>): Set<string> {
  const owned = new Set<string>();
  for (const idx of indexes) {
    for (const name of idx.names.keys()) owned.add(name);
    for (const name of idx.ptr.keys()) owned.add(name);
  }
  return owned;
}

/** What lookup() asks of ownership: whether a name (normalized) is the swarm's. */
export interface OwnedNames {
  has(name: string): boolean;
}

// `<service>.<slot or node id>.<task id>`: ids are 25 base-36 characters (lib/ids.ts).
const TASK_NAME = /^(.+)\.(?:\d{1,9}|[a-z0-9]{25})\.[a-z0-9]{25}$/;

/**
 * The names that are the swarm's whatever networks this node happens to have: every service of the
 * cluster (as the managers list it in the session), `tasks.<service>` and task names of those
 * services, plus whatever the node's own networks answer. Without the cluster's list a name on a
 * network this node has no sandbox for would be forwarded upstream here and NXDOMAIN on a node that
 * has it: the answer must not depend on where the task runs.
 */
export class SwarmOwnedNames implements OwnedNames {
  constructor(
    private readonly local: ReadonlySet<string>,
    private readonly services: ReadonlySet<string>,
  ) {}

  has(name: string): boolean {
    if (this.local.has(name) || this.services.has(name)) return true;
    if (name.startsWith('tasks.') && this.services.has(name.slice('tasks.'.length))) return true;
    const task = TASK_NAME.exec(name);
    return task !== null && this.services.has(task[1]!);
  }
}
