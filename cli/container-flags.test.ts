import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../lib/errors.js';
import type { Mount } from '../api/objects/index.js';
import { effectiveCapAddDrop, parseMount, parseSecurityOpts } from './container-flags.js';
import { applyUpdateOptions, buildCreateSpec, checkUpdateOptions } from './service-spec.js';
import { decodedSpec, wireService } from './service-fixtures.js';
import { renderServicePretty } from './service-format.js';

const isUsage = (pattern: RegExp) => (err: unknown) =>
  err instanceof UserError && err.exitCode === 2 && pattern.test(err.message);

const mount = (over: Partial<Mount>): Mount => ({
  type: 'volume',
  source: '',
  target: '',
  readonly: false,
  tmpfsSizeBytes: 0,
  tmpfsMode: 0,
  ...over,
});

test("--mount: Docker's syntax, aliases and defaults", () => {
  const cases: [string, Mount][] = [
    [
      'type=bind,source=/srv/www,target=/usr/share/www',
      mount({ type: 'bind', source: '/srv/www', target: '/usr/share/www' }),
    ],
    [
      'type=bind,src=/srv,dst=/data,readonly',
      mount({ type: 'bind', source: '/srv', target: '/data', readonly: true }),
    ],
    [
      'type=bind,src=/srv,destination=/data,ro=true',
      mount({ type: 'bind', source: '/srv', target: '/data', readonly: true }),
    ],
    ['type=bind,src=/srv,dst=/data,ro=0', mount({ type: 'bind', source: '/srv', target: '/data' })],
    // The type is volume unless said otherwise, as in Docker.
    ['source=data,target=/var/lib/x', mount({ source: 'data', target: '/var/lib/x' })],
    ['type=tmpfs,target=/run', mount({ type: 'tmpfs', target: '/run' })],
    [
      'type=tmpfs,dst=/scratch,tmpfs-size=64m,tmpfs-mode=1770',
      mount({ type: 'tmpfs', target: '/scratch', tmpfsSizeBytes: 64 << 20, tmpfsMode: 0o1770 }),
    ],
    [' Type=tmpfs , Target=/run ', mount({ type: 'tmpfs', target: '/run' })],
  ];
  for (const [value, want] of cases) assert.deepEqual(parseMount(value), want, value);
});

test('--mount: bad values are one usage error naming the flag and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['type=bind,source=/srv', /target= is required/],
    ['type=nfs,target=/x', /type must be bind, volume or tmpfs/],
    ['type=bind,source=srv,target=/x', /source "srv" must be an absolute path/],
    ['type=bind,source=/srv,target=data', /mount target "data": it must be an absolute path/],
    ['type=bind,source=/srv,target=/', /the root filesystem cannot be replaced/],
    ['type=tmpfs,target=/dev/shm', /mount target "\/dev\/shm": it is reserved by the runtime/],
    ['type=volume,target=/x', /anonymous volumes are not supported/],
    ['type=volume,source=../etc,target=/x', /invalid volume name "\.\.\/etc"/],
    ['type=tmpfs,source=x,target=/x', /a tmpfs has no source/],
    ['type=bind,source=/srv,target=/x,tmpfs-size=1m', /tmpfs-size and tmpfs-mode are for tmpfs mounts/],
    ['type=tmpfs,target=/x,tmpfs-mode=999', /tmpfs-mode must be octal/],
    ['type=tmpfs,target=/x,tmpfs-size=lots', /use a size like 512m/],
    ['type=bind,source=/srv,target=/x,ro=maybe', /'maybe' is not true or false/],
    ['type=bind,source=/srv,target=/x,bind-propagation=shared', /bind-propagation is not supported/],
    ['type=volume,source=v,target=/x,volume-driver=nfs', /volume-driver is not supported/],
    ['type=bind,source=/srv,target=/x,colour=blue', /unknown field 'colour'/],
    ['type=bind,/srv,target=/x', /field '\/srv' must be a key=value pair/],
  ];
  for (const [value, pattern] of cases)
    assert.throws(
      () => parseMount(value),
      isUsage(new RegExp(`^invalid --mount '.*': .*${pattern.source}`)),
      value,
    );
  assert.throws(
    () => buildCreateSpec('img', [], { mount: ['type=tmpfs,target=/x', 'type=tmpfs,target=/x/'] }, {}),
    isUsage(/--mount: duplicate mount point "\/x"/),
  );
});

test('--security-opt: no-new-privileges in its three spellings, seccomp=unconfined|builtin, nothing else', () => {
  assert.deepEqual(parseSecurityOpts(['no-new-privileges']), { noNewPrivileges: true });
  assert.deepEqual(parseSecurityOpts(['no-new-privileges=false']), { noNewPrivileges: false });
  assert.deepEqual(parseSecurityOpts(['no-new-privileges:true']), { noNewPrivileges: true });
  assert.deepEqual(parseSecurityOpts(['seccomp=unconfined', 'no-new-privileges']), {
    seccomp: 'unconfined',
    noNewPrivileges: true,
  });
  assert.deepEqual(parseSecurityOpts(['seccomp=builtin']), { seccomp: 'builtin' });
  const refused: [string, RegExp][] = [
    ['seccomp=/etc/profile.json', /custom seccomp profiles are not supported/],
    ['apparmor=unconfined', /supports no-new-privileges\[=true\|false\] and seccomp=unconfined\|builtin/],
    ['label=disable', /supports no-new-privileges/],
    ['no-new-privileges=perhaps', /'perhaps' is not true or false/],
    ['', /supports no-new-privileges/],
  ];
  for (const [value, pattern] of refused)
    assert.throws(() => parseSecurityOpts([value]), isUsage(pattern), value);
});

test("capabilities: Docker's spellings, ALL alone on its side, an added one is not dropped", () => {
  const caps = (capAdd: string[], capDrop: string[]) => {
    const t = buildCreateSpec('img', [], { capAdd, capDrop }, {}).task;
    return [t.capAdd ?? [], t.capDrop ?? []];
  };
  assert.deepEqual(caps(['net_admin', 'CAP_SYS_TIME', 'NET_ADMIN'], []), [
    ['CAP_NET_ADMIN', 'CAP_SYS_TIME'],
    [],
  ]);
  assert.deepEqual(caps(['all', 'NET_ADMIN'], ['chown']), [['ALL'], ['CAP_CHOWN']]);
  assert.deepEqual(caps([], ['ALL', 'CHOWN']), [[], ['ALL']]);
  assert.deepEqual(caps(['CHOWN'], ['CHOWN', 'KILL']), [['CAP_CHOWN'], ['CAP_KILL']]);
  assert.deepEqual(effectiveCapAddDrop(['ALL'], ['ALL']), [['ALL'], []]);
  assert.throws(
    () => caps(['NET_WIZARD'], []),
    isUsage(/invalid --cap-add 'NET_WIZARD': no such Linux capability/),
  );
  assert.throws(() => caps([], ['RESET']), isUsage(/invalid --cap-drop 'RESET'/));
});

test('update --cap-add/--cap-drop: added to what the service has, each moving a capability between the lists', () => {
  const base = buildCreateSpec('img', [], { capAdd: ['NET_ADMIN'], capDrop: ['CHOWN'] }, {});
  const update = (capAdd: string[] | undefined, capDrop: string[] | undefined) => {
    const t = applyUpdateOptions(
      base,
      { ...(capAdd ? { capAdd } : {}), ...(capDrop ? { capDrop } : {}) },
      {},
    ).task;
    return [t.capAdd, t.capDrop];
  };
  assert.deepEqual(update(['sys_time'], undefined), [['CAP_NET_ADMIN', 'CAP_SYS_TIME'], ['CAP_CHOWN']]);
  // Adding what was dropped takes it off the drop list; dropping what was added, the reverse.
  assert.deepEqual(update(['CHOWN'], undefined), [['CAP_CHOWN', 'CAP_NET_ADMIN'], []]);
  assert.deepEqual(update(undefined, ['NET_ADMIN']), [[], ['CAP_CHOWN', 'CAP_NET_ADMIN']]);
  // One capability in both flags is added.
  assert.deepEqual(update(['KILL'], ['KILL']), [['CAP_KILL', 'CAP_NET_ADMIN'], ['CAP_CHOWN']]);
  // RESET empties its side first.
  assert.deepEqual(update(['RESET'], undefined), [[], ['CAP_CHOWN']]);
  assert.deepEqual(update(['RESET', 'KILL'], ['RESET']), [['CAP_KILL'], []]);
  assert.throws(() => update(['bogus'], undefined), isUsage(/invalid --cap-add 'bogus'/));
});

test('create: --entrypoint, --read-only, --init/--no-init, --security-opt, --stop-signal set their fields; unset ones stay out', () => {
  const t = buildCreateSpec(
    'img',
    ['-c', 'echo hi'],
    {
      entrypoint: `sh -x`,
      readOnly: true,
      init: false,
      securityOpt: ['no-new-privileges', 'seccomp=unconfined'],
      stopSignal: 'usr1',
    },
    {},
  ).task;
  assert.deepEqual(
    [t.command, t.args, t.readOnly, t.init, t.noNewPrivileges, t.seccomp, t.stopSignal],
    [['sh', '-x'], ['-c', 'echo hi'], true, false, true, 'unconfined', 'SIGUSR1'],
  );
  const plain = buildCreateSpec('img', [], {}, {}).task;
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
  assert.equal(buildCreateSpec('img', [], { stopSignal: '10' }, {}).task.stopSignal, 'SIGUSR1');
  assert.throws(
    () => buildCreateSpec('img', [], { stopSignal: 'SIGWHATEVER' }, {}),
    isUsage(/invalid --stop-signal 'SIGWHATEVER'/),
  );
  assert.throws(
    () => buildCreateSpec('img', [], { entrypoint: `sh -c 'x` }, {}),
    isUsage(/--entrypoint.*unterminated/),
  );
});

test('update: --mount-rm by target then --mount-add (replacing a mount on the same target); the other flags change only their fields', () => {
  const base = buildCreateSpec(
    'img',
    ['x'],
    {
      mount: ['type=bind,src=/srv,dst=/data', 'type=volume,src=cache,dst=/cache', 'type=tmpfs,dst=/run'],
      init: true,
      securityOpt: ['seccomp=unconfined', 'no-new-privileges'],
    },
    {},
  );
  const s = applyUpdateOptions(
    base,
    {
      mountRm: ['/cache/'],
      mountAdd: ['type=bind,src=/srv2,dst=/data,ro'],
      init: false,
      securityOpt: ['seccomp=builtin'],
    },
    {},
  );
  assert.deepEqual(s.task.mounts, [
    mount({ type: 'tmpfs', target: '/run' }),
    mount({ type: 'bind', source: '/srv2', target: '/data', readonly: true }),
  ]);
  assert.equal(s.task.init, false);
  assert.equal('seccomp' in s.task, false);
  assert.equal(s.task.noNewPrivileges, true);
  assert.deepEqual(s.task.args, ['x']);
  assert.equal(applyUpdateOptions(base, { readOnly: true }, {}).task.readOnly, true);
  assert.equal(
    applyUpdateOptions({ ...base, task: { ...base.task, readOnly: true } }, { readOnly: false }, {}).task
      .readOnly,
    false,
  );
  assert.throws(
    () => checkUpdateOptions({ mountAdd: ['type=tmpfs,dst=/a', 'type=tmpfs,dst=/a'] }, {}),
    isUsage(/--mount-add: duplicate mount point "\/a"/),
  );
  assert.throws(
    () => checkUpdateOptions({ mountAdd: ['type=tmpfs'] }, {}),
    isUsage(/--mount-add 'type=tmpfs': target= is required/),
  );
  assert.throws(
    () => checkUpdateOptions({ securityOpt: ['label=x'] }, {}),
    isUsage(/--security-opt 'label=x'/),
  );
});

test("inspect --pretty shows the container options in Docker's layout", () => {
  const spec = buildCreateSpec(
    'busybox',
    ['-c', 'httpd -f'],
    {
      name: 'web',
      entrypoint: 'sh',
      capAdd: ['NET_ADMIN', 'SYS_TIME'],
      capDrop: ['CHOWN'],
      init: true,
      readOnly: true,
      securityOpt: ['no-new-privileges'],
      stopSignal: 'SIGQUIT',
      mount: ['type=bind,src=/srv,dst=/data,ro', 'type=tmpfs,dst=/run'],
    },
    {},
  );
  const text = renderServicePretty(wireService({ spec }));
  const block = text.slice(text.indexOf('ContainerSpec:'), text.indexOf('Endpoint Mode:'));
  assert.equal(
    block,
    [
      'ContainerSpec:',
      ' Image:\t\tbusybox',
      ' Command:\tsh ',
      ' Args:\t\t-c httpd -f ',
      ' Init:\t\ttrue',
      ' ReadOnly:\ttrue',
      ' NoNewPrivileges: true',
      ' StopSignal:\tSIGQUIT',
      ' StopGracePeriod: 10s',
      'Capabilities:',
      ' Add: CAP_NET_ADMIN, CAP_SYS_TIME',
      ' Drop: CAP_CHOWN',
      'Mounts:',
      ' Target:\t/data',
      '  Source:\t/srv',
      '  ReadOnly:\ttrue',
      '  Type:\t\tbind',
      ' Target:\t/run',
      '  Source:\t',
      '  ReadOnly:\tfalse',
      '  Type:\t\ttmpfs',
      '',
    ].join('\n'),
  );
  // Nothing of them when unset.
  const plain = renderServicePretty(
    wireService({ spec: decodedSpec(buildCreateSpec('busybox', [], {}, {})) }),
  );
  assert.doesNotMatch(plain, /Capabilities|Mounts|Init|ReadOnly|StopSignal|Command/);
});
