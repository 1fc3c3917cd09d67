// Docker's container options through the control API, as a remote client sends them: names taken in
// Docker's spellings and stored in one form, defaults not stored at all, anything Linux or swarmlite
// does not have refused with INVALID_ARGUMENT naming it, and nothing changed by a refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { Service } from '../../api/objects/index.js';
import type { Mount } from '../../api/gen/swarmlite/objects/v1/Mount.js';
import type { TaskSpec } from '../../api/gen/swarmlite/objects/v1/TaskSpec.js';
import { assertRefused, fixture, wireSpec, type Fixture } from './service-test-fixtures.js';

const S = grpc.status;
const stored = (f: Fixture, name: string): Service =>
  f.store.view((tx) => tx.find('service', 'name', name)[0]!);
const withTask = (name: string, task: TaskSpec) =>
  wireSpec(name, { task: { image: 'host', command: ['true'], ...task } });

test('create: the options are stored in their one form, and what the reply carries is what was stored', async () => {
  const f = await fixture();
  const mounts: Mount[] = [
    { type: 'bind', source: '/srv', target: '/data', readonly: true },
    { type: 'volume', source: 'cache', target: '/cache' },
    { type: 'tmpfs', target: '/run', tmpfsSizeBytes: 1 << 20, tmpfsMode: 0o1700 },
  ];
  const { service } = await f.call('CreateService', {
    spec: withTask('web', {
      capAdd: ['net_admin', 'CAP_SYS_TIME', 'NET_ADMIN'],
      capDrop: ['all'],
      readOnly: true,
      init: false,
      noNewPrivileges: true,
      seccomp: 'unconfined',
      mounts,
      stopSignal: 'usr1',
    }),
  });
  const { task } = stored(f, 'web').spec;
  assert.deepEqual(
    {
      capAdd: task.capAdd,
      capDrop: task.capDrop,
      readOnly: task.readOnly,
      init: task.init,
      noNewPrivileges: task.noNewPrivileges,
      seccomp: task.seccomp,
      stopSignal: task.stopSignal,
    },
    {
      capAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'],
      capDrop: ['ALL'],
      readOnly: true,
      init: false,
      noNewPrivileges: true,
      seccomp: 'unconfined',
      stopSignal: 'SIGUSR1',
    },
  );
  assert.deepEqual(task.mounts, [
    { type: 'bind', source: '/srv', target: '/data', readonly: true, tmpfsSizeBytes: 0, tmpfsMode: 0 },
    { type: 'volume', source: 'cache', target: '/cache', readonly: false, tmpfsSizeBytes: 0, tmpfsMode: 0 },
    {
      type: 'tmpfs',
      source: '',
      target: '/run',
      readonly: false,
      tmpfsSizeBytes: 1 << 20,
      tmpfsMode: 0o1700,
    },
  ]);
  assert.deepEqual(service.spec.task.capAdd, ['CAP_NET_ADMIN', 'CAP_SYS_TIME']);
  assert.equal(service.spec.task.init, false);
  assert.equal(service.spec.task.stopSignal, 'SIGUSR1');
  assert.equal(service.spec.task.mounts.length, 3);

  // proto3's unset values (false, '', [], init absent) are Docker's defaults: nothing is stored.
  await f.call('CreateService', {
    spec: withTask('plain', {
      capAdd: [],
      readOnly: false,
      noNewPrivileges: false,
      seccomp: '',
      stopSignal: '',
    }),
  });
  const plain = stored(f, 'plain').spec.task;
  for (const key of [
    'capAdd',
    'capDrop',
    'readOnly',
    'init',
    'noNewPrivileges',
    'seccomp',
    'mounts',
    'stopSignal',
  ])
    assert.equal(key in plain, false, key);
  // init=true is kept as asked, as Docker's --init.
  await f.call('CreateService', { spec: withTask('tini', { init: true }) });
  assert.equal(stored(f, 'tini').spec.task.init, true);
});

test('create: every bad option is refused with INVALID_ARGUMENT naming it, and changes nothing', async () => {
  const f = await fixture();
  const cases: [TaskSpec, RegExp][] = [
    [{ capAdd: ['NET_WIZARD'] }, /invalid task\.capAdd "NET_WIZARD": no such Linux capability/],
    [{ capDrop: ['CAP_'] }, /invalid task\.capDrop "CAP_": no such Linux capability/],
    [{ seccomp: '/etc/profile.json' }, /invalid task\.seccomp "\/etc\/profile\.json": use unconfined/],
    [{ stopSignal: 'SIGNOPE' }, /invalid task\.stopSignal "SIGNOPE"/],
    [
      { mounts: [{ type: 'nfs', target: '/x' }] },
      /invalid task\.mounts\[0\]\.type "nfs": use bind, volume, tmpfs/,
    ],
    [{ mounts: [{ type: '', target: '/x' }] }, /invalid task\.mounts\[0\]\.type ""/],
    [
      { mounts: [{ type: 'bind', source: '/srv', target: 'data' }] },
      /mount target "data": it must be an absolute path/,
    ],
    [{ mounts: [{ type: 'bind', source: '/srv', target: '/' }] }, /the root filesystem cannot be replaced/],
    [{ mounts: [{ type: 'bind', source: 'srv', target: '/x' }] }, /source "srv" must be an absolute path/],
    [{ mounts: [{ type: 'volume', target: '/x' }] }, /anonymous volumes are not supported/],
    // The runtime's own mounts: refused here, not by every node that would try the task.
    [
      { mounts: [{ type: 'tmpfs', target: '/proc/' }] },
      /mount target "\/proc\/": it is reserved by the runtime/,
    ],
    [{ mounts: [{ type: 'volume', source: '../x', target: '/x' }] }, /invalid volume name "\.\.\/x"/],
    [{ mounts: [{ type: 'tmpfs', source: 'x', target: '/x' }] }, /a tmpfs has no source/],
    [{ mounts: [{ type: 'tmpfs', target: '/x', tmpfsMode: 0o17777 }] }, /invalid tmpfs mode 17777/],
    [
      { mounts: [{ type: 'tmpfs', target: '/x', tmpfsSizeBytes: -1 }] },
      /task\.mounts\[0\]\.tmpfsSizeBytes must be a whole number/,
    ],
    [
      { mounts: [{ type: 'bind', source: '/a', target: '/x', tmpfsSizeBytes: 10 }] },
      /tmpfs-size and tmpfs-mode are for tmpfs mounts/,
    ],
    [
      {
        mounts: [
          { type: 'tmpfs', target: '/x' },
          { type: 'bind', source: '/a', target: '/x/' },
        ],
      },
      /duplicate mount point "\/x"/,
    ],
  ];
  for (const [task, message] of cases)
    await assertRefused(f, 'CreateService', { spec: withTask('api', task) }, S.INVALID_ARGUMENT, message);
});

test('update: options change, are cleared to the default, and are refused as on create', async () => {
  const f = await fixture();
  await f.call('CreateService', {
    spec: withTask('web', { capAdd: ['NET_ADMIN'], readOnly: true, init: true }),
  });
  const version = () => stored(f, 'web').meta.version;
  await f.call('UpdateService', {
    ref: 'web',
    version: version(),
    spec: withTask('web', { capAdd: [], capDrop: ['chown'], mounts: [{ type: 'tmpfs', target: '/tmp' }] }),
  });
  const task = stored(f, 'web').spec.task;
  assert.equal('capAdd' in task, false);
  assert.equal('readOnly' in task, false);
  assert.equal('init' in task, false);
  assert.deepEqual(task.capDrop, ['CAP_CHOWN']);
  assert.deepEqual(
    task.mounts?.map((m) => m.target),
    ['/tmp'],
  );
  // The previous spec keeps what the service had.
  assert.equal(stored(f, 'web').previousSpec?.task.init, true);
  await assertRefused(
    f,
    'UpdateService',
    { ref: 'web', version: version(), spec: withTask('web', { capAdd: ['BOGUS'] }) },
    S.INVALID_ARGUMENT,
    /invalid task\.capAdd "BOGUS"/,
  );
});
