// `image load` and `image save`: image archives as Docker writes and reads them.
//
// load accepts a `docker save` tar (manifest.json, a config file, one tar per layer; older Dockers
// link repeated layers with symlinks) and an OCI image layout tar (oci-layout, index.json, blobs/), as
// Docker 25+ and skopeo write. The archive is untrusted: each file is written flat into a private temp
// folder (no path from the archive ever becomes a path on disk), links are resolved inside the
// archive only, and every blob is hashed before it enters the store.
//
// save writes Docker 25's combined shape: an OCI layout plus manifest.json, so both older `docker load`
// and OCI tools read it. Blobs go out as stored (no recompression), so a save/load round trip keeps
// every digest.
import { createWriteStream } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { posix, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { UserError } from '../../lib/errors.js';
import { DigestMismatchError, sha256Digest } from './digest.js';
import {
  choosePlatformManifest,
  hostPlatform,
  MediaType,
  parseImageConfig,
  parseManifestOrIndex,
  type Descriptor,
  type Platform,
} from './manifest.js';
import { familiarString, parseReference, type ImageReference } from './reference.js';
import type { ImageStore } from './store.js';

export class BadArchiveError extends UserError {
  constructor(why: string) {
    super(`invalid image archive: ${why}`);
    this.name = 'BadArchiveError';
  }
}

export interface LoadedImage {
  id: string;
  /** Familiar names of the tags now pointing at it (`busybox:latest`); empty for an untagged image. */
  tags: string[];
}

const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** Loads every image of an archive into the store; returns them in archive order. */
export async function loadArchive(
  store: ImageStore,
  source: Readable,
  platform: Platform = hostPlatform(),
): Promise<LoadedImage[]> {
  const temp = await store.makeTempDir('load');
  try {
    const archive = await spool(source, temp);
    if (archive.has('oci-layout') && archive.has('index.json'))
      return await loadOciLayout(store, archive, platform);
    if (archive.has('manifest.json')) return await loadDockerSave(store, archive);
    throw new BadArchiveError(
      'neither a docker save archive (manifest.json) nor an OCI image layout (oci-layout, index.json)',
    );
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** The archive's files by their path in the archive, each spooled to a temp file. */
class SpooledArchive {
  readonly files = new Map<string, string>();
  readonly links = new Map<string, string>();
  /** Spooled files already moved into the store. */
  readonly adopted = new Set<string>();

  has(path: string): boolean {
    return this.resolve(path) !== undefined;
  }

  /** The temp file holding an archive path, following the archive's own symlinks (a few hops). */
  resolve(path: string): string | undefined {
    let current = clean(path);
    for (let hops = 0; hops < 8 && current !== undefined; hops++) {
      const file = this.files.get(current);
      if (file !== undefined) return file;
      const target = this.links.get(current);
      if (target === undefined) return undefined;
      current = clean(target.startsWith('/') ? target : posix.join(posix.dirname(current), target));
    }
    return undefined;
  }

  need(path: string): string {
    const file = this.resolve(path);
    if (file === undefined) throw new BadArchiveError(`${path} is missing`);
    return file;
  }

  async json(path: string): Promise<unknown> {
    const text = await readFile(this.need(path), 'utf8');
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new BadArchiveError(`${path} is not valid JSON (${(err as Error).message})`);
    }
  }
}

/** `./a//b` → `a/b`; undefined for paths that leave the archive. */
function clean(path: string): string | undefined {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return parts.join('/');
}

async function spool(source: Readable, temp: string): Promise<SpooledArchive> {
  const archive = new SpooledArchive();
  const extract = tar.extract();
  let failure: unknown;
  const feeding = pipeline(source, extract).catch((err: unknown) => {
    failure ??= err;
  });
  try {
    for await (const entry of extract) {
      const { name, type, linkname } = entry.header;
      const path = clean(name);
      if (path === undefined || name.startsWith('/'))
        throw new BadArchiveError(`entry ${JSON.stringify(name)} leaves the archive`);
      if (type === 'file' || type === 'contiguous-file') {
        const file = join(temp, `f${archive.files.size}`);
        await pipeline(entry, createWriteStream(file, { mode: 0o600 }));
        archive.files.set(path, file);
        archive.links.delete(path);
      } else if (type === 'symlink' || type === 'link') {
        entry.resume();
        archive.links.set(path, type === 'link' ? `/${linkname}` : linkname);
      } else if (type === 'directory') {
        entry.resume();
      } else {
        throw new BadArchiveError(`entry ${JSON.stringify(name)} has unsupported type ${type}`);
      }
    }
  } catch (err) {
    failure ??= err;
    extract.destroy();
  }
  await feeding;
  if (failure instanceof UserError) throw failure;
  if (failure !== undefined)
    throw new BadArchiveError(`truncated or corrupt tar (${(failure as Error).message})`);
  return archive;
}

async function loadOciLayout(
  store: ImageStore,
  archive: SpooledArchive,
  platform: Platform,
): Promise<LoadedImage[]> {
  const layout = await archive.json('oci-layout');
  if (
    typeof layout !== 'object' ||
    layout === null ||
    (layout as { imageLayoutVersion?: unknown }).imageLayoutVersion !== '1.0.0'
  ) {
    throw new BadArchiveError('oci-layout: unsupported imageLayoutVersion');
  }
  const indexBytes = await readFile(archive.need('index.json'));
  const parsed = parseManifestOrIndex(indexBytes, 'index.json', MediaType.OciIndex);
  if (parsed.kind !== 'index') throw new BadArchiveError('index.json is not an image index');
  const dockerTags = await dockerSaveTags(archive);
  const blobFile = (d: Descriptor) => archive.need(`blobs/sha256/${d.digest.slice(7)}`);
  const loaded: LoadedImage[] = [];
  for (const top of parsed.index.manifests) {
    let manifestDesc = top;
    // A multi-platform entry: take this node's platform from the nested index (not kept: the store
    // holds single-platform images), checked against its digest before it is believed.
    for (
      let depth = 0;
      manifestDesc.mediaType === MediaType.OciIndex ||
      manifestDesc.mediaType === MediaType.DockerManifestList;
      depth++
    ) {
      if (depth > 4) throw new BadArchiveError('indexes nested too deep');
      const bytes = await readFile(blobFile(manifestDesc));
      const actual = sha256Digest(bytes);
      if (actual !== manifestDesc.digest)
        throw new DigestMismatchError(`index ${manifestDesc.digest}`, manifestDesc.digest, actual);
      const nested = parseManifestOrIndex(bytes, `index ${manifestDesc.digest}`, manifestDesc.mediaType);
      if (nested.kind !== 'index') throw new BadArchiveError(`${manifestDesc.digest} is not an index`);
      manifestDesc = choosePlatformManifest(nested.index, platform, `index ${manifestDesc.digest}`);
    }
    const manifestParsed = parseManifestOrIndex(
      await readFile(blobFile(manifestDesc)),
      `manifest ${manifestDesc.digest}`,
      manifestDesc.mediaType,
    );
    if (manifestParsed.kind !== 'manifest')
      throw new BadArchiveError(`${manifestDesc.digest} is not a manifest`);
    const { manifest } = manifestParsed;
    const tags = namesFor(top, dockerTags.get(manifest.config.digest) ?? []);
    const descriptors = [manifestDesc, manifest.config, ...manifest.layers];
    const image = await store.withLease(
      descriptors.map((d) => d.digest),
      async (lease) => {
        for (const d of descriptors) {
          const path = `blobs/sha256/${d.digest.slice(7)}`;
          const file = archive.resolve(path);
          if (file !== undefined && !archive.adopted.has(file)) {
            // Every blob is hashed on its way in; a file differing from its name is refused.
            await store.adoptFile(file, `blob ${path}`, lease, d.digest);
            archive.adopted.add(file);
          } else if (!(await store.hasBlob(d.digest))) {
            throw new BadArchiveError(`${path} is missing`);
          }
        }
        return store.commitImage(manifestDesc.digest, { tags });
      },
    );
    loaded.push({ id: image.id, tags: tags.map(familiarString) });
  }
  return loaded;
}

/**
 * The names an index entry carries: the full name containerd and Docker record, else the ref name
 * when it is a whole reference, else manifest.json's RepoTags (a Docker 25 save has both shapes).
 */
function namesFor(desc: Descriptor, repoTags: string[]): ImageReference[] {
  const full = desc.annotations?.[ANNOTATION_IMAGE_NAME];
  const short = desc.annotations?.[ANNOTATION_REF_NAME];
  const names = full ? [full] : short && /[/:]/.test(short) ? [short] : repoTags;
  return names.map((n) => {
    const ref = parseReference(n);
    if (ref.digest !== undefined) throw new BadArchiveError(`image name ${n} carries a digest`);
    return ref;
  });
}

/** manifest.json's RepoTags by config digest (Docker 25 points Config at blobs/sha256/<hex>). */
async function dockerSaveTags(archive: SpooledArchive): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!archive.has('manifest.json')) return out;
  const entries = await archive.json('manifest.json');
  if (!Array.isArray(entries)) throw new BadArchiveError('manifest.json is not a list of images');
  for (const e of entries as Array<{ RepoTags?: unknown; Config?: unknown }>) {
    const m = typeof e.Config === 'string' ? /^blobs\/sha256\/([a-f0-9]{64})$/.exec(e.Config) : null;
    if (m && Array.isArray(e.RepoTags)) {
      out.set(
        `sha256:${m[1]}`,
        e.RepoTags.filter((t): t is string => typeof t === 'string'),
      );
    }
  }
  return out;
}

async function loadDockerSave(store: ImageStore, archive: SpooledArchive): Promise<LoadedImage[]> {
  const entries = await archive.json('manifest.json');
  if (!Array.isArray(entries) || entries.length === 0)
    throw new BadArchiveError('manifest.json is not a list of images');
  const loaded: LoadedImage[] = [];
  // Layer files already moved into the store, by their spooled file: older Dockers link one layer
  // file from several images.
  const adopted = new Map<string, Descriptor>();
  for (const [i, entry] of entries.entries()) {
    const what = `manifest.json[${i}]`;
    const e = entry as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
    if (typeof e.Config !== 'string') throw new BadArchiveError(`${what}: missing Config`);
    if (!Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string'))
      throw new BadArchiveError(`${what}: missing Layers`);
    const repoTags = e.RepoTags === undefined || e.RepoTags === null ? [] : e.RepoTags;
    if (!Array.isArray(repoTags) || !repoTags.every((t) => typeof t === 'string'))
      throw new BadArchiveError(`${what}: bad RepoTags`);
    const tags = repoTags.map((t) => parseReference(t));
    const configBytes = await readFile(archive.need(e.Config));
    const config = parseImageConfig(configBytes, `${what}: config`, e.Layers.length);
    const configDigest = sha256Digest(configBytes);
    const layerFiles = (e.Layers as string[]).map((l) => archive.need(l));
    // Blobs are hashed as they move into the store; the layers' diff IDs are checked when unpacked.
    const image = await store.withLease([configDigest, ...config.rootfs.diff_ids], async (lease) => {
      await store.putBlob(configDigest, configBytes, `${what}: config`);
      const layers: Descriptor[] = [];
      for (const [n, file] of layerFiles.entries()) {
        let layer = adopted.get(file);
        if (layer) {
          lease.add(layer.digest);
        } else {
          const head = await readHead(file);
          const gz = head[0] === 0x1f && head[1] === 0x8b;
          const digest = await store.adoptFile(file, `${what}: layer ${n}`, lease);
          const { size } = await stat(store.blobPath(digest));
          layer = { mediaType: gz ? MediaType.OciLayerGzip : MediaType.OciLayer, digest, size };
          adopted.set(file, layer);
        }
        layers.push(layer);
      }
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length },
          layers,
        }),
      );
      const manifestDigest = sha256Digest(manifest);
      lease.add(manifestDigest);
      await store.putBlob(manifestDigest, manifest, `${what}: manifest`);
      return store.commitImage(manifestDigest, { tags });
    });
    loaded.push({ id: image.id, tags: tags.map(familiarString) });
  }
  return loaded;
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buf, 0, 2, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Writes the images (by ID) with the given tags (`docker.io/library/busybox:latest`) as one tar. */
export async function saveArchive(
  store: ImageStore,
  images: Array<{ id: string; tags: ImageReference[] }>,
  out: Writable,
): Promise<void> {
  const pack = tar.pack();
  const writing = pipeline(pack, out);
  const written = new Set<string>();
  const index: Array<Descriptor & { annotations?: Record<string, string> }> = [];
  const dockerManifest: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
  const addBlob = async (digest: string): Promise<void> => {
    if (written.has(digest)) return;
    written.add(digest);
    const size = (await stat(store.blobPath(digest))).size;
    const sink = pack.entry({
      name: `blobs/sha256/${digest.slice(7)}`,
      size,
      mode: 0o644,
      mtime: new Date(0),
    });
    await pipeline(store.openBlob(digest), sink);
  };
  try {
    await addEntry(pack, 'oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    for (const { id, tags } of images) {
      const image = store.byId(id);
      if (!image) throw new UserError(`No such image: ${id}`);
      const manifestBytes = await store.readBlob(image.manifestDigest);
      const parsed = parseManifestOrIndex(manifestBytes, `manifest ${image.manifestDigest}`);
      if (parsed.kind !== 'manifest')
        throw new UserError(`manifest ${image.manifestDigest} is not an image manifest`);
      for (const d of [image.manifestDigest, image.id, ...image.layers.map((l) => l.digest)])
        await addBlob(d);
      const descriptor = {
        mediaType: parsed.manifest.mediaType,
        digest: image.manifestDigest,
        size: manifestBytes.length,
      };
      if (tags.length === 0) index.push(descriptor);
      for (const tag of tags) {
        index.push({
          ...descriptor,
          annotations: {
            [ANNOTATION_IMAGE_NAME]: `${tag.domain}/${tag.path}:${tag.tag ?? 'latest'}`,
            [ANNOTATION_REF_NAME]: tag.tag ?? 'latest',
          },
        });
      }
      dockerManifest.push({
        Config: `blobs/sha256/${image.id.slice(7)}`,
        RepoTags: tags.map(familiarString),
        Layers: image.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      });
    }
    await addEntry(
      pack,
      'index.json',
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: index }),
    );
    await addEntry(pack, 'manifest.json', JSON.stringify(dockerManifest));
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await writing.catch(() => undefined);
    throw err;
  }
  await writing;
}

function addEntry(pack: tar.Pack, name: string, body: string): Promise<void> {
  return new Promise((resolve, reject) =>
    pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body, (err) => (err ? reject(err) : resolve())),
  );
}
