// The conversions against the real wire: encoded and decoded with proto/control.proto's own
// serializers (api/rpc.ts, with proto/loader-options.json), so what the handlers read is what really arrives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { services } from '../../api/rpc.js';
import {
  defaultTaskSpec,
  type Network,
  type Service,
  type ServiceSpec,
  type Task,
} from '../../api/objects/index.js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { networkToWire, serviceSpecToWire, serviceToWire, taskToWire } from './objects-to-wire.js';
import { networkSpecFromWire, serviceSpecFromWire } from './specs-from-wire.js';

const control = services.control().service;

/** A message through the wire as a client request: serialize, then deserialize as the server does. */
function asRequest<Req, Res, ReqOut, ResOut>(def: MethodDefinition<Req, Res, ReqOut, ResOut>, message: Req) {
  return def.requestDeserialize(def.requestSerialize(message));
}

/** A message through the wire as a server response: what a client of the method receives. */
function asResponse<Req, Res, ReqOut, ResOut>(def: MethodDefinition<Req, Res, ReqOut, ResOut>, message: Res) {
  return def.responseDeserialize(def.responseSerialize(message));
}

const meta = { version: 42, createdAt: '2026-11-22T05:00:00.000Z', updatedAt: '2026-11-22T05:00:01.000Z' };

/** A spec with every field away from its default. */
function fullSpec(mode: ServiceSpec['mode']): ServiceSpec {
  return {
    name: 'web',
    labels: { tier: 'front', 'com.example.owner': 'ops' },
    task: {
      ...defaultTaskSpec('registry.example/web:2', ['/bin/web', '--serve']),
      args: ['-v'],
      env: ['A=1', 'B=two words'],
      workdir: '/srv',
      user: '1000:1000',
      hostname: '{{.Service.Name}}-{{.Task.Slot}}',
      dns: { nameservers: ['10.0.0.2'], search: ['example.org'], options: ['ndots:2'] },
      resources: {
        limits: { nanoCpus: 1_500_000_000, memoryBytes: 512 * 1024 ** 2 },
        reservations: { nanoCpus: 250_000_000, memoryBytes: 64 * 1024 ** 2 },
      },
      restartPolicy: { condition: 'on-failure', delayMs: 2_000, maxAttempts: 3, windowMs: 60_000 },
      placement: { constraints: ['node.role==worker', 'node.labels.zone!=us'] },
      networks: [{ target: 'net0000000000000000000001', aliases: ['www', 'front'] }],
      stopGracePeriodMs: 30_000,
      capAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'],
      capDrop: ['CAP_CHOWN'],
      readOnly: true,
      init: false,
      noNewPrivileges: true,
      seccomp: 'unconfined',
      mounts: [
        { type: 'bind', source: '/srv', target: '/data', readonly: true, tmpfsSizeBytes: 0, tmpfsMode: 0 },
        {
          type: 'volume',
          source: 'cache',
          target: '/cache',
          readonly: false,
          tmpfsSizeBytes: 0,
          tmpfsMode: 0,
        },
        {
          type: 'tmpfs',
          source: '',
          target: '/run',
          readonly: false,
          tmpfsSizeBytes: 1 << 20,
          tmpfsMode: 0o1777,
        },
      ],
      stopSignal: 'SIGQUIT',
    },
    mode,
    update: {
      parallelism: 2,
      delayMs: 10_000,
      order: 'start-first',
      failureAction: 'rollback',
      monitorMs: 8_000,
      maxFailureRatio: 0.25,
    },
    rollback: {
      parallelism: 0,
      delayMs: 0,
      order: 'stop-first',
      failureAction: 'continue',
      monitorMs: 1_000,
      maxFailureRatio: 0.5,
    },
    endpoint: {
      mode: 'vip',
      ports: [
        { protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: 'ingress' },
        { protocol: 'udp', targetPort: 53, publishedPort: 0, publishMode: 'host', idleTimeoutSeconds: 600 },
        {
          protocol: 'tcp',
          targetPort: 443,
          publishedPort: 443,
          publishMode: 'ingress',
          preserveClientAddress: true,
          idleTimeoutSeconds: 2_073_600,
        },
      ],
    },
  };
}

test('a full ServiceSpec survives CreateService on the wire, both modes', () => {
  for (const mode of [{ replicated: { replicas: 7 } }, { global: {} }] as ServiceSpec['mode'][]) {
    const spec = fullSpec(mode);
    const received = asRequest(control.CreateService, { spec: serviceSpecToWire(spec) });
    assert.deepEqual(serviceSpecFromWire(received.spec), spec);
    // What the server decodes is exactly the shape serviceSpecToWire produces.
    assert.deepEqual(received.spec, serviceSpecToWire(spec));
  }
});

test('zero replicas is a replicated mode on the wire, not an absent one', () => {
  const spec = fullSpec({ replicated: { replicas: 0 } });
  const received = asRequest(control.CreateService, { spec: serviceSpecToWire(spec) });
  assert.deepEqual(serviceSpecFromWire(received.spec).mode, { replicated: { replicas: 0 } });
});

test('a minimal request decodes to Docker defaults', () => {
  const received = asRequest(control.CreateService, { spec: { name: 'web', task: { image: 'nginx' } } });
  const spec = serviceSpecFromWire(received.spec);
  assert.deepEqual(spec, {
    name: 'web',
    labels: {},
    task: defaultTaskSpec('nginx'),
    mode: { replicated: { replicas: 1 } },
    update: fullDefaults().update,
    rollback: fullDefaults().update,
    endpoint: { mode: 'vip', ports: [] },
  });
  // A port with only its target: tcp, dynamic, ingress.
  const withPort = asRequest(control.CreateService, {
    spec: { name: 'w', task: { image: 'x' }, endpoint: { ports: [{ targetPort: 80 }] } },
  });
  assert.deepEqual(serviceSpecFromWire(withPort.spec).endpoint.ports, [
    { protocol: 'tcp', targetPort: 80, publishedPort: 0, publishMode: 'ingress' },
  ]);
});

function fullDefaults() {
  return {
    update: {
      parallelism: 1,
      delayMs: 0,
      order: 'stop-first',
      failureAction: 'pause',
      monitorMs: 5_000,
      maxFailureRatio: 0,
    },
  };
}

test('Service, Network and Task responses decode to what the converters produced', () => {
  const service: Service = {
    id: 'svc0000000000000000000001',
    meta,
    spec: fullSpec({ replicated: { replicas: 3 } }),
    previousSpec: fullSpec({ replicated: { replicas: 1 } }),
    specVersion: 5,
    endpoint: {
      ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: 'ingress' }],
      virtualIps: [{ networkId: 'net0000000000000000000001', addr: '10.0.1.2/24' }],
    },
    updateStatus: {
      state: 'updating',
      startedAt: meta.createdAt,
      completedAt: '',
      message: 'update in progress',
    },
  };
  assert.deepEqual(
    asResponse(control.GetService, { service: serviceToWire(service) }).service,
    serviceToWire(service),
  );
  const fresh: Service = { ...service, previousSpec: undefined, updateStatus: undefined };
  const decoded = asResponse(control.GetService, { service: serviceToWire(fresh) }).service!;
  assert.equal(decoded.previousSpec, null);
  assert.equal(decoded.updateStatus, null);

  const network: Network = {
    id: 'net0000000000000000000001',
    meta,
    spec: {
      name: 'appnet',
      driver: 'overlay',
      ipam: [{ subnet: '10.20.0.0/16', gateway: '10.20.0.254', ipRange: '10.20.1.0/24' }],
      attachable: true,
      internal: true,
      ingress: false,
      options: { mtu: '1400' },
      labels: { a: 'b' },
    },
    ipam: [{ subnet: '10.20.0.0/16', gateway: '10.20.0.254', ipRange: '10.20.1.0/24' }],
    vni: 4097,
  };
  assert.deepEqual(
    asResponse(control.GetNetwork, { network: networkToWire(network) }).network,
    networkToWire(network),
  );
  const spec = asRequest(control.CreateNetwork, { spec: network.spec }).spec;
  assert.deepEqual(networkSpecFromWire(spec), network.spec);

  const task: Task = {
    id: 'tsk0000000000000000000001',
    meta,
    serviceId: service.id,
    slot: 2,
    nodeId: 'node-a',
    spec: service.spec.task,
    specVersion: 5,
    serviceName: 'web',
    desiredState: 'running',
    status: {
      state: 'failed',
      timestamp: meta.updatedAt,
      message: 'exited',
      err: 'exit status 3',
      exitCode: 3,
    },
    networks: [{ networkId: network.id, addresses: ['10.20.1.3/16'], aliases: ['www'] }],
    endpoint: service.endpoint,
  };
  const got = asResponse(control.GetTask, { task: taskToWire(task) }).task!;
  // proto3 `optional` decodes with a synthetic oneof naming the member set.
  assert.equal(got.status?._exitCode, 'exitCode');
  delete got.status?._exitCode;
  assert.deepEqual(got, taskToWire(task));
});
