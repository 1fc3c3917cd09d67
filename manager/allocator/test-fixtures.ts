// Sample networks, services and tasks for the allocator's tests, and a helper to unwrap results.
import assert from 'node:assert/strict';
import type { IpamConfig, Network, PortConfig, Service, Task } from '../../api/objects/index.js';
import type { AllocFailure, AllocResult } from './result.js';
import { defaultTaskSpec, defaultUpdateConfig } from '../../api/objects/index.js';

const meta = { version: 1, createdAt: '2026-11-22T05:00:00.000Z', updatedAt: '2026-11-22T05:00:00.000Z' };

export function network(
  id: string,
  name = id,
  opts: { ipam?: Partial<IpamConfig>[]; ingress?: boolean } = {},
): Network {
  return {
    id,
    meta,
    spec: {
      name,
      driver: 'overlay',
      ipam: (opts.ipam ?? []).map((c) => ({ subnet: '', gateway: '', ipRange: '', ...c })),
      attachable: false,
      internal: false,
      ingress: opts.ingress ?? false,
      options: {},
      labels: {},
    },
    ipam: [],
    vni: 0,
  };
}

export const ingress = () => network('ingress-id', 'ingress', { ingress: true });

export function port(
  published: number,
  target = 80,
  protocol: 'tcp' | 'udp' = 'tcp',
  mode: 'ingress' | 'host' = 'ingress',
): PortConfig {
  return { protocol, targetPort: target, publishedPort: published, publishMode: mode };
}

export function service(
  id: string,
  name = id,
  opts: { networks?: string[]; ports?: PortConfig[]; endpointMode?: 'vip' | 'dnsrr' } = {},
): Service {
  const update = defaultUpdateConfig();
  return {
    id,
    meta,
    spec: {
      name,
      labels: {},
      task: {
        ...defaultTaskSpec('host'),
        networks: (opts.networks ?? []).map((target) => ({ target, aliases: [] })),
      },
      mode: { replicated: { replicas: 1 } },
      update,
      rollback: update,
      endpoint: { mode: opts.endpointMode ?? 'vip', ports: opts.ports ?? [] },
    },
    specVersion: 1,
    endpoint: { ports: [], virtualIps: [] },
  };
}

export function task(id: string, svc: Service, slot = 1): Task {
  return {
    id,
    meta,
    serviceId: svc.id,
    slot,
    nodeId: '',
    spec: svc.spec.task,
    specVersion: svc.specVersion,
    serviceName: svc.spec.name,
    desiredState: 'running',
    status: { state: 'pending', timestamp: meta.createdAt, message: '', err: '' },
    networks: [],
    endpoint: { ports: [], virtualIps: [] },
  };
}

export function value<T>(result: AllocResult<T>): T {
  if (!result.ok) assert.fail(`expected success, got ${result.reason.kind}: ${result.reason.message}`);
  return result.value;
}

export function failure<T>(result: AllocResult<T>): AllocFailure {
  if (result.ok) assert.fail(`expected a failure, got ${JSON.stringify(result.value)}`);
  return result.reason;
}
