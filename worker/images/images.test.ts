// The image service on a real store: load (docker save and OCI layout tars), save and load again,
// ls/inspect/tag/rm/prune with garbage collection, and hostile or damaged archives refused with
// nothing left behind. Needs root (layers keep owners, whiteouts are device nodes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { UserError } from '../../lib/errors.js';
import { BadArchiveError } from './archive.js';
import { DigestMismatchError, sha256Digest } from './digest.js';
import { ImageService } from './images.js';
import { MediaType, type Platform } from './manifest.js';
import { parseReference } from './reference.js';
import { ImageStore } from './store.js';
import {
  blobsOf,
  buildBusyboxImage,
  dockerSaveTar,
  makeTar,
  ociLayoutTar,
  type TestImage,
} from './test-images.js';
import { HostileLayerError } from './unpack.js';

let base: string;
let image: TestImage;
let n = 0;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'swlt-img-svc-'));
  image = await buildBusyboxImage();
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function freshService(
  inUse?: (id: string) => boolean,
  platform?: Platform,
): Promise<{ svc: ImageService; root: string }> {
  const root = join(base, `node${n++}`);
  await mkdir(root);
  const svc = await ImageService.open({
    dataRoot: root,
    ...(inUse ? { inUse } : {}),
    ...(platform ? { platform } : {}),
  });
  return { svc, root };
}

async function toBuffer(fn: (out: PassThrough) => Promise<void>): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await fn(out);
  return Buffer.concat(chunks);
}

async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

test('a docker save tar loads: tagged, inspectable, layers unpacked with the whiteout applied', async () => {
  const { svc } = await freshService();
  const loaded = await svc.load(
    Readable.from([await dockerSaveTar(image, ['busybox:test', 'localhost:5000/bb:v1'])]),
  );
  assert.deepEqual(loaded, [
    { id: image.configDescriptor.digest, tags: ['busybox:test', 'localhost:5000/bb:v1'] },
  ]);
  const [row] = svc.list();
  assert.equal(row.Id, image.configDescriptor.digest);
  assert.deepEqual(row.RepoTags, ['busybox:test', 'localhost:5000/bb:v1']);
  assert.equal(row.Created, Date.parse('2026-01-01T00:00:00Z') / 1000);
  assert.ok(row.Size > 1_000_000, 'busybox is in it');
  const info = await svc.inspect('busybox:test');
  assert.deepEqual(info.Config.Entrypoint, ['/bin/sh', '-c']);
  assert.deepEqual(info.Config.Env, ['PATH=/bin', 'GREETING=hello']);
  assert.deepEqual(
    info.RootFS.Layers,
    image.layers.map((l) => l.diffId),
  );
  assert.equal(info.Os, 'linux');
  // By ID, by ID prefix, by the fully qualified name: the same image.
  assert.equal((await svc.inspect(image.configDescriptor.digest)).Id, info.Id);
  assert.equal((await svc.inspect(image.configDescriptor.digest.slice(7, 19))).Id, info.Id);
  assert.equal((await svc.inspect('docker.io/library/busybox:test')).Id, info.Id);
  const dirs = svc.layerDirs('busybox:test');
  assert.equal(dirs.length, 2);
  assert.ok(dirs[0].endsWith(image.layers[1].diffId.slice(7)), 'top layer first');
  assert.ok((await lstat(join(dirs[0], 'etc/motd'))).isCharacterDevice());
  assert.equal((await svc.config('busybox:test')).config.config?.Cmd?.[0], 'cat /etc/greeting');
  await assert.rejects(svc.inspect('busybox:other'), /No such image: busybox:other/);
  await assert.rejects(svc.inspect('BAD'), /invalid reference format/);
});

test('an OCI layout tar of the same image shares its unpacked layers; save then load round-trips', async () => {
  const { svc } = await freshService();
  await svc.load(Readable.from([await dockerSaveTar(image, ['busybox:a'])]));
  const layerDir = svc.layerDirs('busybox:a')[1];
  const inode = (await stat(layerDir)).ino;
  const loaded = await svc.load(Readable.from([await ociLayoutTar(image, 'docker.io/library/busybox:b')]));
  assert.deepEqual(loaded, [{ id: image.configDescriptor.digest, tags: ['busybox:b'] }]);
  assert.equal(
    (await stat(svc.layerDirs('busybox:b')[1])).ino,
    inode,
    'the shared layer was not unpacked again',
  );
  assert.deepEqual(svc.list()[0].RepoTags, ['busybox:a', 'busybox:b']);

  const saved = await toBuffer((out) => svc.save(['busybox:b'], out));
  const { svc: other } = await freshService();
  assert.deepEqual(await other.load(Readable.from([saved])), [
    { id: image.configDescriptor.digest, tags: ['busybox:b'] },
  ]);
  const [mine, theirs] = [
    svc.store.byReference(parseReference('busybox:b')),
    other.store.byReference(parseReference('busybox:b')),
  ];
  assert.ok(mine && theirs);
  assert.equal(theirs.manifestDigest, mine.manifestDigest, 'same manifest digest after the round trip');
  assert.deepEqual(
    theirs.layers.map((l) => l.digest),
    mine.layers.map((l) => l.digest),
  );
  // The saved archive also carries Docker's manifest.json, for older `docker load`.
  const { svc: third } = await freshService();
  const dockerOnly = await stripOciFiles(saved);
  assert.deepEqual(await third.load(Readable.from([dockerOnly])), [
    { id: image.configDescriptor.digest, tags: ['busybox:b'] },
  ]);
});

/** The same archive without oci-layout and index.json: what a pre-25 Docker reads. */
async function stripOciFiles(archive: Buffer): Promise<Buffer> {
  const { extract } = await import('tar-stream');
  const ex = extract();
  const entries: Array<{ name: string; body: Buffer }> = [];
  const reading = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (entry.header.name !== 'oci-layout' && entry.header.name !== 'index.json') {
        entries.push({ name: entry.header.name, body: Buffer.concat(chunks) });
      }
    }
  })();
  ex.end(archive);
  await reading;
  return makeTar(entries);
}

test("an older docker save: two images, the second linking its layer to the first one's", async () => {
  const { svc } = await freshService();
  const other = await buildBusyboxImage({ marker: 'second' });
  const { gunzipSync } = await import('node:zlib');
  const baseTar = gunzipSync(image.layers[0].blob);
  const cfg = (img: TestImage) => `${img.configDescriptor.digest.slice(7)}.json`;
  const archive = await makeTar([
    {
      name: 'manifest.json',
      body: JSON.stringify([
        { Config: cfg(image), RepoTags: ['first:1'], Layers: ['base/layer.tar', 'top1/layer.tar'] },
        { Config: cfg(other), RepoTags: ['second:1'], Layers: ['base2/layer.tar', 'top2/layer.tar'] },
      ]),
    },
    { name: cfg(image), body: image.config },
    { name: cfg(other), body: other.config },
    { name: 'base/layer.tar', body: baseTar },
    { name: 'base2/layer.tar', type: 'symlink', linkname: '../base/layer.tar' },
    { name: 'top1/layer.tar', body: image.layers[1].blob },
    { name: 'top2/layer.tar', body: other.layers[1].blob },
  ]);
  assert.deepEqual(await svc.load(Readable.from([archive])), [
    { id: image.configDescriptor.digest, tags: ['first:1'] },
    { id: other.configDescriptor.digest, tags: ['second:1'] },
  ]);
  assert.equal(svc.layerDirs('first:1')[1], svc.layerDirs('second:1')[1], 'one unpacked base layer');
  // A link out of the archive is a missing file, not a path on disk.
  const escaping = await makeTar([
    { name: 'manifest.json', body: JSON.stringify([{ Config: 'c.json', Layers: [] }]) },
    { name: 'c.json', type: 'symlink', linkname: '../../../../etc/hostname' },
  ]);
  await assert.rejects(svc.load(Readable.from([escaping])), /c.json is missing/);
});

test('bad names at the service boundary are one clear error', async () => {
  const { svc } = await freshService();
  await assert.rejects(svc.pull('Bad:Name'), /invalid reference format/);
  await assert.rejects(svc.push('x@sha256:' + 'a'.repeat(64)), /cannot push a digest reference/);
  await assert.rejects(
    svc.push('localhost:5000/none:1'),
    /An image does not exist locally with the tag: localhost:5000\/none/,
  );
  await assert.rejects(svc.save([], new PassThrough()), /image save needs at least one image/);
  await assert.rejects(svc.save(['none:1'], new PassThrough()), /No such image: none:1/);
  await assert.rejects(svc.remove('none:1'), /No such image: none:1/);
  await assert.rejects(svc.login('', { username: 'u', password: 'p' }), /invalid registry/);
  assert.throws(() => svc.layerDirs('none:1'), /No such image: none:1/);
});

test('tag, rm and prune behave as Docker; gc removes blobs and layers no image uses', async () => {
  const used = new Set<string>();
  const { svc, root } = await freshService((id) => used.has(id));
  const id = image.configDescriptor.digest;
  await svc.load(Readable.from([await dockerSaveTar(image, ['busybox:one'])]));
  await svc.tag('busybox:one', 'localhost:5000/team/bb:two');
  await svc.tag(id.slice(7, 19), 'busybox:three');
  assert.deepEqual(svc.list()[0].RepoTags, ['busybox:one', 'busybox:three', 'localhost:5000/team/bb:two']);
  assert.deepEqual(svc.list({ reference: 'busybox' }).length, 1);
  assert.deepEqual(svc.list({ reference: 'busybox:nope' }).length, 0);
  await assert.rejects(svc.tag('busybox:one', 'x@sha256:' + 'a'.repeat(64)), /a tag cannot carry a digest/);
  await assert.rejects(svc.tag('busybox:missing', 'x'), /No such image: busybox:missing/);

  await assert.rejects(svc.remove(id), /must be forced\) - image is referenced in multiple repositories/);
  assert.deepEqual(await svc.remove('busybox:one'), [{ Untagged: 'busybox:one' }]);
  assert.deepEqual(await svc.remove('localhost:5000/team/bb:two'), [
    { Untagged: 'localhost:5000/team/bb:two' },
  ]);
  used.add(id);
  await assert.rejects(svc.remove('busybox:three'), /must force\) - container is using its referenced image/);
  await assert.rejects(
    svc.remove(id, { force: true }),
    /cannot be forced\) - image is being used by a container/,
  );
  assert.deepEqual((await svc.prune({ all: true })).deleted, [], 'an image in use is never pruned');
  used.delete(id);
  assert.deepEqual(await svc.remove('busybox:three'), [{ Untagged: 'busybox:three' }, { Deleted: id }]);
  assert.deepEqual(svc.list(), []);
  assert.deepEqual(await listAll(join(root, 'images/blobs/sha256')), []);
  assert.deepEqual(await listAll(join(root, 'images/layers/sha256')), []);

  // Untagged (dangling) images go with a plain prune; tagged ones only with --all.
  await svc.load(Readable.from([await dockerSaveTar(image, [])]));
  const other = await buildBusyboxImage({ marker: 'other' });
  await svc.load(Readable.from([await dockerSaveTar(other, ['other:1'])]));
  assert.deepEqual(
    svc.list({ dangling: true }).map((r) => r.Id),
    [id],
  );
  const pruned = await svc.prune();
  assert.deepEqual(pruned.deleted, [{ Deleted: id }]);
  // The base layer is shared with the remaining image: it stays; the first image's top layer goes.
  assert.deepEqual(svc.layerDirs('other:1').length, 2);
  const layers = await readdir(join(root, 'images/layers/sha256'));
  assert.deepEqual(layers.sort(), other.layers.map((l) => l.diffId.slice(7)).sort());
  assert.ok(pruned.spaceReclaimed > 0);
  const all = await svc.prune({ all: true });
  assert.deepEqual(all.deleted, [{ Untagged: 'other:1' }, { Deleted: other.configDescriptor.digest }]);
  assert.deepEqual(await listAll(join(root, 'images/blobs/sha256')), []);
  assert.deepEqual(await listAll(join(root, 'images/layers/sha256')), []);
});

test('the store index survives a reopen; a damaged one is one clear error', async () => {
  const { svc, root } = await freshService();
  await svc.load(Readable.from([await ociLayoutTar(image, 'docker.io/library/busybox:kept')]));
  const again = await ImageService.open({ dataRoot: root });
  assert.equal((await again.inspect('busybox:kept')).Id, image.configDescriptor.digest);
  const indexPath = join(root, 'images/images.json');
  assert.equal((await stat(indexPath)).mode & 0o777, 0o600);
  await writeFile(indexPath, '{"version":1,"images":{},"tags":{"docker.io/x:y":"sha256:nope"},"layers":{}}');
  await assert.rejects(
    ImageStore.open(root),
    /image store index .* is damaged: tag docker.io\/x:y points at no image/,
  );
});

test('hostile and damaged archives are refused; nothing is kept, nothing written outside', async () => {
  const { svc, root } = await freshService();
  const outside = join(base, 'outside');
  await mkdir(outside, { recursive: true });
  const evilLayer = await makeTar([
    { name: 'evil', type: 'symlink', linkname: outside },
    { name: 'evil/pwned', body: 'x' },
  ]);
  const evilConfig = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256Digest(evilLayer)] },
    }),
  );
  const evil = await makeTar([
    {
      name: 'manifest.json',
      body: JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:1'], Layers: ['l/layer.tar'] }]),
    },
    { name: 'c.json', body: evilConfig },
    { name: 'l/layer.tar', body: evilLayer },
  ]);
  await assert.rejects(svc.load(Readable.from([evil])), HostileLayerError);

  // An OCI layout whose layer blob is not the content its digest names.
  const tampered = await ociLayoutTar(
    {
      ...image,
      layers: [
        { ...image.layers[0], blob: Buffer.concat([image.layers[0].blob, Buffer.from('x')]) },
        image.layers[1],
      ],
    },
    'docker.io/library/busybox:tampered',
  );
  await assert.rejects(svc.load(Readable.from([tampered])), (err: unknown) => {
    assert.ok(err instanceof DigestMismatchError);
    assert.match(err.message, /digest mismatch: expected sha256:/);
    return true;
  });
  // A config whose diff IDs do not match its layers (docker save shape): refused at unpack.
  const wrongDiff = await makeTar([
    {
      name: 'manifest.json',
      body: JSON.stringify([{ Config: 'c.json', RepoTags: ['bad:1'], Layers: ['l/layer.tar'] }]),
    },
    {
      name: 'c.json',
      body: JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [sha256Digest('no')] },
      }),
    },
    { name: 'l/layer.tar', body: await makeTar([{ name: 'f', body: 'x' }]) },
  ]);
  await assert.rejects(svc.load(Readable.from([wrongDiff])), /uncompressed content: digest mismatch/);

  const full = await dockerSaveTar(image, ['busybox:cut']);
  await assert.rejects(svc.load(Readable.from([full.subarray(0, full.length - 5000)])), BadArchiveError);
  await assert.rejects(
    svc.load(Readable.from([await makeTar([{ name: '../escape', body: 'x' }])])),
    /entry "..\/escape" leaves the archive/,
  );
  await assert.rejects(
    svc.load(Readable.from([await makeTar([{ name: 'hello', body: 'x' }])])),
    /neither a docker save archive/,
  );
  await assert.rejects(
    svc.load(Readable.from([await makeTar([{ name: 'manifest.json', body: '{"not":"a list"}' }])])),
    /manifest.json is not a list of images/,
  );
  await assert.rejects(
    svc.load(
      Readable.from([
        await makeTar([
          { name: 'manifest.json', body: JSON.stringify([{ Config: 'missing.json', Layers: [] }]) },
        ]),
      ]),
    ),
    /missing.json is missing/,
  );
  await assert.rejects(
    svc.load(
      Readable.from([
        await makeTar([
          {
            name: 'manifest.json',
            body: JSON.stringify([{ Config: 'c', RepoTags: ['UPPER:1'], Layers: [] }]),
          },
        ]),
      ]),
    ),
    /invalid reference format/,
  );

  assert.deepEqual(svc.list(), []);
  assert.deepEqual(await readdir(outside), []);
  assert.deepEqual(await readdir(join(root, 'images/tmp')), [], 'no temp file left');
  assert.deepEqual(await readdir(join(root, 'images/layers/sha256')), [], 'no layer left unpacked');
  // Blobs that were verified may stay until gc; gc then leaves nothing.
  await svc.store.gc();
  assert.deepEqual(await readdir(join(root, 'images/blobs/sha256')), []);
});

test("a multi-platform OCI layout loads the node platform's manifest", async () => {
  const { svc } = await freshService();
  const arm = await buildBusyboxImage({ marker: 'arm' });
  const armManifest = {
    ...arm.manifestDescriptor,
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  };
  const nested = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [armManifest, image.manifestDescriptor],
    }),
  );
  const nestedDigest = sha256Digest(nested);
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      {
        mediaType: MediaType.OciIndex,
        digest: nestedDigest,
        size: nested.length,
        annotations: { 'io.containerd.image.name': 'docker.io/library/multi:1' },
      },
    ],
  };
  const blobs = new Map([...blobsOf(image), ...blobsOf(arm), [nestedDigest, nested]]);
  const archive = await makeTar([
    { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', body: JSON.stringify(index) },
    ...[...blobs].map(([d, body]) => ({ name: `blobs/sha256/${d.slice(7)}`, body })),
  ]);
  assert.deepEqual(await svc.load(Readable.from([archive])), [
    { id: image.configDescriptor.digest, tags: ['multi:1'] },
  ]);
  const { svc: armSvc } = await freshService(undefined, { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(await armSvc.load(Readable.from([archive])), [
    { id: arm.configDescriptor.digest, tags: ['multi:1'] },
  ]);
  const { svc: s390Svc } = await freshService(undefined, { os: 'linux', architecture: 's390x' });
  await assert.rejects(
    s390Svc.load(Readable.from([archive])),
    /no matching manifest for linux\/s390x in the manifest list entries/,
  );
});

test('logins are kept in a 0600 file; a file others can read is refused', async () => {
  const { svc, root } = await freshService();
  await svc.credentials.set('localhost:5000', { username: 'u', password: 'p:w' });
  assert.deepEqual(await svc.credentials.get('localhost:5000'), { username: 'u', password: 'p:w' });
  assert.equal((await stat(join(root, 'auth.json'))).mode & 0o777, 0o600);
  assert.match(await readFile(join(root, 'auth.json'), 'utf8'), /"auth": "dTpwOnc="/);
  assert.equal(await svc.logout('http://localhost:5000/'), 'Removing login credentials for localhost:5000');
  assert.equal(await svc.logout('localhost:5000'), 'Not logged in to localhost:5000');
  await svc.credentials.set('r.example:443', { username: 'a', password: 'b' });
  const { chmod } = await import('node:fs/promises');
  await chmod(join(root, 'auth.json'), 0o644);
  await assert.rejects(svc.credentials.get('r.example:443'), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /is readable by others \(mode 644\)/);
    return true;
  });
  await assert.rejects(
    svc.credentials.set('x.example', { username: 'a:b', password: '' }),
    /cannot contain ":"/,
  );
});
