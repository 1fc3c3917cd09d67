// Published ports. Ingress-mode ports are a cluster-wide resource (every node listens on them for the
// routing mesh), so a (protocol, port) pair belongs to at most one service; dynamic ones (publishedPort 0)
// come lowest-free from 30000-32767. Host-mode ports bind only on the nodes running a task: the
// scheduler checks them per node, the allocator leaves them alone.
import {
  IDLE_TIMEOUT_MAX_SECONDS,
  isIdleTimeout,
  PUBLISH_MODES,
  type PortConfig,
} from '../../api/objects/index.js';

export const DYNAMIC_PORT_MIN = 30000;
export const DYNAMIC_PORT_MAX = 32767;

const isPort = (n: unknown, min: number) =>
  Number.isInteger(n) && (n as number) >= min && (n as number) <= 65535;

export const portName = (p: Pick<PortConfig, 'protocol' | 'publishedPort'>) =>
  `${p.publishedPort}/${p.protocol}`;

/**
 * Checks a service's port list on its own: what the control API calls before proposing a service.
 * Conflicts with other services are the allocator's (checkServicePorts, allocateService).
 */
export function validatePortSpecs(
  ports: readonly PortConfig[],
  endpointMode: 'vip' | 'dnsrr' = 'vip',
): string | undefined {
  const seen = new Set<string>();
  for (const p of ports) {
    if (p.protocol !== 'tcp' && p.protocol !== 'udp')
      return `unsupported protocol "${String(p.protocol)}" (tcp or udp)`;
    if (!isPort(p.targetPort, 1)) return `target port ${String(p.targetPort)} is not between 1 and 65535`;
    if (!isPort(p.publishedPort, 0))
      return `published port ${String(p.publishedPort)} is not between 0 and 65535`;
    if (!PUBLISH_MODES.includes(p.publishMode))
      return `unsupported publish mode "${String(p.publishMode)}" (ingress or host)`;
    if (p.publishMode === 'ingress' && endpointMode === 'dnsrr') {
      // The routing mesh balances through the service's VIP, which dnsrr services do not have.
      return `port ${portName(p)} is published in ingress mode, which a dnsrr service cannot use (use mode=host)`;
    }
    const options = validatePortOptions(p);
    if (options) return options;
    if (p.publishedPort === 0) continue;
    // Within one service the same published port twice conflicts whatever the mode (same node for host).
    if (seen.has(portName(p))) return `port ${portName(p)} is published more than once`;
    seen.add(portName(p));
  }
  return undefined;
}

/**
 * The per-port mesh options: client address preservation (ingress mode only: a host-mode port is
 * served by the task's own node without NAT, so the task sees the client anyway) and the conntrack
 * idle timeout, whole seconds within what the kernel can hold (ingress/model.ts renders the same).
 */
function validatePortOptions(p: PortConfig): string | undefined {
  const preserve = p.preserveClientAddress;
  if (preserve !== undefined && typeof preserve !== 'boolean')
    return `port ${portName(p)}: preserveClientAddress must be true or false`;
  if (preserve && p.publishMode !== 'ingress')
    return `port ${portName(p)} is published in ${p.publishMode} mode, where the client address is already the task's to see: client address preservation is for ingress mode`;
  const idle = p.idleTimeoutSeconds;
  if (idle !== undefined && !isIdleTimeout(idle))
    return `port ${portName(p)}: idle timeout ${String(idle)} is not a whole number of seconds between 1 and ${IDLE_TIMEOUT_MAX_SECONDS} (24 days)`;
  return undefined;
}

/** Which service holds each ingress (protocol, published port). */
export class PublishedPorts {
  private readonly owners = new Map<string, string>();

  ownerOf(protocol: PortConfig['protocol'], port: number): string | undefined {
    return this.owners.get(portName({ protocol, publishedPort: port }));
  }

  claim(protocol: PortConfig['protocol'], port: number, serviceId: string): void {
    this.owners.set(portName({ protocol, publishedPort: port }), serviceId);
  }

  release(protocol: PortConfig['protocol'], port: number, serviceId: string): void {
    const key = portName({ protocol, publishedPort: port });
    if (this.owners.get(key) === serviceId) this.owners.delete(key);
  }

  /** The lowest dynamic port of `protocol` that `isFree` accepts, or undefined if none. */
  lowestDynamic(protocol: PortConfig['protocol'], isFree: (port: number) => boolean): number | undefined {
    // At most 2,768 map lookups: cheap enough that a bitmap would only add state to keep in sync.
    for (let port = DYNAMIC_PORT_MIN; port <= DYNAMIC_PORT_MAX; port++) {
      if (isFree(port) && this.ownerOf(protocol, port) === undefined) return port;
    }
    return undefined;
  }
}
