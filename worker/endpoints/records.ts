// The `endpoints` gossip table (networkdb's service table): one entry per (network, running task),
// written by the node that runs the task, keyed by the task id, gossiped only among the nodes attached
// to that network. It is what every node's embedded DNS and load balancers are built from, so a task
// that stops serving is withdrawn here first, before its process is told to stop.
import { isDnsName } from '../../lib/dns-name.js';
import { isIdleTimeout, type PortConfig } from '../../api/objects/index.js';

export const ENDPOINTS_TABLE = 'endpoints';

/** One running task on one network, as the other nodes of that network learn it. */
export interface EndpointRecord {
  serviceId: string;
  serviceName: string;
  taskId: string;
  /** Docker's full task name: `<service>.<slot>.<task id>` (`<service>.<node id>.<task id>` when global). */
  taskName: string;
  nodeId: string;
  /** The task's address on this network, without prefix length. */
  ip: string;
  /** The service's VIP on this network, without prefix length; '' in dnsrr mode. */
  vip: string;
  endpointMode: 'vip' | 'dnsrr';
  /** Network aliases of the task on this network (`--network name=N,alias=A`). */
  aliases: string[];
  /** The service's published ports (ingress and host mode), as allocated. */
  ports: PortConfig[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** Object ids (services, tasks, nodes): they end up in nftables chain names. */
const ID = /^[A-Za-z0-9]{1,64}$/;

export const encodeEndpoint = (r: EndpointRecord): Buffer => Buffer.from(JSON.stringify(r));

function isPort(p: unknown): p is PortConfig {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Record<string, unknown>;
  const port = (v: unknown, min: number) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= 65535;
  return (
    (o.protocol === 'tcp' || o.protocol === 'udp') &&
    port(o.targetPort, 1) &&
    port(o.publishedPort, 0) &&
    (o.publishMode === 'ingress' || o.publishMode === 'host') &&
    // 0 is how an unset timeout may travel.
    (o.idleTimeoutSeconds === undefined ||
      o.idleTimeoutSeconds === 0 ||
      isIdleTimeout(o.idleTimeoutSeconds as number))
  );
}

/**
 * Reads an entry another node wrote. Gossip is authenticated, but a buggy or older peer must not be able
 * to put garbage into DNS answers or nftables text: anything off-shape is refused (undefined).
 */
export function decodeEndpoint(value: Uint8Array): EndpointRecord | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(Buffer.from(value).toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const str = (k: string) => typeof o[k] === 'string';
  if (!['serviceId', 'serviceName', 'taskId', 'taskName', 'nodeId', 'ip', 'vip'].every(str)) return undefined;
  const r = o as unknown as EndpointRecord;
  // A standalone container on an attachable overlay is a task of no service: no service id or name,
  // no VIP, no ports (its name and aliases only).
  const container = r.serviceId === '' && r.serviceName === '';
  if (container && (r.endpointMode !== 'dnsrr' || !Array.isArray(r.ports) || r.ports.length > 0))
    return undefined;
  if (!container && (!ID.test(r.serviceId) || !isDnsName(r.serviceName))) return undefined;
  if (![r.taskId, r.nodeId].every((id) => ID.test(id))) return undefined;
  if (!isDnsName(r.taskName) || !IPV4.test(r.ip)) return undefined;
  if (r.endpointMode !== 'vip' && r.endpointMode !== 'dnsrr') return undefined;
  if (r.endpointMode === 'vip' ? !IPV4.test(r.vip) : r.vip !== '') return undefined;
  if (!Array.isArray(r.aliases)) return undefined;
  if (!Array.isArray(r.ports) || !r.ports.every(isPort)) return undefined;
  return {
    serviceId: r.serviceId,
    serviceName: r.serviceName,
    taskId: r.taskId,
    taskName: r.taskName,
    nodeId: r.nodeId,
    ip: r.ip,
    vip: r.vip,
    endpointMode: r.endpointMode,
    // One bad alias costs only itself: the task stays in DNS and the load balancers under its names.
    aliases: r.aliases.filter(isDnsName),
    ports: r.ports.map((p) => ({
      protocol: p.protocol,
      targetPort: p.targetPort,
      publishedPort: p.publishedPort,
      publishMode: p.publishMode,
      ...(p.preserveClientAddress === true ? { preserveClientAddress: true } : {}),
      ...(Number.isInteger(p.idleTimeoutSeconds) && p.idleTimeoutSeconds! > 0
        ? { idleTimeoutSeconds: p.idleTimeoutSeconds }
        : {}),
    })),
  };
}

/** What DNS and the load balancers read: every known running task per network, local and remote. */
export interface EndpointSource {
  /** The records of one network this node is attached to (empty for any other network). */
  records(networkId: string): readonly EndpointRecord[];
  /** Called (synchronously, possibly often) whenever a network's records change. */
  onChange(listener: (networkId: string) => void): () => void;
}
