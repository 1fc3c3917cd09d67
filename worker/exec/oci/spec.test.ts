import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../../lib/repo.js';
import { capabilityMask, DEFAULT_CAPABILITIES, effectiveCapabilities } from './capabilities.js';
import { ALWAYS_BLOCKED, CLONE_NAMESPACE_FLAGS, defaultSeccompProfile } from './seccomp.js';
import { buildOciConfig, type ContainerConfigInput } from './spec.js';

const base: ContainerConfigInput = {
  args: ['/bin/httpd', '-f', '-p', '80'],
  env: ['PATH=/bin', 'HOSTNAME=web-1'],
  cwd: '/www',
  uid: 0,
  gid: 0,
  additionalGids: [],
  hostname: 'web-1',
  rootfs: 'rootfs',
  readonlyRootfs: false,
  netnsPath: '/run/netns/swlt0123456789ab',
  cgroupsPath: '/swarmlite/swl/t0123456789abcdef',
  limits: { memoryBytes: 64 << 20, nanoCpus: 5e8, pidsMax: 4096 },
  swapAccounting: true,
  capAdd: [],
  capDrop: [],
  noNewPrivileges: false,
  etcFiles: { hosts: '/var/t/hosts', hostname: '/var/t/hostname', resolvConf: '/var/t/resolv.conf' },
  mounts: [],
  arch: 'x64',
};

const GOLDEN = join(packageRoot(), 'worker', 'exec', 'oci', 'testdata', 'config.golden.json');

test('golden: the whole config.json of a default container (UPDATE_GOLDEN=1 rewrites it)', () => {
  const text = JSON.stringify(buildOciConfig(base), null, 2) + '\n';
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text);
  assert.equal(text, readFileSync(GOLDEN, 'utf8'));
});

test("Docker's default isolation: capabilities, namespaces, masked and read-only paths, /sys, devices", () => {
  const c = buildOciConfig(base);
  assert.deepEqual([...c.process.capabilities.effective].sort(), [...DEFAULT_CAPABILITIES].sort());
  assert.equal(capabilityMask(c.process.capabilities.effective), '00000000a80425fb'); // Docker's CapEff
  assert.deepEqual(
    c.linux.namespaces.map((n) => n.type),
    ['pid', 'ipc', 'uts', 'mount', 'network'],
  );
  assert.equal(c.linux.namespaces.find((n) => n.type === 'network')!.path, base.netnsPath);
  for (const p of [
    '/proc/kcore',
    '/proc/keys',
    '/proc/timer_list',
    '/proc/sched_debug',
    '/sys/firmware',
    '/proc/acpi',
    '/proc/scsi',
  ])
    assert.ok(c.linux.maskedPaths.includes(p), p);
  assert.deepEqual(c.linux.readonlyPaths, [
    '/proc/bus',
    '/proc/fs',
    '/proc/irq',
    '/proc/sys',
    '/proc/sysrq-trigger',
  ]);
  assert.ok(c.mounts.find((m) => m.destination === '/sys')!.options.includes('ro'));
  assert.deepEqual(c.linux.resources.devices[0], { allow: false, access: 'rwm' });
  assert.equal(c.linux.resources.devices.filter((d) => d.allow && d.access === 'rwm').length, 9);
  assert.equal(c.process.noNewPrivileges, false);
  assert.equal(c.root.readonly, false);
  // /etc files per task, bound over the image's.
  for (const f of ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'])
    assert.equal(c.mounts.find((m) => m.destination === f)!.type, 'bind', f);
});

test('limits: memory without swap, CPU as a CFS quota of 100 ms, pids; none when not asked', () => {
  const c = buildOciConfig(base);
  assert.deepEqual(c.linux.resources.memory, { limit: 64 << 20, swap: 64 << 20 });
  assert.deepEqual(c.linux.resources.cpu, { quota: 50_000, period: 100_000 });
  assert.deepEqual(c.linux.resources.pids, { limit: 4096 });
  const none = buildOciConfig({ ...base, limits: { memoryBytes: 0, nanoCpus: 0, pidsMax: 10 } });
  assert.equal(none.linux.resources.memory, undefined);
  assert.equal(none.linux.resources.cpu, undefined);
  assert.deepEqual(buildOciConfig({ ...base, swapAccounting: false }).linux.resources.memory, {
    limit: 64 << 20,
  });
  // The kernel's smallest quota is 1 ms.
  assert.equal(
    buildOciConfig({ ...base, limits: { memoryBytes: 0, nanoCpus: 1e6, pidsMax: 1 } }).linux.resources.cpu!
      .quota,
    1000,
  );
});

test('cap-add/cap-drop as Docker reads them', () => {
  const table: [string[], string[], string[]][] = [
    [['net_admin'], [], [...DEFAULT_CAPABILITIES, 'CAP_NET_ADMIN']],
    [
      [],
      ['NET_RAW', 'cap_mknod'],
      DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_NET_RAW' && c !== 'CAP_MKNOD'),
    ],
    [['CHOWN'], ['ALL'], ['CAP_CHOWN']],
    [[], ['all'], []],
    [['SYS_ADMIN'], ['SYS_ADMIN'], [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']], // an explicit add wins
  ];
  for (const [add, drop, want] of table)
    assert.deepEqual(effectiveCapabilities(add, drop).sort(), [...want].sort(), `${add} / ${drop}`);
  assert.equal(effectiveCapabilities(['ALL'], []).length, 41);
  assert.throws(
    () => effectiveCapabilities(['NET_ADMN'], []),
    /invalid capability "NET_ADMN": unknown to Linux/,
  );
});

test('a non-root user keeps only the bounding set; options reach the config', () => {
  const c = buildOciConfig({
    ...base,
    uid: 1000,
    gid: 1000,
    additionalGids: [4],
    readonlyRootfs: true,
    noNewPrivileges: true,
    init: '/usr/bin/tini-static',
  });
  assert.deepEqual(c.process.capabilities.effective, []);
  assert.deepEqual(c.process.capabilities.permitted, []);
  assert.equal(c.process.capabilities.bounding.length, DEFAULT_CAPABILITIES.length);
  assert.deepEqual(c.process.user, { uid: 1000, gid: 1000, additionalGids: [4] });
  assert.equal(c.root.readonly, true);
  assert.equal(c.process.noNewPrivileges, true);
  assert.deepEqual(c.process.args, ['/dev/init', '--', '/bin/httpd', '-f', '-p', '80']);
  assert.deepEqual(
    c.mounts.find((m) => m.destination === '/dev/init'),
    {
      destination: '/dev/init',
      type: 'bind',
      source: '/usr/bin/tini-static',
      options: ['rbind', 'rprivate', 'ro'],
    },
  );
});

test('user mounts: parents before children, a user /etc/hosts wins, bad targets refused', () => {
  const c = buildOciConfig({
    ...base,
    mounts: [
      { type: 'tmpfs', target: '/data/cache', options: ['nosuid'] },
      { type: 'bind', source: '/srv/data', target: '/data', readonly: true },
      { type: 'bind', source: '/srv/hosts', target: '/etc/hosts', readonly: false },
    ],
  });
  const dests = c.mounts.map((m) => m.destination);
  assert.ok(dests.indexOf('/data') < dests.indexOf('/data/cache'));
  assert.deepEqual(
    c.mounts.filter((m) => m.destination === '/etc/hosts').map((m) => m.source),
    ['/srv/hosts'],
  );
  assert.deepEqual(c.mounts.find((m) => m.destination === '/data')!.options, ['rbind', 'rprivate', 'ro']);
  const bad: [ContainerConfigInput['mounts'], RegExp][] = [
    [
      [{ type: 'tmpfs', target: 'rel', options: [] }],
      /invalid mount target "rel": it must be an absolute path/,
    ],
    [[{ type: 'tmpfs', target: '/', options: [] }], /the root filesystem cannot be replaced/],
    [[{ type: 'tmpfs', target: '/proc', options: [] }], /"\/proc": it is reserved/],
    [[{ type: 'bind', source: 'x', target: '/x', readonly: false }], /invalid bind source "x"/],
    [
      [
        { type: 'tmpfs', target: '/x/', options: [] },
        { type: 'tmpfs', target: '/x', options: [] },
      ],
      /duplicate mount point "\/x"/,
    ],
  ];
  for (const [mounts, re] of bad) assert.throws(() => buildOciConfig({ ...base, mounts }), re);
  assert.throws(() => buildOciConfig({ ...base, args: [] }), /no command to run/);
});

test('seccomp=unconfined: no syscall filter at all; the capabilities stay as they are', () => {
  const c = buildOciConfig({ ...base, seccompUnconfined: true });
  assert.equal('seccomp' in c.linux, false);
  assert.equal(capabilityMask(c.process.capabilities.effective), '00000000a80425fb');
  assert.ok(buildOciConfig(base).linux.seccomp, 'the default profile without it');
});

test('seccomp: an EPERM allowlist; blocked calls stay out; SYS_ADMIN brings mount and namespaces back', () => {
  const p = defaultSeccompProfile([...DEFAULT_CAPABILITIES], 'x64');
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const allowed = new Set(
    p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names),
  );
  for (const name of ['read', 'write', 'openat', 'execve', 'socketpair', 'chroot', 'ptrace'])
    assert.ok(allowed.has(name), name);
  for (const name of [
    ...ALWAYS_BLOCKED,
    'mount',
    'umount2',
    'unshare',
    'setns',
    'reboot',
    'init_module',
    'bpf',
    'keyctl',
    'clock_settime',
    'acct',
  ])
    assert.ok(!allowed.has(name), name);
  const clone = p.syscalls.find((r) => r.names.includes('clone'))!;
  assert.deepEqual(clone.args, [
    { index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' },
  ]);
  assert.deepEqual(
    p.syscalls.find((r) => r.names.includes('clone3')),
    {
      names: ['clone3'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: 38,
    },
  );
  const admin = defaultSeccompProfile([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], 'x64');
  const adminAllowed = new Set(
    admin.syscalls.filter((r) => !r.args && r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names),
  );
  for (const name of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3'])
    assert.ok(adminAllowed.has(name), name);
  const noChroot = defaultSeccompProfile(
    DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_SYS_CHROOT'),
    'x64',
  );
  assert.ok(!noChroot.syscalls.some((r) => r.names.includes('chroot')));
  assert.deepEqual(defaultSeccompProfile([], 'arm64').architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.throws(() => defaultSeccompProfile([], 'mips'), /no seccomp profile for architecture mips/);
});
