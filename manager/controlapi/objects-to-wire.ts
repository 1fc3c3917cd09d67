// Networks, services and tasks → their wire form (proto/objects.proto). The messages mirror the store
// objects field for field, so this is mostly a copy; the one reshaping is the service mode, a tagged
// object in the store and a oneof on the wire. The result has the generated message's received type
// (absent messages null, a oneof as its one member set plus its name in `mode`), so in-process callers
// see exactly what a remote client decodes.
import type {
  EndpointSpec,
  Network,
  PortConfig,
  Service,
  ServiceSpec,
  Task,
  TaskSpec,
} from '../../api/objects/index.js';
import type { TaskSpec__Output } from '../../api/gen/swarmlite/objects/v1/TaskSpec.js';
import { containerFieldsToWire } from './container-wire.js';
import type { EndpointSpec__Output } from '../../api/gen/swarmlite/objects/v1/EndpointSpec.js';
import type { Endpoint__Output } from '../../api/gen/swarmlite/objects/v1/Endpoint.js';
import type { Meta__Output } from '../../api/gen/swarmlite/objects/v1/Meta.js';
import type { Network__Output as WireNetwork } from '../../api/gen/swarmlite/objects/v1/Network.js';
import type { PortConfig__Output } from '../../api/gen/swarmlite/objects/v1/PortConfig.js';
import type { Service__Output as WireService } from '../../api/gen/swarmlite/objects/v1/Service.js';
import type { ServiceSpec__Output as WireServiceSpec } from '../../api/gen/swarmlite/objects/v1/ServiceSpec.js';
import type { Task__Output as WireTask } from '../../api/gen/swarmlite/objects/v1/Task.js';

export type { WireNetwork, WireService, WireServiceSpec, WireTask };

const metaToWire = (m: { version: number; createdAt: string; updatedAt: string }): Meta__Output => ({
  version: m.version,
  createdAt: m.createdAt,
  updatedAt: m.updatedAt,
});

/**
 * A port as proto-loader decodes it: its optional mesh options as proto3 defaults (false, 0) when
 * unset, so in-process callers see exactly what a remote client receives.
 */
const portToWire = (p: PortConfig): PortConfig__Output => ({
  ...p,
  preserveClientAddress: p.preserveClientAddress ?? false,
  idleTimeoutSeconds: p.idleTimeoutSeconds ?? 0,
});

const endpointSpecToWire = (e: EndpointSpec): EndpointSpec__Output => ({
  mode: e.mode,
  ports: e.ports.map(portToWire),
});

const endpointToWire = (e: Service['endpoint']): Endpoint__Output => ({
  ports: e.ports.map(portToWire),
  virtualIps: structuredClone(e.virtualIps),
});

export function networkToWire(n: Network): WireNetwork {
  return {
    id: n.id,
    meta: metaToWire(n.meta),
    spec: structuredClone(n.spec),
    ipam: structuredClone(n.ipam),
    vni: n.vni,
  };
}

/** A task spec as proto-loader decodes it: the container options unset in the store as their defaults. */
const taskSpecToWire = (t: TaskSpec): TaskSpec__Output => ({
  ...structuredClone(t),
  ...containerFieldsToWire(t),
});

export function serviceSpecToWire(spec: ServiceSpec): WireServiceSpec {
  const { mode, ...cloned } = structuredClone(spec);
  const rest = {
    ...cloned,
    task: taskSpecToWire(cloned.task),
    endpoint: endpointSpecToWire(cloned.endpoint),
  };
  // As proto-loader decodes a oneof: the member set, and `mode` naming it; the other member absent.
  return 'global' in mode
    ? { ...rest, global: {}, mode: 'global' as const }
    : { ...rest, replicated: { replicas: mode.replicated.replicas }, mode: 'replicated' as const };
}

export function serviceToWire(s: Service): WireService {
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

export function taskToWire(t: Task): WireTask {
  return {
    id: t.id,
    meta: metaToWire(t.meta),
    serviceId: t.serviceId,
    slot: t.slot,
    nodeId: t.nodeId,
    spec: taskSpecToWire(t.spec),
    specVersion: t.specVersion,
    serviceName: t.serviceName,
    desiredState: t.desiredState,
    status: { ...t.status },
    networks: structuredClone(t.networks),
    endpoint: endpointToWire(t.endpoint),
  };
}
