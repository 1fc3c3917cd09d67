// The specs the CLI builds survive proto/local.proto's encoding unchanged: field names and shapes
// match the wire contract (a typo would silently drop a field on the way to the leader).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { services } from '../api/rpc.js';
import { buildNetworkSpec } from './commands-network.js';
import { applyUpdateOptions, buildCreateSpec } from './service-spec.js';

const method = (name: string) => services.local().service[name]!;
type Port = { preserveClientAddress?: boolean; idleTimeoutSeconds?: number };
/**
 * The oneof member not chosen: null as the CLI builds it, absent as proto-loader decodes it; a port's
 * unset mesh options arrive as proto3's defaults (false, 0).
 */
const decoded = <
  T extends { replicated?: unknown; global?: unknown; task: { init?: boolean }; endpoint: { ports: Port[] } },
>(
  spec: T,
) => ({
  ...Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== null)),
  // Docker's container options the flags left unset arrive as proto3's defaults; a set `init`
  // (proto3 `optional`) with the synthetic oneof naming it.
  task: {
    capAdd: [],
    capDrop: [],
    readOnly: false,
    noNewPrivileges: false,
    seccomp: '',
    mounts: [],
    stopSignal: '',
    ...spec.task,
    ...(spec.task.init !== undefined ? { _init: 'init' } : {}),
  },
  endpoint: {
    ...spec.endpoint,
    ports: spec.endpoint.ports.map((p) => ({ preserveClientAddress: false, idleTimeoutSeconds: 0, ...p })),
  },
});
const roundTrip = (name: string, req: object) => {
  const m = method(name);
  return m.requestDeserialize(m.requestSerialize(req));
};

test('a created spec crosses the wire unchanged (replicated and global)', () => {
  const spec = buildCreateSpec(
    'host',
    ['sh', '-c', 'echo hi'],
    {
      name: 'web',
      replicas: '3',
      publish: ['5000:80/udp', 'published=443,target=8443,client-address=preserve,idle-timeout=2h'],
      network: ['front'],
      env: ['A=1'],
      constraint: ['node.role==worker'],
      limitMemory: '1g',
      limitCpu: '0.5',
      label: ['a=b'],
      dns: ['1.1.1.1'],
      updateMaxFailureRatio: '0.25',
    },
    {},
  );
  assert.deepEqual(roundTrip('CreateService', { spec }), { spec: { ...decoded(spec), mode: 'replicated' } });
  const global = buildCreateSpec('host', [], { name: 'agent', mode: 'global' }, {});
  assert.deepEqual(roundTrip('CreateService', { spec: global }), {
    spec: { ...decoded(global), mode: 'global' },
  });
});

test('an update request (read-back spec with its mode field) crosses the wire unchanged', () => {
  const readBack = { ...buildCreateSpec('img:1', [], { name: 'web' }, {}), mode: 'replicated' as const };
  const spec = applyUpdateOptions(readBack, { image: 'img:2', replicas: '4' }, {});
  const req = { ref: 'web', version: 42, spec, force: true };
  assert.deepEqual(roundTrip('UpdateService', req), { ...req, spec: decoded(spec) });
});

test("Docker's container flags cross the wire unchanged, on create and on update", () => {
  const spec = buildCreateSpec(
    'busybox',
    ['-c', 'echo hi'],
    {
      name: 'web',
      entrypoint: 'sh',
      capAdd: ['net_admin'],
      capDrop: ['CAP_CHOWN'],
      readOnly: true,
      init: false,
      securityOpt: ['no-new-privileges', 'seccomp=unconfined'],
      mount: [
        'type=bind,src=/srv,dst=/data,ro',
        'type=volume,source=cache,target=/cache',
        'type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1700',
      ],
      stopSignal: 'usr1',
    },
    {},
  );
  assert.deepEqual(roundTrip('CreateService', { spec }), { spec: { ...decoded(spec), mode: 'replicated' } });
  const readBack = { ...spec, mode: 'replicated' as const };
  const updated = applyUpdateOptions(
    readBack,
    { init: true, capAdd: ['CHOWN'], mountRm: ['/cache'], mountAdd: ['type=tmpfs,target=/tmp'] },
    {},
  );
  const req = { ref: 'web', version: 42, spec: updated, force: false };
  assert.deepEqual(roundTrip('UpdateService', req), { ...req, spec: decoded(updated) });
});

test('a network spec crosses the wire unchanged', () => {
  const spec = buildNetworkSpec('back', {
    driver: 'overlay',
    subnet: ['10.1.0.0/24'],
    gateway: ['10.1.0.1'],
    opt: ['mtu=1400'],
  });
  assert.deepEqual(roundTrip('CreateNetwork', { spec }), { spec });
});
