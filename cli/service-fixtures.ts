// Wire objects for the CLI's tests: a service and its tasks as the daemon would return them.
import type { TaskState } from '../api/objects/index.js';
import { buildCreateSpec } from './service-spec.js';
import type { PortDraft, ServiceSpecDraft, ServiceSpecView, ServiceView, TaskView } from './objects.js';

export const T0 = Date.parse('2026-11-22T08:00:00.000Z');
export const iso = (ms: number) => new Date(ms).toISOString();

/** A port as it arrives: unset mesh options decode as proto3's defaults. */
const decodedPort = (p: PortDraft) => ({ preserveClientAddress: false, idleTimeoutSeconds: 0, ...p });
/** A spec the CLI built, as the daemon would send it back. */
export const decodedSpec = (spec: ServiceSpecDraft): ServiceSpecView => ({
  ...spec,
  task: {
    capAdd: [],
    capDrop: [],
    readOnly: false,
    noNewPrivileges: false,
    seccomp: '',
    mounts: [],
    stopSignal: '',
    ...spec.task,
    ...(spec.task.init !== undefined ? { _init: 'init' as const } : {}),
  },
  endpoint: { ...spec.endpoint, ports: spec.endpoint.ports.map(decodedPort) },
});

export function wireService(
  over: Partial<Omit<ServiceView, 'spec' | 'endpoint'>> & {
    spec?: ServiceSpecDraft;
    endpoint?: { ports: PortDraft[]; virtualIps: NonNullable<ServiceView['endpoint']>['virtualIps'] };
  } = {},
): ServiceView {
  const { spec, endpoint, ...rest } = over;
  return {
    id: 'svc0000000000000000000001',
    meta: { version: 7, createdAt: iso(T0), updatedAt: iso(T0) },
    spec: decodedSpec(
      spec ?? buildCreateSpec('host', ['sleep', 'infinity'], { name: 'web', replicas: '3' }, {}),
    ),
    previousSpec: null,
    specVersion: 1,
    endpoint: endpoint
      ? { ...endpoint, ports: endpoint.ports.map(decodedPort) }
      : { ports: [], virtualIps: [] },
    updateStatus: null,
    ...rest,
  };
}

let seq = 0;

export function wireTask(
  service: ServiceView,
  o: {
    slot?: number;
    nodeId?: string;
    state?: TaskState;
    desired?: TaskState;
    specVersion?: number;
    err?: string;
    createdAt?: number;
    statusAt?: number;
    id?: string;
  } = {},
): TaskView {
  const id = o.id ?? `task${String(++seq).padStart(21, '0')}`;
  const createdAt = iso(o.createdAt ?? T0);
  const specVersion = o.specVersion ?? service.specVersion;
  return {
    id,
    meta: { version: 1, createdAt, updatedAt: createdAt },
    serviceId: service.id,
    slot: o.slot ?? 1,
    nodeId: o.nodeId ?? 'node1',
    // A task of another version carries another spec, as it would after an update.
    spec:
      specVersion === service.specVersion
        ? structuredClone(service.spec.task)
        : { ...structuredClone(service.spec.task), image: `old-image:${specVersion}` },
    specVersion,
    serviceName: service.spec.name,
    desiredState: o.desired ?? 'running',
    status: { state: o.state ?? 'running', timestamp: iso(o.statusAt ?? T0), message: '', err: o.err ?? '' },
    networks: [],
    endpoint: { ports: [], virtualIps: [] },
  };
}

export const nodes = [
  { id: 'node1', description: { hostname: 'alpha' } },
  { id: 'node2', description: { hostname: 'beta' } },
  { id: 'node3', description: { hostname: 'gamma' } },
];
