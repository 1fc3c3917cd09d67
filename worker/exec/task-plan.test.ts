import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TaskLaunch } from '../agent/executor.js';
import { HOST_IMAGE_DEFAULTS, planTask, type PlanContext } from './task-plan.js';
import { resolveUser } from './users.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'alice:x:1000:1000:Alice:/home/alice:/bin/bash',
].join('\n');
const GROUP = ['root:x:0:', 'adm:x:4:alice', 'alice:x:1000:', 'docker:x:999:alice,bob'].join('\n');

const ctx: PlanContext = {
  nodeHostname: 'node1',
  swarmliteBinDir: '/opt/swarmlite/bin',
  pidsMax: 4096,
  image: HOST_IMAGE_DEFAULTS,
  passwd: PASSWD,
  group: GROUP,
  isExecutable: (p) => ['/bin/sh', '/usr/bin/env', '/usr/local/bin/app'].includes(p),
  isDirectory: (p) => ['/', '/srv', '/usr'].includes(p),
};

function launch(spec: Partial<TaskLaunch['spec']> = {}): TaskLaunch {
  return {
    taskId: 'tk0123456789abcdefghijklm',
    name: 'web.1.tk0123456789abcdefghijklm',
    serviceId: 'svc',
    serviceName: 'web',
    slot: 1,
    spec: {
      image: 'host',
      command: ['sh', '-c'],
      args: ['echo hi'],
      env: [],
      workdir: '',
      user: '',
      hostname: '',
      dns: { nameservers: [], search: [], options: [] },
      resources: { limits: { memoryBytes: 0, nanoCpus: 0 }, reservations: { memoryBytes: 0, nanoCpus: 0 } },
      restartPolicy: { condition: 'any', delayMs: 0, maxAttempts: 0, windowMs: 0 },
      placement: { constraints: [] },
      networks: [],
      stopGracePeriodMs: 10_000,
      ...spec,
    } as TaskLaunch['spec'],
  };
}

test('a plain host task: argv, Docker-like defaults, identity variables, swarmlite first on PATH', () => {
  const plan = planTask(launch(), ctx);
  assert.deepEqual(plan.argv, ['sh', '-c', 'echo hi']);
  assert.equal(plan.hostname, 'tk0123456789'); // the id's first 12 characters, as Docker does
  assert.equal(plan.workdir, '/');
  assert.equal(plan.user, undefined);
  assert.deepEqual(plan.env, [
    'PATH=/opt/swarmlite/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOSTNAME=tk0123456789',
    'SWARMLITE_TASK_NAME=web.1.tk0123456789abcdefghijklm',
    'SWARMLITE_TASK_ID=tk0123456789abcdefghijklm',
    'SWARMLITE_SERVICE_NAME=web',
    'SWARMLITE_NODE_HOSTNAME=node1',
    'HOME=/root',
  ]);
  assert.deepEqual(plan.limits, { memoryBytes: 0, nanoCpus: 0, pidsMax: 4096 });
});

test("the spec's environment wins, its PATH still gets swarmlite in front (once)", () => {
  const plan = planTask(
    launch({ env: ['PATH=/usr/local/bin:/bin', 'HOME=/srv', 'A=x=y', 'A=z', 'HOSTNAME=mine'] }),
    {
      ...ctx,
      isExecutable: (p) => p === '/bin/sh',
    },
  );
  assert.ok(plan.env.includes('PATH=/opt/swarmlite/bin:/usr/local/bin:/bin'));
  assert.ok(plan.env.includes('HOME=/srv') && plan.env.includes('A=z') && plan.env.includes('HOSTNAME=mine'));
  assert.ok(!plan.env.includes('A=x=y'));
  const again = planTask(launch({ env: ['PATH=/opt/swarmlite/bin:/bin'] }), ctx);
  assert.ok(again.env.includes('PATH=/opt/swarmlite/bin:/bin'));
});

test('hostname, workdir and user from the spec', () => {
  const plan = planTask(launch({ hostname: 'web-1', workdir: '/srv', user: 'alice' }), ctx);
  assert.equal(plan.hostname, 'web-1');
  assert.equal(plan.workdir, '/srv');
  assert.deepEqual(plan.user, { uid: 1000, gid: 1000, groups: [4, 999], home: '/home/alice' });
  assert.ok(plan.env.includes('HOME=/home/alice'));
  // A workdir under the private /tmp cannot be checked on the host: the entry script makes it.
  assert.equal(planTask(launch({ workdir: '/tmp/x' }), ctx).workdir, '/tmp/x');
});

test("users in Docker's forms", () => {
  assert.deepEqual(resolveUser('', PASSWD, GROUP), { uid: 0, gid: 0, groups: [], home: '/root' });
  assert.deepEqual(resolveUser('1000', PASSWD, GROUP), {
    uid: 1000,
    gid: 1000,
    groups: [4, 999],
    home: '/home/alice',
  });
  assert.deepEqual(resolveUser('4242', PASSWD, GROUP), { uid: 4242, gid: 0, groups: [], home: '/' });
  assert.deepEqual(resolveUser('alice:docker', PASSWD, GROUP), {
    uid: 1000,
    gid: 999,
    groups: [],
    home: '/home/alice',
  });
  assert.deepEqual(resolveUser('daemon:5', PASSWD, GROUP), { uid: 1, gid: 5, groups: [], home: '/usr/sbin' });
  assert.throws(
    () => resolveUser('mallory', PASSWD, GROUP),
    /unable to find user mallory: no matching entries in passwd file/,
  );
  assert.throws(() => resolveUser('alice:nogroup', PASSWD, GROUP), /unable to find group nogroup/);
  assert.throws(() => resolveUser('a:b:c', PASSWD, GROUP), /invalid user "a:b:c"/);
  assert.throws(() => resolveUser(':5', PASSWD, GROUP), /invalid user/);
});

test('limits pass through; too small ones are refused', () => {
  const plan = planTask(
    launch({
      resources: {
        limits: { memoryBytes: 64 << 20, nanoCpus: 5e8 },
        reservations: { memoryBytes: 0, nanoCpus: 0 },
      },
    }),
    ctx,
  );
  assert.deepEqual(plan.limits, { memoryBytes: 64 << 20, nanoCpus: 5e8, pidsMax: 4096 });
  const res = (memoryBytes: number, nanoCpus: number) => ({
    limits: { memoryBytes, nanoCpus },
    reservations: { memoryBytes: 0, nanoCpus: 0 },
  });
  assert.throws(
    () => planTask(launch({ resources: res(1 << 20, 0) }), ctx),
    /invalid memory limit 1048576: the minimum is 6MiB/,
  );
  assert.throws(
    () => planTask(launch({ resources: res(0, 1000) }), ctx),
    /invalid CPU limit .*minimum is 0.01/,
  );
});

test('bad input: one clear error each', () => {
  const cases: [Partial<TaskLaunch['spec']>, RegExp][] = [
    [{ command: [], args: [] }, /no command: image "host" has no default command/],
    [{ command: ['nosuchcommand'], args: [] }, /exec: "nosuchcommand": executable file not found in \$PATH$/],
    [{ command: ['/usr/bin/nope'], args: [] }, /exec: "\/usr\/bin\/nope": no such executable file$/],
    [{ command: ['A=B'], args: [] }, /cannot contain '='/],
    [{ env: ['NOEQUALS'] }, /invalid environment variable "NOEQUALS": use KEY=VALUE/],
    [{ env: ['=x'] }, /invalid environment variable "=x"/],
    [{ workdir: 'relative' }, /invalid workdir "relative": it must be an absolute path/],
    [{ workdir: '/nonexistent' }, /workdir "\/nonexistent" does not exist on this node/],
    [{ hostname: 'bad host' }, /invalid hostname "bad host"/],
    [{ user: 'nobody-here' }, /unable to find user nobody-here/],
  ];
  for (const [spec, message] of cases)
    assert.throws(() => planTask(launch(spec), ctx), message, JSON.stringify(spec));
  assert.throws(() => planTask({ ...launch(), taskId: '../etc' }, ctx), /invalid task id "..\/etc"/);
});

test('the command is found on the PATH the task will have, or relative to its workdir', () => {
  const plan = planTask(launch({ command: ['app'], args: [], env: ['PATH=/usr/local/bin'] }), ctx);
  assert.deepEqual(plan.argv, ['app']);
  assert.throws(
    () => planTask(launch({ command: ['app'], args: [] }), { ...ctx, isExecutable: () => false }),
    /not found in \$PATH/,
  );
  assert.deepEqual(
    planTask(launch({ command: ['./app'], args: [], workdir: '/usr' }), {
      ...ctx,
      isExecutable: (p) => p === '/usr/app',
    }).argv,
    ['./app'],
  );
});

test("an image's entrypoint, cmd, env, workdir and user, and the spec's overrides (Docker's rules)", () => {
  const image = {
    entrypoint: ['/bin/httpd', '-f'],
    cmd: ['-p', '80'],
    env: ['PATH=/opt/bin:/bin', 'MODE=image', 'KEEP=1'],
    workdir: '/www',
    user: 'alice',
  };
  const ictx: PlanContext = {
    ...ctx,
    image,
    swarmliteBinDir: undefined,
    isExecutable: (p) => p === '/bin/httpd',
  };
  const plain = planTask(launch({ image: 'httpd:1', command: [], args: [] }), ictx);
  assert.deepEqual(plain.argv, ['/bin/httpd', '-f', '-p', '80']);
  assert.equal(plain.workdir, '/www'); // made by the runtime when missing: not checked
  assert.equal(plain.user?.uid, 1000);
  assert.equal(plain.env[0], 'PATH=/opt/bin:/bin'); // no swarmlite folder: it is not in the image
  assert.ok(plain.env.includes('MODE=image') && plain.env.includes('KEEP=1'));
  const over = planTask(
    launch({
      image: 'httpd:1',
      command: [],
      args: ['-p', '8080'],
      env: ['MODE=spec'],
      user: '0',
      workdir: '/',
    }),
    ictx,
  );
  assert.deepEqual(over.argv, ['/bin/httpd', '-f', '-p', '8080']); // args replace cmd, keep the entrypoint
  assert.ok(over.env.includes('MODE=spec') && !over.env.includes('MODE=image'));
  assert.equal(over.user?.uid, 0);
  assert.equal(over.workdir, '/');
  // A command replaces the entrypoint.
  const cmd = planTask(launch({ image: 'httpd:1', command: ['/bin/httpd'], args: ['-h'] }), ictx);
  assert.deepEqual(cmd.argv, ['/bin/httpd', '-h']);
  assert.throws(
    () => planTask(launch({ image: 'x', command: [], args: [] }), { ...ictx, image: HOST_IMAGE_DEFAULTS }),
    /no command: image "x" has no entrypoint or cmd, give one/,
  );
  assert.throws(
    () => planTask(launch({ image: 'x' }), { ...ictx, image: { ...image, env: ['=bad'] } }),
    /invalid image environment variable "=bad"/,
  );
});

test("the stop signal: the spec's, else the image's STOPSIGNAL, else SIGTERM; a bad one refused", () => {
  assert.equal(planTask(launch(), ctx).stopSignal, 'SIGTERM');
  const ictx = { ...ctx, image: { ...HOST_IMAGE_DEFAULTS, stopSignal: 'SIGQUIT' } };
  assert.equal(planTask(launch(), ictx).stopSignal, 'SIGQUIT');
  assert.equal(planTask(launch({ stopSignal: 'SIGUSR1' }), ictx).stopSignal, 'SIGUSR1');
  // Images write it in any of Docker's forms.
  assert.equal(
    planTask(launch(), { ...ctx, image: { ...HOST_IMAGE_DEFAULTS, stopSignal: '2' } }).stopSignal,
    'SIGINT',
  );
  assert.throws(
    () =>
      planTask(launch({ image: 'x' }), { ...ctx, image: { ...HOST_IMAGE_DEFAULTS, stopSignal: 'SIGWHAT' } }),
    /invalid stop signal "SIGWHAT" in image "x"/,
  );
});
