// The node's content-addressed image store, under <dataRoot>/images:
//
//   blobs/sha256/<hex>    manifests, configs and layer archives, each named by the digest of its bytes
//   layers/sha256/<hex>   unpacked layers, named by diff ID (the uncompressed tar's digest): an overlayfs
//                         lowerdir holds one layer's diff, not a snapshot, so a layer shared by two images
//                         (whatever their compression or parents) is unpacked once
//   images.json           the index: images by ID (config digest, as Docker's), tags, unpacked layers
//   tmp/                  downloads and unpacks in progress, renamed into place once verified
//
// Blobs are verified on the way in and renamed into place, the index is replaced atomically, and a
// crash leaves at most files in tmp/ (cleared at open) or blobs no image uses (collected by gc).
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UserError } from '../../lib/errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { checkDigest, digestHex, DigestingStream, DigestMismatchError, SizeMismatchError } from './digest.js';
import {
  parseImageConfig,
  parseManifestOrIndex,
  type Descriptor,
  type ImageConfig,
  type Manifest,
} from './manifest.js';
import { type ImageReference } from './reference.js';
import { removeLayerDir, unpackLayerFile } from './unpack.js';
import { emptyIndex, parseStoreIndex, type ImageRecord, type StoreIndex } from './store-index.js';
import { Mutex } from '../../lib/mutex.js';

export type { ImageRecord } from './store-index.js';

export class ImageStore {
  private index: StoreIndex = emptyIndex();
  private readonly indexLock = new Mutex();
  private readonly leases = new Map<string, number>();
  private readonly unpacking = new Map<string, Promise<string>>();

  private constructor(readonly root: string) {}

  /** Opens (creating if needed) the store under `<dataRoot>/images`; clears what a crash left in tmp/. */
  static async open(dataRoot: string): Promise<ImageStore> {
    const store = new ImageStore(join(dataRoot, 'images'));
    await rm(store.tmpDir, { recursive: true, force: true });
    for (const dir of [
      store.tmpDir,
      join(store.root, 'blobs', 'sha256'),
      join(store.root, 'layers', 'sha256'),
    ]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
    try {
      store.index = parseStoreIndex(await readFile(store.indexPath, 'utf8'), store.indexPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return store;
  }

  // ---- blobs ----

  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', digestHex(digest));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return (await sizeOf(this.blobPath(digest))) !== undefined;
  }

  async readBlob(digest: string): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  openBlob(digest: string): Readable {
    return createReadStream(this.blobPath(digest));
  }

  /**
   * Stores a blob whose digest (and size, when known) is promised by a manifest: written to tmp/,
   * hashed on the way, renamed into place only when both match; refused otherwise, nothing kept.
   */
  async putBlob(digest: string, source: Readable | Buffer, what: string, size?: number): Promise<void> {
    checkDigest(digest, what);
    const temp = join(this.tmpDir, `blob-${randomBytes(8).toString('hex')}`);
    const hasher = new DigestingStream(what, size);
    try {
      await pipeline(
        Buffer.isBuffer(source) ? Readable.from([source]) : source,
        hasher,
        createWriteStream(temp, { flags: 'wx', mode: 0o600 }),
      );
      if (size !== undefined && hasher.bytes !== size)
        throw new SizeMismatchError(what, size, `${hasher.bytes}`);
      const actual = hasher.digest();
      if (actual !== digest) throw new DigestMismatchError(what, digest, actual);
      await fsyncFile(temp); // durable before it is named as verified content
      await rename(temp, this.blobPath(digest));
    } finally {
      await rm(temp, { force: true });
    }
  }

  /**
   * Moves a file from a makeTempDir() folder into the blob store after hashing it, held by `lease`;
   * with `expected`, a file whose digest differs is refused (left for the caller's cleanup).
   */
  async adoptFile(path: string, what: string, lease: Lease, expected?: string): Promise<string> {
    const hasher = new DigestingStream(what);
    await pipeline(createReadStream(path), hasher, new Writable({ write: (_c, _e, done) => done() }));
    const actual = hasher.digest();
    if (expected !== undefined && actual !== expected) throw new DigestMismatchError(what, expected, actual);
    lease.add(actual);
    if (await this.hasBlob(actual)) {
      await rm(path, { force: true });
    } else {
      await fsyncFile(path);
      await rename(path, this.blobPath(actual));
    }
    return actual;
  }

  /** A fresh private folder under tmp/ (same filesystem as the blobs, so files move by rename). */
  async makeTempDir(kind: string): Promise<string> {
    const dir = join(this.tmpDir, `${kind}-${randomBytes(8).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    return dir;
  }

  // ---- layers ----

  layerPath(diffId: string): string {
    return join(this.root, 'layers', 'sha256', digestHex(diffId));
  }

  hasLayer(diffId: string): boolean {
    return this.index.layers[diffId] !== undefined;
  }

  /** Unpacks a layer blob once (concurrent callers share the work); returns its folder. */
  async ensureLayer(layer: Descriptor, diffId: string): Promise<string> {
    const path = this.layerPath(diffId);
    if (this.index.layers[diffId] !== undefined) return path;
    let running = this.unpacking.get(diffId);
    if (!running) {
      running = this.unpack(layer, diffId).finally(() => this.unpacking.delete(diffId));
      this.unpacking.set(diffId, running);
    }
    return running;
  }

  private async unpack(layer: Descriptor, diffId: string): Promise<string> {
    const what = `layer ${layer.digest}`;
    const temp = join(this.tmpDir, `layer-${randomBytes(8).toString('hex')}`);
    const path = this.layerPath(diffId);
    await mkdir(temp, { mode: 0o755 });
    try {
      const bytes = await unpackLayerFile(this.blobPath(layer.digest), temp, diffId, what);
      await removeLayerDir(path); // an unindexed leftover of a crash between rename and index write
      await rename(temp, path);
      await this.locked(async () => {
        this.index.layers[diffId] = { size: bytes };
        await this.save();
      });
      return path;
    } finally {
      await removeLayerDir(temp);
    }
  }

  // ---- images ----

  /**
   * Records an image whose manifest, config and layer blobs are in the store: checks the config
   * against the manifest, unpacks the layers, then points `tags` at it. Returns the image.
   */
  async commitImage(
    manifestDigest: string,
    opts: { tags?: ImageReference[]; repoDigests?: string[] } = {},
  ): Promise<ImageRecord> {
    const what = `manifest ${manifestDigest}`;
    const parsed = parseManifestOrIndex(await this.readBlob(manifestDigest), what);
    if (parsed.kind !== 'manifest') throw new UserError(`${what}: is an index, not an image manifest`);
    const manifest: Manifest = parsed.manifest;
    if (!(await this.hasBlob(manifest.config.digest))) {
      throw new UserError(`${what}: config ${manifest.config.digest} is missing`);
    }
    const config = await this.readConfig(manifest.config.digest, manifest.layers.length);
    for (const layer of manifest.layers) {
      if (!(await this.hasBlob(layer.digest)))
        throw new UserError(`${what}: layer ${layer.digest} is missing`);
    }
    const diffIds = config.rootfs.diff_ids;
    await Promise.all(manifest.layers.map((layer, i) => this.ensureLayer(layer, diffIds[i])));
    const id = manifest.config.digest;
    return this.locked(async () => {
      const existing = this.index.images[id];
      const record: ImageRecord = existing ?? {
        id,
        manifestDigest,
        layers: manifest.layers.map((l, i) => ({
          digest: l.digest,
          size: l.size,
          mediaType: l.mediaType,
          diffId: diffIds[i],
        })),
        repoDigests: [],
        created: config.created ?? '',
        storedAt: new Date().toISOString(),
      };
      for (const rd of opts.repoDigests ?? [])
        if (!record.repoDigests.includes(rd)) record.repoDigests.push(rd);
      this.index.images[id] = record;
      for (const tag of opts.tags ?? []) this.index.tags[tagKey(tag)] = id;
      await this.save();
      return record;
    });
  }

  async readConfig(digest: string, layerCount?: number): Promise<ImageConfig> {
    return parseImageConfig(await this.readBlob(digest), `config ${digest}`, layerCount);
  }

  /** The image a tag or a `name@digest` reference names. */
  byReference(ref: ImageReference): ImageRecord | undefined {
    if (ref.digest !== undefined) {
      const wanted = `${ref.domain}/${ref.path}@${ref.digest}`;
      return this.images().find(
        (img) => img.repoDigests.includes(wanted) || img.manifestDigest === ref.digest,
      );
    }
    const id = this.index.tags[tagKey(ref)];
    return id === undefined ? undefined : this.index.images[id];
  }

  /** The image a full ID (`sha256:<hex>` or `<hex>`) or a unique ID prefix names. */
  byId(idOrPrefix: string): ImageRecord | undefined {
    const hex = idOrPrefix.startsWith('sha256:') ? idOrPrefix.slice(7) : idOrPrefix;
    if (!/^[a-f0-9]{1,64}$/.test(hex)) return undefined;
    const matches = this.images().filter((img) => digestHex(img.id).startsWith(hex));
    if (matches.length > 1) throw new UserError(`image ID prefix ${idOrPrefix} is ambiguous`);
    return matches[0];
  }

  images(): ImageRecord[] {
    return Object.values(this.index.images);
  }

  /** Tags (`docker.io/library/busybox:latest`) pointing at an image. */
  tagsOf(id: string): string[] {
    return Object.entries(this.index.tags)
      .filter(([, target]) => target === id)
      .map(([tag]) => tag)
      .sort();
  }

  async setTag(id: string, ref: ImageReference): Promise<void> {
    await this.locked(async () => {
      if (!this.index.images[id]) throw new UserError(`No such image: ${id}`);
      this.index.tags[tagKey(ref)] = id;
      await this.save();
    });
  }

  async addRepoDigest(id: string, repoDigest: string): Promise<void> {
    await this.locked(async () => {
      const image = this.index.images[id];
      if (!image) throw new UserError(`No such image: ${id}`);
      if (!image.repoDigests.includes(repoDigest)) image.repoDigests.push(repoDigest);
      await this.save();
    });
  }

  /** Removes a `name@digest` reference; returns whether it existed. */
  async removeRepoDigest(id: string, repoDigest: string): Promise<boolean> {
    return this.locked(async () => {
      const image = this.index.images[id];
      const at = image?.repoDigests.indexOf(repoDigest) ?? -1;
      if (!image || at < 0) return false;
      image.repoDigests.splice(at, 1);
      await this.save();
      return true;
    });
  }

  /** Removes a tag; returns whether it existed. */
  async removeTag(ref: ImageReference): Promise<boolean> {
    return this.locked(async () => {
      const key = tagKey(ref);
      if (this.index.tags[key] === undefined) return false;
      delete this.index.tags[key];
      await this.save();
      return true;
    });
  }

  /** Forgets an image record and its tags (its blobs and layers go at the next gc). */
  async removeImage(id: string): Promise<string[]> {
    return this.locked(async () => {
      const tags = this.tagsOf(id);
      for (const tag of tags) delete this.index.tags[tag];
      delete this.index.images[id];
      await this.save();
      return tags;
    });
  }

  /** The unpacked layer folders of an image, top layer first (overlayfs's lowerdir order). */
  layerDirs(id: string): string[] {
    const image = this.index.images[id];
    if (!image) throw new UserError(`No such image: ${id}`);
    return image.layers.map((l) => this.layerPath(l.diffId)).reverse();
  }

  /** Unpacked size of an image (the sum of its layers' uncompressed tars). */
  imageSize(image: ImageRecord): number {
    return image.layers.reduce((sum, l) => sum + (this.index.layers[l.diffId]?.size ?? 0), 0);
  }

  /**
   * A hold on blobs and layers that keeps them from gc until released: a pull or load holds what it
   * brings in until the image that uses it is committed.
   */
  lease(digests: string[] = []): Lease {
    const lease = new Lease(this.leases);
    for (const d of digests) lease.add(d);
    return lease;
  }

  async withLease<T>(digests: string[], fn: (lease: Lease) => Promise<T>): Promise<T> {
    const lease = this.lease(digests);
    try {
      return await fn(lease);
    } finally {
      lease.release();
    }
  }

  /** Deletes blobs and unpacked layers no image uses and no operation holds; returns bytes freed. */
  async gc(): Promise<number> {
    return this.locked(async () => {
      const used = new Set<string>(this.leases.keys());
      for (const img of this.images()) {
        used.add(img.manifestDigest).add(img.id);
        for (const l of img.layers) used.add(l.digest).add(l.diffId);
      }
      for (const diffId of this.unpacking.keys()) used.add(diffId);
      let freed = 0;
      for (const hex of await readdir(join(this.root, 'blobs', 'sha256'))) {
        if (used.has(`sha256:${hex}`)) continue;
        const path = join(this.root, 'blobs', 'sha256', hex);
        freed += (await sizeOf(path)) ?? 0;
        await rm(path, { force: true });
      }
      for (const hex of await readdir(join(this.root, 'layers', 'sha256'))) {
        const diffId = `sha256:${hex}`;
        if (used.has(diffId)) continue;
        freed += this.index.layers[diffId]?.size ?? 0;
        delete this.index.layers[diffId];
        await removeLayerDir(join(this.root, 'layers', 'sha256', hex));
      }
      await this.save();
      return freed;
    });
  }

  private get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  private get indexPath(): string {
    return join(this.root, 'images.json');
  }

  private async save(): Promise<void> {
    await writeFileAtomic(this.indexPath, JSON.stringify(this.index, null, 1) + '\n', 0o600);
  }

  /** Index changes run one at a time, in order. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.indexLock.run(fn);
  }
}

/** The index key of a tag: `docker.io/library/busybox:latest`. */
function tagKey(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}:${ref.tag ?? 'latest'}`;
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

class Lease {
  private readonly held: string[] = [];
  private released = false;

  constructor(private readonly counts: Map<string, number>) {}

  add(digest: string): void {
    if (this.released) throw new Error('lease used after release');
    this.held.push(digest);
    this.counts.set(digest, (this.counts.get(digest) ?? 0) + 1);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const d of this.held) {
      const n = (this.counts.get(d) ?? 1) - 1;
      if (n === 0) this.counts.delete(d);
      else this.counts.set(d, n);
    }
  }
}
