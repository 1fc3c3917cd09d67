// Golden tests: the files baked into the base image and the lab's first-boot script. A deliberate
// change is recorded with UPDATE_GOLDEN=1 node test/run.js image-files (then review the diff).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/repo.js';
import { firstbootScript, imageFiles } from './image-files.js';
import { imageKey, mmdebstrapArgv } from './image.js';

const goldenDir = join(packageRoot(), 'deploy', 'vmlab', 'golden');

function golden(name: string, actual: string): void {
  const file = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its golden file`);
}

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGoldenGoldenGoldenGoldenGoldenGoldenGolden swarmlite-lab';

test('image files (golden)', () => {
  const files = imageFiles(KEY);
  golden(
    'image-files.txt',
    Object.entries(files)
      .map(([path, content]) => `==> ${path}\n${content}`)
      .join(''),
  );
});

test('first-boot script (golden)', () => {
  golden('firstboot.sh', firstbootScript({ lab: 'vmt', nodeTarball: 'node.tgz' }));
});

test('first boot unpacks the tree onto the VM disk and installs from there, Node.js from the share', () => {
  const script = firstbootScript({ lab: 'vmt', nodeTarball: 'node.tgz' });
  const lines = script.split('\n');
  const unpack = lines.findIndex((l) =>
    l.startsWith('tar -xf /mnt/swarmlite-lab/src.tar -C /var/lib/swarmlite-lab/src'),
  );
  const install = lines.findIndex((l) => l.includes('/install.sh '));
  assert.ok(unpack > 0 && install > unpack, 'unpacked before install.sh runs');
  assert.match(lines[install]!, /--source \/var\/lib\/swarmlite-lab\/src /);
  assert.match(lines[install]!, /--node-tarball \/mnt\/swarmlite-lab\/node\.tgz$/);
  assert.match(script, /^set -eu$/m);
});

test('the image has the lab key, the offline repository only, and no way to log in by password', () => {
  const files = imageFiles(KEY);
  assert.equal(files['/root/.ssh/authorized_keys'], KEY + '\n');
  assert.match(
    files['/etc/apt/sources.list']!,
    /^deb \[trusted=yes\] file:\/var\/lib\/swarmlite-lab\/apt \.\/\n$/,
  );
  assert.match(files['/etc/ssh/sshd_config.d/swarmlite-lab.conf']!, /PasswordAuthentication no/);
});

test('mmdebstrap downloads install.sh packages into the repository without installing them', () => {
  const argv = mmdebstrapArgv('/b/rootfs', ['nftables', 'curl'], '/etc/apt/sources.list.d/debian.sources');
  assert.deepEqual(argv.slice(-3), ['bookworm', '/b/rootfs', '/etc/apt/sources.list.d/debian.sources']);
  assert.ok(
    argv.includes('--include=linux-image-amd64,systemd-sysv,udev,dbus,openssh-server,ca-certificates'),
  );
  const hooks = argv.filter((a) => a.startsWith('--customize-hook='));
  assert.equal(hooks.length, 4);
  assert.match(hooks[0]!, /rm -f "\$1"\/var\/cache\/apt\/archives\/\*\.deb/);
  assert.match(hooks[1]!, /apt-get install --download-only .* nftables curl$/);
  assert.match(
    hooks[2]!,
    /mv "\$1"\/var\/cache\/apt\/archives\/\*\.deb "\$1\/var\/lib\/swarmlite-lab\/apt\/"/,
  );
  assert.ok(!argv.some((a) => /--include=.*(nftables|curl)/.test(a)), 'not installed in the image');
  assert.equal(
    hooks[3],
    '--customize-hook=echo MODULES=list > "$1"/etc/initramfs-tools/conf.d/swarmlite-lab.conf && ' +
      `printf '%s\\n' virtio_pci virtio_blk ext4 >> "$1"/etc/initramfs-tools/modules && ` +
      'chroot "$1" update-initramfs -u -k all',
    'a small initramfs: the root disk drivers only',
  );
});

test('the image cache key changes with every input and only with them', () => {
  const base = imageKey(['nftables'], KEY, 'deb http://deb.debian.org/debian bookworm main');
  assert.match(base, /^[0-9a-f]{16}$/);
  assert.equal(imageKey(['nftables'], KEY, 'deb http://deb.debian.org/debian bookworm main'), base);
  assert.notEqual(
    imageKey(['nftables', 'curl'], KEY, 'deb http://deb.debian.org/debian bookworm main'),
    base,
  );
  assert.notEqual(imageKey(['nftables'], KEY + 'x', 'deb http://deb.debian.org/debian bookworm main'), base);
  assert.notEqual(imageKey(['nftables'], KEY, 'deb http://other/debian bookworm main'), base);
});
