import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isMounted, mountedOverlayLowerDirs, overlayOptions, pathInRoot, rootfsPaths } from './rootfs.js';

test("mounted overlays' layer lists, read from mountinfo's super options; other mounts ignored", () => {
  const mountinfo = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro',
    '301 22 0:60 / /var/lib/swl/tasks/t1/merged rw,relatime - overlay overlay rw,lowerdir=/l/2:/l/1,upperdir=/u,workdir=/w,uuid=on',
    '302 22 0:61 / /var/lib/swl/tasks/t2/merged rw,relatime shared:9 - overlay overlay rw,lowerdir=/l/3,upperdir=/u2,workdir=/w2',
    '303 22 0:62 / /mnt/odd rw - overlay overlay rw,upperdir=/u3',
    '',
  ].join('\n');
  assert.deepEqual(mountedOverlayLowerDirs(mountinfo), [['/l/2', '/l/1'], ['/l/3']]);
  assert.deepEqual(mountedOverlayLowerDirs(''), []);
});

test('overlay options: lower layers top first, the private upper and work folders; bad paths refused', () => {
  const paths = rootfsPaths('/var/lib/swl/tasks/t1');
  assert.equal(
    overlayOptions(['/l/2', '/l/1'], paths),
    'lowerdir=/l/2:/l/1,upperdir=/var/lib/swl/tasks/t1/upper,workdir=/var/lib/swl/tasks/t1/work',
  );
  assert.throws(() => overlayOptions([], paths), /at least one layer/);
  for (const bad of ['rel/dir', '/a:b', '/a,b'])
    assert.throws(() => overlayOptions([bad], paths), /cannot use .* in an overlay/);
  assert.throws(() => overlayOptions(Array(200).fill(`/${'x'.repeat(30)}`), paths), /too many or too long/);
});

test('paths inside a root follow symlinks as the container would, never out of the root', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'swl-rootfs-test-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  writeFileSync(join(root, 'usr', 'bin', 'sh'), '');
  symlinkSync('/usr/bin', join(root, 'bin')); // absolute: inside the root, not the host's /usr/bin
  symlinkSync('../../../../../etc', join(root, 'usr', 'escape'));
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));
  assert.equal(pathInRoot(root, '/bin/sh'), join(root, 'usr/bin/sh'));
  assert.equal(pathInRoot(root, 'bin/../etc/passwd'), join(root, 'etc/passwd'));
  assert.equal(pathInRoot(root, '/usr/escape/passwd'), join(root, 'etc/passwd'));
  assert.equal(pathInRoot(root, '/../../etc/shadow'), join(root, 'etc/shadow'));
  assert.equal(pathInRoot(root, '/missing/x'), join(root, 'missing/x'));
  assert.throws(() => pathInRoot(root, '/loop1/x'), /too many levels of symbolic links/);
});

test('mount points from mountinfo', () => {
  const info =
    '36 35 98:0 / /mnt/a rw,noatime master:1 - ext3 /dev/root rw\n37 35 0:5 / /proc rw - proc proc rw\n';
  assert.equal(isMounted('/mnt/a', info), true);
  assert.equal(isMounted('/mnt', info), false);
});
