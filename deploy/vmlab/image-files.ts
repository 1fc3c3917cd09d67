// The files that make a Debian root file system a lab VM, and the lab's first-boot script, as pure
// functions (golden-tested): the image is built once and shared by every lab, so nothing here is
// per-lab or per-VM; a VM's identity comes from its kernel command line (plan.ts), a lab's from its share.
import { SHARE_MOUNT, SHARE_TAG } from './plan.js';

/** Where the image keeps the lab's offline apt repository and the first-boot marker. */
export const IMAGE_LAB_DIR = '/var/lib/swarmlite-lab';
export const IMAGE_APT_REPO = `${IMAGE_LAB_DIR}/apt`;
export const FIRSTBOOT_UNIT = 'swarmlite-lab-firstboot.service';
export const FIRSTBOOT_SCRIPT = `${SHARE_MOUNT}/firstboot.sh`;
export const FIRSTBOOT_DONE = `${IMAGE_LAB_DIR}/firstboot.done`;
/** The share's copy of the tree as one tar file, and where a VM unpacks it (its own disk). */
export const SHARE_SOURCE_TAR = 'src.tar';
export const VM_SOURCE_DIR = `${IMAGE_LAB_DIR}/src`;

/**
 * Debian packages of the image besides the `apt` variant's essentials (install.sh adds its own).
 * ca-certificates is on every Debian host install.sh meets (the installer's and the cloud images'
 * base): in the image, as there; on an emulated CPU its trigger (a rehash of every certificate) took
 * minutes of each VM's first boot.
 */
export const IMAGE_PACKAGES = [
  'linux-image-amd64',
  'systemd-sysv',
  'udev',
  'dbus',
  'openssh-server',
  'ca-certificates',
];
/** Units the image enables: networking from the kernel command line, and the first boot. */
export const IMAGE_UNITS = ['systemd-networkd.service', 'systemd-network-generator.service', FIRSTBOOT_UNIT];
/**
 * Units the image masks: apt's daily timers (a fresh image has never run them, so they fire at boot
 * and hold the dpkg lock that install.sh's apt-get needs; the offline repository never changes) and
 * the file system maintenance timers of a throwaway disk.
 */
export const IMAGE_MASKED_UNITS = [
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'e2scrub_all.timer',
  'e2scrub_reap.service',
  'fstrim.timer',
];
/**
 * The kernel modules the image's initramfs holds (initramfs-tools MODULES=list): what mounts the
 * root disk. Debian's default (MODULES=most) packs every storage and file system driver, which an
 * emulated CPU spends its first boot seconds unpacking and probing.
 */
export const INITRAMFS_MODULES = ['virtio_pci', 'virtio_blk', 'ext4'];

/** path in the image → content. */
export function imageFiles(sshPublicKey: string): Record<string, string> {
  return {
    '/etc/fstab': [
      '# swarmlite lab VM: the root disk, and the lab share (the swarmlite tree, the first-boot script)',
      '/dev/vda / ext4 rw,errors=remount-ro 0 1',
      `${SHARE_TAG} ${SHARE_MOUNT} 9p trans=virtio,version=9p2000.L,ro,nofail,msize=262144 0 0`,
      '',
    ].join('\n'),
    // VMs reach nothing but the lab: the packages install.sh needs are in the image, and apt finds
    // them there (downloaded with the image, indexed with dpkg-scanpackages).
    '/etc/apt/sources.list': `deb [trusted=yes] file:${IMAGE_APT_REPO} ./\n`,
    '/root/.ssh/authorized_keys': sshPublicKey.trim() + '\n',
    '/etc/ssh/sshd_config.d/swarmlite-lab.conf': [
      '# swarmlite lab: root logs in with the lab key only',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'UseDNS no',
      '',
    ].join('\n'),
    // No /etc/hostname: systemd.hostname= on the kernel command line names each VM.
    '/etc/hostname': '',
    [`/etc/systemd/system/${FIRSTBOOT_UNIT}`]: firstbootUnit(),
    // dpkg's fsyncs protect a package database across power loss; a lab disk does not outlive its lab.
    '/etc/dpkg/dpkg.cfg.d/swarmlite-lab': '# swarmlite lab: a throwaway disk\nforce-unsafe-io\n',
    // A lab VM must not wait 2 minutes for a network that is configured statically.
    '/etc/systemd/system/systemd-networkd-wait-online.service.d/swarmlite-lab.conf':
      '[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=20\n',
  };
}

/**
 * Runs the lab's first-boot script from the share once (a marker on the VM's own disk keeps a reboot
 * from running it again). A lab without a script (`--no-install`) boots bare VMs.
 */
export function firstbootUnit(): string {
  return [
    '[Unit]',
    "Description=swarmlite lab: first boot (the lab share's firstboot.sh)",
    'Wants=network-online.target',
    'After=network-online.target remote-fs.target',
    `RequiresMountsFor=${SHARE_MOUNT}`,
    `ConditionPathExists=${FIRSTBOOT_SCRIPT}`,
    `ConditionPathExists=!${FIRSTBOOT_DONE}`,
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=/bin/sh ${FIRSTBOOT_SCRIPT}`,
    `ExecStartPost=/usr/bin/touch ${FIRSTBOOT_DONE}`,
    'StandardOutput=journal+console',
    'StandardError=journal+console',
    // An install on an emulated CPU on a busy machine took over 20 minutes: the lab's own wait bounds it.
    'TimeoutStartSec=infinity',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * The commands that unpack the share's tar of the tree onto the VM's disk. Over 9p every file costs
 * round trips to QEMU (measured on TCG: ~25 ms a file, 4,700 files, minutes for install.sh's copy),
 * one tar file streams (42 MB in 5 s); install.sh then copies from a local disk.
 */
export function unpackSourceCommands(): string[] {
  return [
    `rm -rf ${VM_SOURCE_DIR}`,
    `mkdir -p ${VM_SOURCE_DIR}`,
    `tar -xf ${SHARE_MOUNT}/${SHARE_SOURCE_TAR} -C ${VM_SOURCE_DIR}`,
  ];
}

/** The share's first-boot script: install swarmlite from the lab's copy of the working tree. */
export function firstbootScript(opts: { lab: string; nodeTarball: string }): string {
  return [
    '#!/bin/sh',
    `# swarmlite lab ${opts.lab}: first boot of every VM (written by swarmlite lab up --vms).`,
    '# The daemon it installs is started and enabled by systemd; the lab then runs init and join.',
    'set -eu',
    ...unpackSourceCommands(),
    // An emulated VM beside other work took 11 minutes to start the daemon: install.sh waits an hour.
    'export SWARMLITE_INSTALL_WAIT_S=3600',
    `${VM_SOURCE_DIR}/deploy/install.sh --source ${VM_SOURCE_DIR} --node-tarball ${SHARE_MOUNT}/${opts.nodeTarball}`,
    '',
  ].join('\n');
}
