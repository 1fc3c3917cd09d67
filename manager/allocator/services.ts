// Services: published ports (ingress ones are cluster-wide) and one VIP per attached network. A service
// with ingress-mode ports is also attached to the ingress network, as in SwarmKit: the routing mesh
// balances through its ingress VIP to its tasks' ingress addresses.
import type { PortConfig, Service, VirtualIp } from '../../api/objects/index.js';
import { parseAddressWithPrefix } from '../../lib/ipv4.js';
import { DYNAMIC_PORT_MAX, DYNAMIC_PORT_MIN, portName, validatePortSpecs } from './ports.js';
import { exhausted, fail, ok, type AllocResult } from './result.js';
import { AllocatorState, type HeldAddress, type NetworkState, type ServiceState } from './state.js';

/** What the allocator fills into Service.endpoint. */
export interface ServiceAllocation {
  ports: PortConfig[];
  virtualIps: VirtualIp[];
}

type ServiceInput = Pick<Service, 'id' | 'spec'>;

const hasIngressPorts = (ports: readonly PortConfig[]) => ports.some((p) => p.publishMode === 'ingress');

function allocationOf(service: ServiceState): ServiceAllocation {
  return {
    ports: service.ports.map((p) => ({ ...p })),
    virtualIps: service.vips.map((v) => ({ networkId: v.networkId, addr: v.pool.format(v.addr) })),
  };
}

/**
 * The networks a service's VIPs and its tasks' addresses live on: the attachments' targets, plus ingress
 * when it publishes in ingress mode.
 */
export function attachedNetworks(
  state: AllocatorState,
  targets: readonly string[],
  ports: readonly PortConfig[],
): AllocResult<NetworkState[]> {
  const networks: NetworkState[] = [];
  for (const id of targets) {
    const network = state.networks.get(id);
    if (!network) return fail('missing', `network ${id} is not allocated`);
    if (!networks.includes(network)) networks.push(network);
  }
  if (hasIngressPorts(ports)) {
    const ingress = state.ingressNetwork();
    if (!ingress)
      return fail('missing', 'ports are published in ingress mode but there is no ingress network');
    if (!networks.includes(ingress)) networks.push(ingress);
  }
  return ok(networks);
}

/**
 * The published ports a spec gets, without claiming them: explicit ingress ports must be free or already
 * this service's; a dynamic one keeps the number it had if the service had the same dynamic port before.
 */
function choosePorts(
  state: AllocatorState,
  service: ServiceInput,
  prev: ServiceState | undefined,
): AllocResult<PortConfig[]> {
  const chosen = new Set<string>();
  // A dynamic request keeps a port of the same protocol and target the service already holds in the
  // dynamic range. This depends only on what is recorded (Service.endpoint) and the new spec, so a
  // rebuilt allocator decides exactly as the live one.
  const reusable = (prev?.ports ?? []).filter(
    (p) =>
      p.publishMode === 'ingress' &&
      p.publishedPort >= DYNAMIC_PORT_MIN &&
      p.publishedPort <= DYNAMIC_PORT_MAX,
  );
  // Explicit ports first, so that a dynamic one never takes a number an explicit one asks for.
  for (const p of service.spec.endpoint.ports) {
    if (p.publishMode !== 'ingress' || p.publishedPort === 0) continue;
    const owner = state.ports.ownerOf(p.protocol, p.publishedPort);
    if (owner !== undefined && owner !== service.id) {
      const name = state.services.get(owner)?.name ?? owner;
      return fail('conflict', `port ${portName(p)} is already published by service ${name}`);
    }
    chosen.add(portName(p));
  }
  const result: PortConfig[] = [];
  for (const p of service.spec.endpoint.ports) {
    if (p.publishMode !== 'ingress' || p.publishedPort !== 0) {
      result.push({ ...p });
      continue;
    }
    const again = reusable.findIndex(
      (r) => r.protocol === p.protocol && r.targetPort === p.targetPort && !chosen.has(portName(r)),
    );
    let port = again >= 0 ? reusable.splice(again, 1)[0].publishedPort : undefined;
    port ??= state.ports.lowestDynamic(
      p.protocol,
      (n) => !chosen.has(portName({ protocol: p.protocol, publishedPort: n })),
    );
    if (port === undefined) {
      const range = `${DYNAMIC_PORT_MIN}-${DYNAMIC_PORT_MAX}/${p.protocol}`;
      return exhausted(`ports ${range}`, `no free port left in the dynamic range ${range}`);
    }
    chosen.add(portName({ protocol: p.protocol, publishedPort: port }));
    result.push({ ...p, publishedPort: port });
  }
  return ok(result);
}

/**
 * Whether a service's ports can be published now, without allocating anything: what the control API calls
 * at `service create/update` so "port 5000/tcp is already published by service web" is a user error.
 */
export function checkServicePorts(state: AllocatorState, service: ServiceInput): AllocResult<void> {
  const invalid = validatePortSpecs(service.spec.endpoint.ports, service.spec.endpoint.mode);
  if (invalid) return fail('invalid', invalid);
  const chosen = choosePorts(state, service, state.services.get(service.id));
  return chosen.ok ? ok(undefined) : chosen;
}

/**
 * Allocates (or, for a known service, re-allocates after a spec change) the service's published ports and
 * VIPs. VIPs and ports it keeps are unchanged; ones it no longer needs are released; on failure nothing
 * changes.
 */
export function allocateService(
  state: AllocatorState,
  service: ServiceInput,
): AllocResult<ServiceAllocation> {
  const { spec } = service;
  const invalid = validatePortSpecs(spec.endpoint.ports, spec.endpoint.mode);
  if (invalid) return fail('invalid', invalid);
  const networks = attachedNetworks(
    state,
    spec.task.networks.map((n) => n.target),
    spec.endpoint.ports,
  );
  if (!networks.ok) return networks;
  const prev = state.services.get(service.id);
  const ports = choosePorts(state, service, prev);
  if (!ports.ok) return ports;

  // A node-local network has no swarm-wide range to take a VIP from (Docker gives it none either).
  const vipNetworks = spec.endpoint.mode === 'vip' ? networks.value.filter((n) => !n.nodeLocal) : [];
  const vips: HeldAddress[] = [];
  const fresh: HeldAddress[] = [];
  for (const network of vipNetworks) {
    const kept = prev?.vips.find((v) => v.networkId === network.id);
    const vip = kept ?? state.allocateAddress(network);
    if (!vip) {
      AllocatorState.release(fresh);
      const { pool, message } = AllocatorState.exhaustedMessage(network);
      return exhausted(pool, message);
    }
    if (!kept) fresh.push(vip);
    vips.push(vip);
  }

  if (prev) {
    AllocatorState.release(prev.vips.filter((v) => !vips.includes(v)));
    for (const p of prev.ports)
      if (p.publishMode === 'ingress') state.ports.release(p.protocol, p.publishedPort, service.id);
  }
  for (const p of ports.value)
    if (p.publishMode === 'ingress') state.ports.claim(p.protocol, p.publishedPort, service.id);
  const held: ServiceState = {
    id: service.id,
    name: spec.name,
    ports: ports.value,
    vips,
  };
  state.services.set(service.id, held);
  return ok(allocationOf(held));
}

/** Frees a service's VIPs and published ports. Its tasks' addresses are released per task. */
export function releaseService(state: AllocatorState, serviceId: string): AllocResult<void> {
  const service = state.services.get(serviceId);
  if (!service) return ok(undefined);
  AllocatorState.release(service.vips);
  for (const p of service.ports)
    if (p.publishMode === 'ingress') state.ports.release(p.protocol, p.publishedPort, serviceId);
  state.services.delete(serviceId);
  return ok(undefined);
}

/**
 * Re-holds a service's allocation recorded in the store (Service.endpoint). A service whose spec asks for
 * VIPs or ports its endpoint does not show yet is left for allocateService to complete.
 */
export function restoreService(state: AllocatorState, service: Service): AllocResult<void> {
  if (state.services.has(service.id)) return ok(undefined);
  const { endpoint } = service;
  if (endpoint.ports.length === 0 && endpoint.virtualIps.length === 0) return ok(undefined);
  for (const p of endpoint.ports) {
    if (p.publishMode !== 'ingress') continue;
    const owner = state.ports.ownerOf(p.protocol, p.publishedPort);
    if (owner !== undefined)
      return fail('conflict', `service ${service.spec.name}: port ${portName(p)} is held twice`);
  }
  const vips: HeldAddress[] = [];
  for (const v of endpoint.virtualIps) {
    const held = claimRecorded(state, v.networkId, v.addr);
    if (typeof held === 'string') {
      AllocatorState.release(vips);
      return fail('conflict', `service ${service.spec.name}: VIP ${v.addr}: ${held}`);
    }
    vips.push(held);
  }
  for (const p of endpoint.ports)
    if (p.publishMode === 'ingress') state.ports.claim(p.protocol, p.publishedPort, service.id);
  state.services.set(service.id, {
    id: service.id,
    name: service.spec.name,
    ports: endpoint.ports.map((p) => ({ ...p })),
    vips,
  });
  return ok(undefined);
}

/** Claims a recorded "10.0.1.5/24" on a network; an error message if it cannot be held. */
export function claimRecorded(state: AllocatorState, networkId: string, text: string): HeldAddress | string {
  const network = state.networks.get(networkId);
  if (!network) return `network ${networkId} is not allocated`;
  const parsed = parseAddressWithPrefix(text);
  if (typeof parsed === 'string') return parsed;
  for (const pool of network.pools) {
    const outcome = pool.claim(parsed.addr);
    if (outcome === 'claimed') return { networkId, pool, addr: parsed.addr };
    if (outcome !== 'outside')
      return `address is ${outcome === 'taken' ? 'already held' : 'reserved'} on network ${network.name}`;
  }
  return `address is outside every subnet of network ${network.name}`;
}
