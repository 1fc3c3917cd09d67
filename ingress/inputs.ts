// From the gossiped endpoints (worker/endpoints) to the ruleset model's plain inputs. Pure.
import type { PortConfig } from '../api/objects/index.js';
import type { EndpointRecord } from '../worker/endpoints/records.js';
import type { Backend, PublishedPort, ServiceVip } from './types.js';

export interface MeshInputs {
  published: PublishedPort[];
  backends: Backend[];
}

/**
 * The routing mesh of one node: every ingress-mode port published by a service that has a running task
 * on the ingress network, balanced over those tasks' ingress addresses. A port claimed by two services
 * (one releasing it, the other taking it, while their tasks turn over) goes to the lower service id on
 * every node, so all nodes agree until the old tasks are gone.
 */
export function ingressInputs(ingressNetworkId: string, records: readonly EndpointRecord[]): MeshInputs {
  return publishedInputs(
    'ingress',
    records.map((r) => ({ serviceId: r.serviceId, address: r.ip, ports: r.ports })),
    ingressNetworkId,
  );
}

/**
 * The ports of one publish mode over the given backends; a (protocol, port) two services hold goes to
 * the lower service id.
 */
function publishedInputs(
  mode: PortConfig['publishMode'],
  backendsIn: readonly { serviceId: string; address: string; ports: readonly PortConfig[] }[],
  networkId: string,
): MeshInputs {
  const byPort = new Map<string, PublishedPort>();
  const backends: Backend[] = [];
  for (const b of backendsIn) {
    backends.push({ serviceId: b.serviceId, networkId, address: b.address });
    for (const p of b.ports) {
      if (p.publishMode !== mode || p.publishedPort === 0) continue;
      const key = `${p.protocol}/${p.publishedPort}`;
      const held = byPort.get(key);
      if (held && held.serviceId <= b.serviceId) continue;
      byPort.set(key, {
        protocol: p.protocol,
        publishedPort: p.publishedPort,
        targetPort: p.targetPort,
        serviceId: b.serviceId,
        ...(p.idleTimeoutSeconds ? { idleTimeoutSeconds: p.idleTimeoutSeconds } : {}),
        ...(p.preserveClientAddress ? { preserveClientAddress: true } : {}),
      });
    }
  }
  return { published: [...byPort.values()], backends };
}

export interface VipInputs {
  vips: ServiceVip[];
  backends: Backend[];
}

/** The VIPs a task on these networks balances, and the running tasks behind them, per network. */
export function vipInputs(
  networks: readonly { networkId: string; records: readonly EndpointRecord[] }[],
): VipInputs {
  const vips: ServiceVip[] = [];
  const backends: Backend[] = [];
  for (const { networkId, records } of networks) {
    const seen = new Set<string>();
    for (const r of records) {
      if (r.endpointMode !== 'vip' || !r.vip) continue;
      backends.push({ serviceId: r.serviceId, networkId, address: r.ip });
      if (seen.has(r.serviceId)) continue;
      seen.add(r.serviceId);
      vips.push({ serviceId: r.serviceId, networkId, address: r.vip });
    }
  }
  return { vips, backends };
}

/**
 * `mode=host` on one node: each host-mode port of a service with a task running here, straight to those
 * tasks (by `networkId`'s addresses: their gateway-bridge legs). The client address is kept: replies
 * leave through the task's default route, i.e. back through this node, which undoes the DNAT. Two
 * services on one host port (the scheduler prevents it) resolve as for ingress ports.
 */
export function hostModeInputs(
  networkId: string,
  local: readonly { serviceId: string; address: string; ports: readonly PortConfig[] }[],
): MeshInputs {
  return publishedInputs('host', local, networkId);
}
