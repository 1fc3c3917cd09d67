// Wire objects for the CLI's tests: a service and its tasks as the daemon would return them.
import type { TaskState } from '../api/objects/index.js';
import { buildCreateSpec } from './service-spec.js';
import type { WireService, WireServiceSpec, WireTask } from './service-wire.js';

export const T0 = Date.parse('2026-11-22T08:00:00.000Z');
export const iso = (ms: number) => new Date(ms).toISOString();

export function wireService(over: Partial<WireService> & { spec?: WireServiceSpec } = {}): WireService {
  return {
    id: 'svc0000000000000000000001',
    meta: { version: 7, createdAt: iso(T0), updatedAt: iso(T0) },
    spec: buildCreateSpec('host', ['sleep', 'infinity'], { name: 'web', replicas: '3' }, {}),
    previousSpec: null,
    specVersion: 1,
    endpoint: { ports: [], virtualIps: [] },
    updateStatus: null,
    ...over,
  };
}

let seq = 0;

export function wireTask(
  service: WireService,
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
): WireTask {
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
