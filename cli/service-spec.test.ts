import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../lib/errors.js';
import { defaultRollbackConfig, defaultTaskSpec, defaultUpdateConfig } from '../api/objects/index.js';
import { applyUpdateOptions, buildCreateSpec, checkUpdateOptions } from './service-spec.js';

const isUsage = (pattern: RegExp) => (err: unknown) =>
  err instanceof UserError && err.exitCode === 2 && pattern.test(err.message);

test("create with no flags is Docker's defaults: one replica, vip, no ports", () => {
  const spec = buildCreateSpec('host', ['sleep', '1'], {}, {});
  assert.deepEqual(spec, {
    name: '',
    labels: {},
    // The words after the image are the args, as Docker's: the image's entrypoint stays.
    task: { ...defaultTaskSpec('host'), args: ['sleep', '1'] },
    replicated: { replicas: 1 },
    global: null,
    update: defaultUpdateConfig(),
    rollback: defaultRollbackConfig(),
    endpoint: { mode: 'vip', ports: [] },
  });
});

test('create maps every flag to its field', () => {
  const spec = buildCreateSpec(
    'host',
    ['sh', '-c', 'echo hi'],
    {
      name: 'web',
      replicas: '3',
      publish: ['5000:80', 'published=53,target=53,protocol=udp,mode=host'],
      network: ['front', 'back'],
      env: ['A=1', 'FROM_CLI'],
      workdir: '/srv',
      user: 'nobody',
      hostname: '{{.Node.Hostname}}-{{.Task.Slot}}',
      constraint: ['node.role==worker'],
      limitMemory: '512m',
      reserveMemory: '100k',
      limitCpu: '1.5',
      reserveCpu: '0.25',
      restartCondition: 'on-failure',
      restartDelay: '2s',
      restartMaxAttempts: '3',
      restartWindow: '1m',
      updateParallelism: '2',
      updateDelay: '10s',
      updateOrder: 'start-first',
      updateFailureAction: 'rollback',
      updateMonitor: '30s',
      updateMaxFailureRatio: '0.5',
      rollbackParallelism: '0',
      rollbackFailureAction: 'continue',
      endpointMode: 'vip',
      dns: ['10.0.0.2'],
      dnsSearch: ['example.org'],
      dnsOption: ['ndots:2'],
      stopGracePeriod: '30s',
      label: ['tier=web'],
    },
    { FROM_CLI: 'x' },
  );
  assert.equal(spec.name, 'web');
  assert.deepEqual(spec.labels, { tier: 'web' });
  assert.deepEqual(spec.replicated, { replicas: 3 });
  assert.deepEqual(spec.task.command, []);
  assert.deepEqual(spec.task.args, ['sh', '-c', 'echo hi']);
  assert.deepEqual(spec.task.env, ['A=1', 'FROM_CLI=x']);
  assert.equal(spec.task.hostname, '{{.Node.Hostname}}-{{.Task.Slot}}');
  assert.deepEqual(spec.task.networks, [
    { target: 'front', aliases: [] },
    { target: 'back', aliases: [] },
  ]);
  assert.deepEqual(spec.task.resources, {
    limits: { nanoCpus: 1_500_000_000, memoryBytes: 512 * 1024 ** 2 },
    reservations: { nanoCpus: 250_000_000, memoryBytes: 102_400 },
  });
  assert.deepEqual(spec.task.restartPolicy, {
    condition: 'on-failure',
    delayMs: 2000,
    maxAttempts: 3,
    windowMs: 60_000,
  });
  assert.deepEqual(spec.update, {
    parallelism: 2,
    delayMs: 10_000,
    order: 'start-first',
    failureAction: 'rollback',
    monitorMs: 30_000,
    maxFailureRatio: 0.5,
  });
  assert.deepEqual(spec.rollback, { ...defaultRollbackConfig(), parallelism: 0, failureAction: 'continue' });
  assert.deepEqual(spec.task.dns, {
    nameservers: ['10.0.0.2'],
    search: ['example.org'],
    options: ['ndots:2'],
  });
  assert.equal(spec.task.stopGracePeriodMs, 30_000);
  assert.equal(spec.task.workdir, '/srv');
  assert.equal(spec.task.user, 'nobody');
  assert.deepEqual(spec.task.placement.constraints, ['node.role==worker']);
  assert.deepEqual(
    spec.endpoint.ports.map((p) => [p.publishedPort, p.targetPort, p.protocol, p.publishMode]),
    [
      [5000, 80, 'tcp', 'ingress'],
      [53, 53, 'udp', 'host'],
    ],
  );
});

test('create refuses conflicting or bad flags before anything is sent', () => {
  assert.throws(
    () => buildCreateSpec('host', [], { mode: 'global', replicas: '2' }, {}),
    isUsage(/--replicas/),
  );
  assert.throws(() => buildCreateSpec('', [], {}, {}), isUsage(/an image is required/));
  assert.throws(() => buildCreateSpec('host', [], { name: 'bad name' }, {}), isUsage(/invalid --name/));
  assert.throws(
    () => buildCreateSpec('host', [], { rollbackFailureAction: 'rollback' }, {}),
    isUsage(/--rollback-failure-action 'rollback': use pause, continue/),
  );
  assert.throws(
    () => buildCreateSpec('host', [], { endpointMode: 'dnsrr', publish: ['80:80'] }, {}),
    isUsage(/dnsrr/),
  );
  // dnsrr with host-mode ports is fine, as in Docker.
  const dnsrr = buildCreateSpec('host', [], { endpointMode: 'dnsrr', publish: ['target=80,mode=host'] }, {});
  assert.equal(dnsrr.endpoint.mode, 'dnsrr');
  assert.deepEqual(buildCreateSpec('host', [], { mode: 'global' }, {}).global, {});
});

const base = () =>
  buildCreateSpec(
    'img:1',
    ['serve'],
    {
      name: 'web',
      replicas: '2',
      env: ['A=1', 'B=2'],
      constraint: ['node.role==worker'],
      network: ['front'],
      publish: ['5000:80', '53:53/udp'],
      label: ['keep=1', 'drop=1'],
    },
    {},
  );

test('update edits only what its flags name', () => {
  const before = base();
  const after = applyUpdateOptions(before, { image: 'img:2', replicas: '5', limitMemory: '1g' }, {});
  assert.equal(after.task.image, 'img:2');
  assert.deepEqual(after.replicated, { replicas: 5 });
  assert.equal(after.task.resources.limits.memoryBytes, 1024 ** 3);
  assert.deepEqual({ ...after, task: before.task, replicated: before.replicated }, before);
  assert.equal(before.task.image, 'img:1', 'the spec read back is not mutated');
  assert.deepEqual(applyUpdateOptions(before, {}, {}), before);
});

test('update --*-add/--*-rm: removals, then additions replacing same keys', () => {
  const after = applyUpdateOptions(
    base(),
    {
      envAdd: ['B=3', 'C=4'],
      envRm: ['A'],
      constraintAdd: ['node.labels.zone==a'],
      constraintRm: ['node.role==worker'],
      networkAdd: ['back'],
      networkRm: ['front'],
      publishAdd: ['6000:80'],
      publishRm: ['53/udp'],
      labelAdd: ['new=1'],
      labelRm: ['drop'],
    },
    {},
  );
  assert.deepEqual(after.task.env, ['B=3', 'C=4']);
  assert.deepEqual(after.task.placement.constraints, ['node.labels.zone==a']);
  assert.deepEqual(after.task.networks, [{ target: 'back', aliases: [] }]);
  assert.deepEqual(
    after.endpoint.ports.map((p) => `${p.publishedPort}:${p.targetPort}/${p.protocol}`),
    ['6000:80/tcp'],
  );
  assert.deepEqual(after.labels, { keep: '1', new: '1' });
});

test('update --publish-add with the mesh options replaces the port of the same target and protocol', () => {
  const before = buildCreateSpec('host', [], { publish: ['5000:80', '53:53/udp'] }, {});
  const after = applyUpdateOptions(
    before,
    { publishAdd: ['published=5000,target=80,client-address=preserve,idle-timeout=30m'] },
    {},
  );
  assert.deepEqual(after.endpoint.ports, [
    before.endpoint.ports[1],
    {
      protocol: 'tcp',
      targetPort: 80,
      publishedPort: 5000,
      publishMode: 'ingress',
      preserveClientAddress: true,
      idleTimeoutSeconds: 1800,
    },
  ]);
  // and back to the default by adding it again without them
  const reverted = applyUpdateOptions(after, { publishAdd: ['published=5000,target=80'] }, {});
  assert.equal(reverted.endpoint.ports[1]!.preserveClientAddress, undefined);
  assert.throws(
    () => checkUpdateOptions({ publishAdd: ['target=80,mode=host,client-address=preserve'] }, {}),
    isUsage(/--publish-add .*client-address=preserve is for ingress mode/),
  );
});

test('update --args replaces the args and keeps the entrypoint; --replicas on a global service is refused', () => {
  const withEntrypoint = applyUpdateOptions(base(), { entrypoint: 'sh' }, {});
  const task = applyUpdateOptions(withEntrypoint, { args: `-c 'echo hi'` }, {}).task;
  assert.deepEqual([task.command, task.args], [['sh'], ['-c', 'echo hi']]);
  const global = buildCreateSpec('host', [], { mode: 'global' }, {});
  assert.throws(() => applyUpdateOptions(global, { replicas: '3' }, {}), isUsage(/replicated mode/));
  assert.throws(() => applyUpdateOptions(base(), { image: '' }, {}), isUsage(/--image cannot be empty/));
});

test('update flag values are checked without a spec (before the daemon is asked)', () => {
  assert.throws(() => checkUpdateOptions({ limitCpu: 'lots' }, {}), isUsage(/--limit-cpu 'lots'/));
  assert.throws(() => checkUpdateOptions({ publishAdd: ['x'] }, {}), isUsage(/--publish-add 'x'/));
  assert.throws(() => checkUpdateOptions({ updateDelay: '5' }, {}), isUsage(/--update-delay '5'/));
  checkUpdateOptions({ envAdd: ['A=1'], replicas: '4', restartCondition: 'none' }, {});
});
