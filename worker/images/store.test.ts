// The content store's own guarantees: a blob is kept only if its digest and size are the promised
// ones, concurrent unpacks of a layer share one unpack, and gc never takes what a lease holds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DigestMismatchError, SizeMismatchError, sha256Digest } from './digest.js';
import { parseReference } from './reference.js';
import { ImageStore } from './store.js';
import { blobsOf, buildBusyboxImage, type TestImage } from './test-images.js';

let base: string;
let image: TestImage;
let n = 0;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'swlt-img-store-'));
  image = await buildBusyboxImage();
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function freshStore(): Promise<ImageStore> {
  const root = join(base, `s${n++}`);
  await mkdir(root);
  return ImageStore.open(root);
}

test('a blob whose digest or size is not the promised one is refused and nothing is kept', async () => {
  const store = await freshStore();
  const data = Buffer.from('layer bytes');
  const digest = sha256Digest(data);
  await assert.rejects(store.putBlob(digest, Buffer.from('other bytes'), 'blob x'), DigestMismatchError);
  await assert.rejects(store.putBlob(digest, data, 'blob x', data.length - 1), SizeMismatchError);
  await assert.rejects(
    store.putBlob(digest, data, 'blob x', data.length + 1),
    /size mismatch: expected 12 bytes, got 11/,
  );
  // A source that fails halfway (a dropped connection).
  const failing = new Readable({
    read() {
      this.push(Buffer.from('half'));
      this.destroy(new Error('connection reset'));
    },
  });
  await assert.rejects(store.putBlob(digest, failing, 'blob x'), /connection reset/);
  await assert.rejects(store.putBlob('sha256:nope', data, 'blob x'), /blob x: invalid digest/);
  assert.equal(await store.hasBlob(digest), false);
  assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
  await store.putBlob(digest, Readable.from([data]), 'blob x', data.length);
  assert.deepEqual(await store.readBlob(digest), data);
});

test('concurrent commits of one image unpack each layer once; gc spares what leases hold', async () => {
  const store = await freshStore();
  const lease = store.lease(blobsOf(image).map(([d]) => d));
  for (const [digest, body] of blobsOf(image)) await store.putBlob(digest, body, `blob ${digest}`);
  // gc while the blobs are only leased: nothing goes.
  assert.equal(await store.gc(), 0);
  const [a, b] = await Promise.all([
    store.commitImage(image.manifestDescriptor.digest, { tags: [parseReference('x:1')] }),
    store.commitImage(image.manifestDescriptor.digest, { tags: [parseReference('x:2')] }),
  ]);
  lease.release();
  assert.equal(a.id, b.id);
  assert.deepEqual(store.tagsOf(a.id), ['docker.io/library/x:1', 'docker.io/library/x:2']);
  assert.equal((await readdir(join(store.root, 'layers/sha256'))).length, 2);
  assert.deepEqual(await readdir(join(store.root, 'tmp')), [], 'no second unpack left behind');
  // The image holds its blobs now; gc keeps them.
  assert.equal(await store.gc(), 0);
  const top = store.layerDirs(a.id)[0];
  assert.ok((await stat(join(top, 'etc/greeting'))).isFile());
  // Without the image and without a lease, everything goes.
  await store.removeImage(a.id);
  assert.ok((await store.gc()) > 0);
  assert.deepEqual(await readdir(join(store.root, 'blobs/sha256')), []);
  assert.deepEqual(await readdir(join(store.root, 'layers/sha256')), []);
});

test('commitImage refuses a manifest whose blobs are missing or whose config does not fit', async () => {
  const store = await freshStore();
  await store.putBlob(image.manifestDescriptor.digest, image.manifest, 'manifest');
  await assert.rejects(
    store.commitImage(image.manifestDescriptor.digest),
    /config sha256:[a-f0-9]{64} is missing/,
  );
  await store.putBlob(image.configDescriptor.digest, image.config, 'config');
  await assert.rejects(
    store.commitImage(image.manifestDescriptor.digest),
    /layer sha256:[a-f0-9]{64} is missing/,
  );
  assert.deepEqual(store.images(), []);
});
