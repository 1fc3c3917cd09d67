import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseAccel,
  kernelCommandLine,
  parseMemory,
  planVmLab,
  qemuArgv,
  vcpusPerVm,
  type Accel,
  shellQuote,
  sshArgv,
  sshControlPath,
  UNUSED_GUEST_MODULES,
} from './plan.js';
import { vmInitArgs } from './swarm.js';

const planOpts = {
  name: 'vmt',
  subnetIndex: 261,
  vms: 3,
  memoryMiB: 1024,
  accel: 'kvm',
  hostCpus: 2,
  labDir: '/run/swarmlite-lab/labs/vmt',
  vmRoot: '/var/lib/swarmlite-lab',
} as const;
const plan = planVmLab(planOpts);

test('memory sizes parse in MiB and stay within bounds', () => {
  for (const [input, mib] of [
    ['1G', 1024],
    ['1g', 1024],
    ['768M', 768],
    ['512', 512],
    ['2G', 2048],
  ] as const) {
    assert.equal(parseMemory(input), mib, input);
  }
  for (const bad of ['', '0', '1T', '1.5G', '-1G', '256M', '100G', 'lots', '01G']) {
    assert.throws(() => parseMemory(bad), /--memory must be a size/, bad);
  }
});

test('a VM lab plan names every VM from the lab name and subnet', () => {
  assert.equal(plan.subnet, '198.19.5.0/24');
  assert.equal(plan.machineAddress, '198.19.5.254');
  assert.equal(plan.switchNetns, 'vmt-switch');
  assert.equal(plan.shareDir, '/var/lib/swarmlite-lab/vmt/share');
  assert.deepEqual(
    plan.vms.map((vm) => [vm.hostname, vm.address, vm.tap, vm.mac, vm.processName, vm.disk]),
    [
      [
        'node1',
        '198.19.5.11',
        'vmt-vm1',
        '52:54:00:01:05:01',
        'vmt-node1',
        '/var/lib/swarmlite-lab/vmt/node1.qcow2',
      ],
      [
        'node2',
        '198.19.5.12',
        'vmt-vm2',
        '52:54:00:01:05:02',
        'vmt-node2',
        '/var/lib/swarmlite-lab/vmt/node2.qcow2',
      ],
      [
        'node3',
        '198.19.5.13',
        'vmt-vm3',
        '52:54:00:01:05:03',
        'vmt-node3',
        '/var/lib/swarmlite-lab/vmt/node3.qcow2',
      ],
    ],
  );
  assert.equal(plan.vms[1]!.qmpSocket, '/run/swarmlite-lab/labs/vmt/node2/qmp.sock');
});

test('tap names fit the kernel limit for the longest lab name and host index', () => {
  const big = planVmLab({
    name: 'abcdefgh',
    subnetIndex: 511,
    vms: 200,
    memoryMiB: 512,
    accel: 'tcg',
    hostCpus: 2,
    labDir: '/l',
    vmRoot: '/v',
  });
  for (const vm of big.vms) assert.ok(Buffer.byteLength(vm.tap) <= 15, vm.tap);
  assert.equal(new Set(big.vms.map((vm) => vm.mac)).size, 200, 'MACs are unique within the lab');
  assert.equal(big.vms[199]!.mac, '52:54:00:01:ff:c8');
});

test("the kernel command line carries the VM's identity and no gateway", () => {
  for (const needed of ['virtio_blk', 'virtio_net', '9pnet_virtio', 'ext4', 'evdev', 'button', 'vxlan']) {
    assert.ok(!UNUSED_GUEST_MODULES.includes(needed), `${needed} is needed`);
  }
  assert.equal(
    kernelCommandLine(plan.vms[0]!),
    'root=/dev/vda rw console=ttyS0,115200 net.ifnames=0 panic=-1 mitigations=off ' +
      'systemd.default_timeout_start_sec=900 systemd.default_device_timeout_sec=900 ' +
      'modprobe.blacklist=ahci,i2c_i801,lpc_ich,iTCO_wdt,intel_pmc_bxt,pcspkr,psmouse,serio_raw,' +
      'kvm_amd,kvm_intel,ccp,cfg80211,efi_pstore systemd.hostname=node1 ' +
      'ip=198.19.5.11:::255.255.255.0:node1:eth0:off',
  );
});

test('QEMU argv: two vCPUs, KVM, the CoW disk, the tap, the read-only share, console and QMP files', () => {
  const image = { disk: '/c/base.qcow2', kernel: '/c/vmlinuz', initrd: '/c/initrd.img' };
  const argv = qemuArgv(plan, plan.vms[1]!, image, '/usr/bin/qemu-system-x86_64');
  const pairs = new Map<string, string[]>();
  for (let i = 1; i < argv.length; i++) {
    if (argv[i]!.startsWith('-') && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-')) {
      pairs.set(argv[i]!, [...(pairs.get(argv[i]!) ?? []), argv[i + 1]!]);
      i++;
    }
  }
  assert.equal(argv[0], '/usr/bin/qemu-system-x86_64');
  assert.deepEqual(pairs.get('-name'), ['vmt-node2,process=vmt-node2']);
  assert.deepEqual(pairs.get('-machine'), ['q35']);
  assert.deepEqual(pairs.get('-accel'), ['kvm']);
  assert.deepEqual(pairs.get('-cpu'), ['host,-arch-capabilities']);
  assert.deepEqual(pairs.get('-smp'), ['2']);
  assert.deepEqual(pairs.get('-m'), ['1024M']);
  assert.deepEqual(pairs.get('-kernel'), ['/c/vmlinuz']);
  assert.deepEqual(pairs.get('-initrd'), ['/c/initrd.img']);
  assert.deepEqual(pairs.get('-drive'), [
    'file=/var/lib/swarmlite-lab/vmt/node2.qcow2,if=virtio,format=qcow2,discard=unmap,cache=unsafe',
  ]);
  assert.deepEqual(pairs.get('-netdev'), ['tap,id=net0,ifname=vmt-vm2,script=no,downscript=no']);
  assert.deepEqual(pairs.get('-device'), [
    'virtio-net-pci,netdev=net0,mac=52:54:00:01:05:02',
    'virtio-rng-pci',
  ]);
  assert.deepEqual(pairs.get('-virtfs'), [
    'local,path=/var/lib/swarmlite-lab/vmt/share,mount_tag=swarmlite-lab,security_model=none,readonly=on,id=share',
  ]);
  assert.deepEqual(pairs.get('-serial'), ['file:/run/swarmlite-lab/labs/vmt/node2/console.log']);
  assert.deepEqual(pairs.get('-qmp'), ['unix:/run/swarmlite-lab/labs/vmt/node2/qmp.sock,server=on,wait=off']);
  assert.ok(argv.includes('-nodefaults') && argv.includes('-no-user-config'));
  assert.ok(
    !argv.some((a) => a.includes('user,') || a.includes('hostfwd')),
    'no user-mode network: no way out',
  );
});

test('TCG VMs emulate the CPU: no host CPU model, one host thread per vCPU', () => {
  const argv = qemuArgv(
    { ...plan, accel: 'tcg', vcpus: 1 },
    plan.vms[0]!,
    { disk: 'd', kernel: 'k', initrd: 'i' },
    'qemu',
  );
  assert.equal(argv[argv.indexOf('-machine') + 1], 'q35');
  assert.equal(argv[argv.indexOf('-accel') + 1], 'tcg,thread=multi');
  assert.equal(argv[argv.indexOf('-cpu') + 1], 'max');
  assert.equal(argv[argv.indexOf('-smp') + 1], '1');
});

test('vCPUs per VM: 2 with KVM; with TCG no more busy threads than cores, at least 1 each', () => {
  const cases: [Accel, number, number, number][] = [
    // accel, host cores, VMs, vCPUs each
    ['kvm', 2, 3, 2],
    ['kvm', 1, 1, 2],
    ['tcg', 2, 1, 2],
    ['tcg', 2, 2, 1],
    ['tcg', 2, 3, 1],
    ['tcg', 1, 1, 1],
    ['tcg', 8, 3, 2],
    ['tcg', 16, 1, 2],
    ['tcg', 4, 0, 2],
  ];
  for (const [accel, cores, vms, vcpus] of cases) {
    assert.equal(vcpusPerVm(accel, cores, vms), vcpus, `${accel} ${cores} cores ${vms} VMs`);
  }
  assert.equal(planVmLab({ ...planOpts, accel: 'tcg', hostCpus: 2, vms: 1 }).vcpus, 2);
  assert.equal(planVmLab({ ...planOpts, accel: 'tcg', hostCpus: 2, vms: 3 }).vcpus, 1);
});

test('the accelerator: hardware KVM when there is one, TCG on PVM or without /dev/kvm', () => {
  const cases: [string, boolean, string[], string][] = [
    ['auto', true, ['kvm', 'kvm_intel'], 'kvm'],
    ['auto', true, ['kvm', 'kvm_amd'], 'kvm'],
    ['auto', true, ['kvm', 'kvm_pvm'], 'tcg'],
    ['auto', false, ['kvm', 'kvm_intel'], 'tcg'],
    ['auto', false, [], 'tcg'],
    ['kvm', true, ['kvm', 'kvm_pvm'], 'kvm'],
    ['tcg', true, ['kvm', 'kvm_intel'], 'tcg'],
  ];
  for (const [requested, devKvm, kvmModules, accel] of cases) {
    assert.equal(
      chooseAccel(requested, { devKvm, kvmModules }).accel,
      accel,
      `${requested} ${devKvm} ${kvmModules}`,
    );
  }
  assert.match(chooseAccel('auto', { devKvm: true, kvmModules: ['kvm_pvm'] }).why, /PVM/);
  assert.throws(() => chooseAccel('kvm', { devKvm: false, kvmModules: [] }), /\/dev\/kvm/);
  assert.throws(() => chooseAccel('hvf', { devKvm: true, kvmModules: [] }), /--accel must be/);
});

test('commands for ssh are quoted so the remote shell sees the same words', () => {
  for (const [arg, quoted] of [
    ['swarmlite', 'swarmlite'],
    ['198.18.0.11:2377', '198.18.0.11:2377'],
    ['a b', "'a b'"],
    ["it's", `'it'\\''s'`],
    ['$(reboot)', "'$(reboot)'"],
    ['', "''"],
    ['{{.Node.Hostname}}-{{.Task.Slot}}', "'{{.Node.Hostname}}-{{.Task.Slot}}'"],
  ] as const) {
    assert.equal(shellQuote(arg), quoted, arg);
  }
  const argv = sshArgv({
    ssh: '/usr/bin/ssh',
    key: '/k',
    knownHosts: '/kh',
    address: '198.18.0.11',
    command: ['sh', '-c', 'echo "$HOSTNAME"'],
  });
  assert.deepEqual(argv.slice(-3), ['root@198.18.0.11', '--', `sh -c 'echo "$HOSTNAME"'`]);
  assert.ok(argv.includes('StrictHostKeyChecking=yes') && argv.includes('UserKnownHostsFile=/kh'));
  assert.ok(argv.includes('BatchMode=yes'), 'never prompts');
  assert.ok(!argv.some((a) => a.startsWith('Control')), 'no shared connection unless asked');
});

test("ssh shares one connection per VM through a socket in the VM's run-time folder", () => {
  const vm = plan.vms[0]!;
  assert.equal(sshControlPath(vm), '/run/swarmlite-lab/labs/vmt/node1/ssh.sock');
  const argv = sshArgv({
    ssh: 'ssh',
    key: '/k',
    knownHosts: '/kh',
    address: vm.address,
    command: ['true'],
    controlPath: sshControlPath(vm),
  });
  const options = argv.filter((_, i) => argv[i - 1] === '-o');
  for (const option of [
    'ControlMaster=auto',
    'ControlPath=/run/swarmlite-lab/labs/vmt/node1/ssh.sock',
    'ControlPersist=300',
    'ServerAliveInterval=10',
    'ServerAliveCountMax=3',
  ]) {
    assert.ok(options.includes(option), option);
  }
  assert.deepEqual(argv.slice(-3), ['root@198.19.5.11', '--', 'true']);
  // A Unix socket path must fit sun_path (108 bytes) for the longest lab name and host index.
  const longest = planVmLab({
    ...planOpts,
    name: 'abcdefgh',
    vms: 200,
    labDir: '/run/swarmlite-lab/labs/abcdefgh',
  }).vms[199]!;
  assert.ok(Buffer.byteLength(sshControlPath(longest)) < 108, sshControlPath(longest));
});

test("swarm init on a VM lab: swarmlite's 1 s heartbeat with KVM, Docker's 5 s on emulated VMs", () => {
  assert.deepEqual(vmInitArgs('198.18.0.11', 'kvm'), [
    'swarmlite',
    'init',
    '--advertise-addr',
    '198.18.0.11',
  ]);
  assert.deepEqual(vmInitArgs('198.18.0.11', 'tcg'), [
    ...['swarmlite', 'init', '--advertise-addr', '198.18.0.11'],
    ...['--dispatcher-heartbeat', '5s'],
  ]);
});
