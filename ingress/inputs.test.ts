// Endpoint records → the ruleset model's inputs: ingress ports and backends, host mode, VIPs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PortConfig } from '../api/objects/index.js';
import type { EndpointRecord } from '../worker/endpoints/records.js';
import { hostModeInputs, ingressInputs, vipInputs } from './inputs.js';

const port = (publishedPort: number, extra: Partial<PortConfig> = {}): PortConfig => ({
  protocol: 'tcp',
  targetPort: 80,
  publishedPort,
  publishMode: 'ingress',
  ...extra,
});

const rec = (
  taskId: string,
  serviceId: string,
  ip: string,
  extra: Partial<EndpointRecord> = {},
): EndpointRecord => ({
  serviceId,
  serviceName: serviceId,
  taskId,
  taskName: `${serviceId}.1.${taskId}`,
  nodeId: 'n1',
  ip,
  vip: '10.0.0.2',
  endpointMode: 'vip',
  aliases: [],
  ports: [],
  ...extra,
});

test('ingress: every ingress port of a service with a running task, over all its tasks', () => {
  const web = [
    port(5000),
    port(5353, { protocol: 'udp', targetPort: 53 }),
    port(8080, { publishMode: 'host' }),
  ];
  const got = ingressInputs('ing', [
    rec('t1', 'web', '10.255.0.3', { ports: web }),
    rec('t2', 'web', '10.255.0.4', { ports: web }),
    rec('t3', 'api', '10.255.0.5', {
      ports: [port(6000, { idleTimeoutSeconds: 3600, preserveClientAddress: true })],
    }),
  ]);
  assert.deepEqual(got.published, [
    { protocol: 'tcp', publishedPort: 5000, targetPort: 80, serviceId: 'web' },
    { protocol: 'udp', publishedPort: 5353, targetPort: 53, serviceId: 'web' },
    {
      protocol: 'tcp',
      publishedPort: 6000,
      targetPort: 80,
      serviceId: 'api',
      idleTimeoutSeconds: 3600,
      preserveClientAddress: true,
    },
  ]);
  assert.deepEqual(
    got.backends.map((b) => `${b.serviceId}@${b.address}/${b.networkId}`),
    ['web@10.255.0.3/ing', 'web@10.255.0.4/ing', 'api@10.255.0.5/ing'],
  );
});

test('ingress: a port two services claim while their tasks turn over goes to the lower id, on every node', () => {
  const records = [
    rec('t1', 'svc-b', '10.255.0.3', { ports: [port(5000)] }),
    rec('t2', 'svc-a', '10.255.0.4', { ports: [port(5000, { targetPort: 81 })] }),
  ];
  for (const order of [records, [...records].reverse()]) {
    const { published } = ingressInputs('ing', order);
    assert.deepEqual(published, [
      { protocol: 'tcp', publishedPort: 5000, targetPort: 81, serviceId: 'svc-a' },
    ]);
  }
});

test('ingress: nothing published, nothing rendered; unallocated (0) ports are skipped', () => {
  assert.deepEqual(ingressInputs('ing', []), { published: [], backends: [] });
  assert.deepEqual(
    ingressInputs('ing', [rec('t1', 'web', '10.255.0.3', { ports: [port(0)] })]).published,
    [],
  );
});

test('host mode: only host-mode ports, to the local tasks', () => {
  const ports = [port(8080, { publishMode: 'host' }), port(5000)];
  const got = hostModeInputs('host-mode', [
    { serviceId: 'web', address: '172.18.0.3', ports },
    { serviceId: 'web', address: '172.18.0.4', ports },
  ]);
  assert.deepEqual(got.published, [
    { protocol: 'tcp', publishedPort: 8080, targetPort: 80, serviceId: 'web' },
  ]);
  assert.deepEqual(
    got.backends.map((b) => b.address),
    ['172.18.0.3', '172.18.0.4'],
  );
});

test('VIPs: one per service and network, backends per network; dnsrr services have none', () => {
  const got = vipInputs([
    {
      networkId: 'app',
      records: [
        rec('t1', 'web', '10.0.0.3'),
        rec('t2', 'web', '10.0.0.4'),
        rec('t3', 'rr', '10.0.0.6', { vip: '', endpointMode: 'dnsrr' }),
      ],
    },
    { networkId: 'back', records: [rec('t1', 'web', '10.0.1.3', { vip: '10.0.1.2' })] },
  ]);
  assert.deepEqual(got.vips, [
    { serviceId: 'web', networkId: 'app', address: '10.0.0.2' },
    { serviceId: 'web', networkId: 'back', address: '10.0.1.2' },
  ]);
  assert.deepEqual(
    got.backends.map((b) => `${b.address}/${b.networkId}`),
    ['10.0.0.3/app', '10.0.0.4/app', '10.0.1.3/back'],
  );
});
