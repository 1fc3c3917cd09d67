// Networks, services and tasks → their wire form (proto/objects.proto). The messages mirror the store
// objects field for field, so this is mostly a copy; the one reshaping is the service mode, a tagged
// object in the store and a oneof on the wire. The result is what proto-loader hands a client
// (absent messages null, a oneof as its one member set plus its name in `mode`), so in-process callers see the wire shape too.
import type { Network, PortConfig, Service, ServiceSpec, Task } from '../../api/objects/index.js';

const metaToWire = (m: { version: number; createdAt: string; updatedAt: string }) => ({
  version: m.version,
  createdAt: m.createdAt,
  updatedAt: m.updatedAt,
});

/**
 * A port as proto-loader decodes it: its optional mesh options as proto3 defaults (false, 0) when
 * unset, so in-process callers see exactly what a remote client receives.
 */
const portToWire = (p: PortConfig) => ({
  ...p,
  preserveClientAddress: p.preserveClientAddress ?? false,
  idleTimeoutSeconds: p.idleTimeoutSeconds ?? 0,
});

const endpointToWire = <E extends { ports: PortConfig[] }>(e: E): E => ({
  ...structuredClone(e),
  ports: e.ports.map(portToWire),
});

export function networkToWire(n: Network) {
  return {
    id: n.id,
    meta: metaToWire(n.meta),
    spec: structuredClone(n.spec),
    ipam: structuredClone(n.ipam),
    vni: n.vni,
  };
}

export function serviceSpecToWire(spec: ServiceSpec) {
  const { mode, ...cloned } = structuredClone(spec);
  const rest = { ...cloned, endpoint: endpointToWire(cloned.endpoint) };
  // As proto-loader decodes a oneof: the member set, and `mode` naming it; the other member absent.
  return 'global' in mode
    ? { ...rest, global: {}, mode: 'global' as const }
    : { ...rest, replicated: { replicas: mode.replicated.replicas }, mode: 'replicated' as const };
}

export function serviceToWire(s: Service) {
  return {
    id: s.id,
    meta: metaToWire(s.meta),
    spec: serviceSpecToWire(s.spec),
    previousSpec: s.previousSpec ? serviceSpecToWire(s.previousSpec) : null,
    specVersion: s.specVersion,
    endpoint: endpointToWire(s.endpoint),
    updateStatus: s.updateStatus ? { ...s.updateStatus } : null,
  };
}

export function taskToWire(t: Task) {
  return {
    id: t.id,
    meta: metaToWire(t.meta),
    serviceId: t.serviceId,
    slot: t.slot,
    nodeId: t.nodeId,
    spec: structuredClone(t.spec),
    specVersion: t.specVersion,
    serviceName: t.serviceName,
    desiredState: t.desiredState,
    status: { ...t.status },
    networks: structuredClone(t.networks),
    endpoint: endpointToWire(t.endpoint),
  };
}
