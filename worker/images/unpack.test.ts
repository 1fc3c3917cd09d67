// Layer unpacking: whiteouts and opaque folders in overlayfs's form (checked by mounting the layers),
// and every hostile archive refused with a clear error and nothing written outside the layer. Needs
// root (ownership, mknod, trusted xattrs, mount).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { run } from '../../lib/exec.js';
import { DigestMismatchError, sha256Digest } from './digest.js';
import { buildBusyboxImage, makeTar, type TarEntry } from './test-images.js';
import { CorruptLayerError, HostileLayerError, OPAQUE_XATTR, unpackLayer } from './unpack.js';

let base: string;
let outside: string;
let counter = 0;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'swlt-img-unpack-'));
  outside = join(base, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'do not touch\n');
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A fresh, empty layer folder two levels below `base` (so `../../outside` is the outside folder). */
async function layerDir(): Promise<string> {
  const dir = join(base, 'store', `layer${counter++}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function unpack(blob: Buffer, root: string, diffId?: string): Promise<number> {
  return unpackLayer(Readable.from([blob]), root, diffId ?? sha256Digest(blob), 'layer under test');
}

/** Everything under `dir`, with each file's content: the outside folder must never change. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const st = await lstat(join(dir, name));
    out.push(
      st.isFile() ? `${name}=${await readFile(join(dir, name), 'utf8')}` : `${name}/${st.mode.toString(8)}`,
    );
  }
  return out;
}

test('a layer is unpacked with modes, owners, links and symlinks as archived', async () => {
  const root = await layerDir();
  const tarBytes = await makeTar([
    { name: './', type: 'directory' },
    { name: './usr/bin/tool', body: '#!/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1001 },
    { name: 'usr/bin/tool-link', type: 'link', linkname: './usr/bin/tool' },
    { name: 'etc/alt', type: 'symlink', linkname: '/usr/bin/tool' },
    { name: 'etc/rel', type: 'symlink', linkname: '../../../../outside' },
    { name: 'var/', type: 'directory', mode: 0o700, uid: 5 },
    { name: 'var/run', type: 'fifo', mode: 0o600 },
    { name: 'etc/file', body: 'first' },
    { name: 'etc/file', body: 'second' },
    {
      name: 'bin/ping',
      body: 'x',
      pax: {
        'SCHILY.xattr.security.capability':
          '\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00',
      },
    },
  ]);
  const size = await unpack(gzipSync(tarBytes), root, sha256Digest(tarBytes));
  assert.equal(size, tarBytes.length);
  const tool = await lstat(join(root, 'usr/bin/tool'));
  assert.equal(tool.mode & 0o7777, 0o4755);
  assert.equal(tool.uid, 1000);
  assert.equal(tool.gid, 1001);
  assert.equal(tool.nlink, 2, 'the hardlink shares the inode');
  assert.equal(await readlink(join(root, 'etc/alt')), '/usr/bin/tool');
  assert.equal(
    await readlink(join(root, 'etc/rel')),
    '../../../../outside',
    'a symlink may point anywhere: it is read in the container',
  );
  const varDir = await lstat(join(root, 'var'));
  assert.equal(varDir.mode & 0o7777, 0o700);
  assert.equal(varDir.uid, 5);
  assert.ok((await lstat(join(root, 'var/run'))).isFIFO());
  assert.equal(
    await readFile(join(root, 'etc/file'), 'utf8'),
    'second',
    'a later entry replaces an earlier one',
  );
  const cap = await run('getfattr', ['-n', 'security.capability', '-e', 'hex', join(root, 'bin/ping')]);
  assert.match(cap, /security.capability=0x0100000200200000/);
});

test('whiteouts become 0:0 character devices and opaque markers the overlay xattr; overlayfs shows the result', async () => {
  const image = await buildBusyboxImage();
  const lower = await layerDir();
  const upper = await layerDir();
  await unpack(image.layers[0].blob, lower, image.layers[0].diffId);
  await unpack(image.layers[1].blob, upper, image.layers[1].diffId);

  const whiteout = await lstat(join(upper, 'etc/motd'));
  assert.ok(whiteout.isCharacterDevice());
  assert.equal(whiteout.rdev, 0);
  await assert.rejects(lstat(join(upper, 'etc/.wh.motd')), /ENOENT/);
  assert.equal(await run('getfattr', ['-n', OPAQUE_XATTR, '--only-values', join(upper, 'data')]), 'y');
  await assert.rejects(lstat(join(upper, 'data/.wh..wh..opq')), /ENOENT/);

  // Mounted as the runtime will (top layer first) in a private mount namespace: the deleted file is
  // gone, the opaque folder shows only the upper layer's content, and busybox runs from the image.
  const work = await layerDir();
  const merged = await layerDir();
  await mkdir(join(work, 'upper'));
  await mkdir(join(work, 'work'));
  const script =
    `mount -t overlay overlay -o lowerdir=${upper}:${lower},upperdir=${work}/upper,workdir=${work}/work ${merged} && ` +
    `chroot ${merged} /bin/sh -c 'ls /etc; echo --; ls /data; echo --; cat /etc/greeting'`;
  const out = await run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]);
  assert.equal(out, 'greeting\npasswd\n--\nc\n--\nhello\n');
});

test('hostile archives are refused with a clear error and write nothing outside the layer', async () => {
  const before = await snapshot(outside);
  const cases: Array<[string, TarEntry[], RegExp]> = [
    [
      'dot-dot path',
      [{ name: '../../outside/pwned', body: 'x' }],
      /"..\/..\/outside\/pwned" that leaves the layer/,
    ],
    ['dot-dot inside a path', [{ name: 'a/../../../outside/pwned', body: 'x' }], /leaves the layer/],
    ['absolute path', [{ name: join(outside, 'pwned'), body: 'x' }], /an absolute path/],
    [
      'symlink then a file through it',
      [
        { name: 'evil', type: 'symlink', linkname: outside },
        { name: 'evil/pwned', body: 'x' },
      ],
      /parent evil is a symlink/,
    ],
    [
      'relative symlink then a folder and file through it',
      [
        { name: 'evil', type: 'symlink', linkname: '../../outside' },
        { name: 'evil/sub/', type: 'directory' },
      ],
      /parent evil is a symlink/,
    ],
    [
      'symlink then a whiteout through it',
      [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/.wh.secret' }],
      /parent evil is a symlink/,
    ],
    [
      'symlink then an opaque marker through it',
      [{ name: 'evil', type: 'symlink', linkname: outside }, { name: 'evil/.wh..wh..opq' }],
      /parent evil is a symlink/,
    ],
    [
      'hardlink out with ..',
      [{ name: 'h', type: 'link', linkname: '../../outside/secret' }],
      /hardlink target .* leaves the layer/,
    ],
    [
      'hardlink to an absolute path',
      [{ name: 'h', type: 'link', linkname: join(outside, 'secret') }],
      /absolute hardlink target/,
    ],
    [
      'hardlink through a symlink',
      [
        { name: 'evil', type: 'symlink', linkname: outside },
        { name: 'h', type: 'link', linkname: 'evil/secret' },
      ],
      /goes through the symlink evil/,
    ],
    ['hardlink to nothing', [{ name: 'h', type: 'link', linkname: 'missing' }], /not in the layer/],
    [
      'character device',
      [{ name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1 }],
      /a device node \(character-device 1:1\)/,
    ],
    [
      'block device',
      [{ name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }],
      /a device node \(block-device 8:0\)/,
    ],
    ['nameless whiteout', [{ name: 'etc/.wh.' }], /a whiteout without a name/],
    ['dot-dot whiteout', [{ name: 'etc/.wh...' }], /a whiteout without a name/],
    ['opaque marker at the root', [{ name: '.wh..wh..opq' }], /opaque marker at the layer root/],
    [
      'smuggled overlay xattr',
      [{ name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } }],
      /the overlayfs xattr trusted.overlay.redirect/,
    ],
    [
      'file replacing a directory',
      [
        { name: 'd/', type: 'directory' },
        { name: 'd', type: 'symlink', linkname: outside },
      ],
      /a symlink replacing a directory/,
    ],
  ];
  for (const [name, entries, why] of cases) {
    const root = await layerDir();
    const blob = await makeTar(entries);
    await assert.rejects(unpack(blob, root), (err: unknown) => {
      assert.ok(err instanceof HostileLayerError, `${name}: ${String(err)}`);
      assert.match(err.message, /^layer under test: refused: entry /, name);
      assert.match(err.message, why, name);
      return true;
    });
    assert.deepEqual(await snapshot(outside), before, `${name}: the outside folder changed`);
  }
  // A symlink replaced by a file: the file is written in the layer, the symlink's target untouched.
  const root = await layerDir();
  await unpack(
    await makeTar([
      { name: 'a', type: 'symlink', linkname: join(outside, 'secret') },
      { name: 'a', body: 'inside' },
    ]),
    root,
  );
  assert.equal(await readFile(join(root, 'a'), 'utf8'), 'inside');
  assert.deepEqual(await snapshot(outside), before);
});

test('a bad digest or a truncated layer is refused', async () => {
  const tarBytes = await makeTar([
    { name: 'f', body: Buffer.alloc(20_000, 7) },
    { name: 'g', body: 'tail' },
  ]);
  const gz = gzipSync(tarBytes);
  const cases: Array<[string, Buffer, string, (err: unknown) => boolean]> = [
    ['wrong diff ID', tarBytes, sha256Digest('something else'), (e) => e instanceof DigestMismatchError],
    [
      'gzip cut short',
      gz.subarray(0, gz.length - 30),
      sha256Digest(tarBytes),
      (e) => e instanceof CorruptLayerError,
    ],
    [
      'tar cut inside a file',
      tarBytes.subarray(0, 5_000),
      sha256Digest(tarBytes),
      (e) => e instanceof CorruptLayerError,
    ],
    [
      'tar cut at a block boundary',
      tarBytes.subarray(0, 512 * 42),
      sha256Digest(tarBytes),
      (e) => e instanceof CorruptLayerError || e instanceof DigestMismatchError,
    ],
    [
      'not a tar',
      Buffer.from('hello world, this is not an archive'.repeat(30)),
      sha256Digest(tarBytes),
      (e) => e instanceof CorruptLayerError,
    ],
  ];
  for (const [name, blob, diffId, kind] of cases) {
    const root = await layerDir();
    await assert.rejects(unpack(blob, root, diffId), (err: unknown) => {
      assert.ok(kind(err), `${name}: ${String(err)}`);
      assert.match(
        (err as Error).message,
        /^layer under test: .*(digest mismatch|truncated or corrupt)/,
        name,
      );
      return true;
    });
  }
});
