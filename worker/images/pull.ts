// `image pull`: manifest (the node's platform chosen from an index), config, then the layers it does
// not have yet, downloaded a few at a time and unpacked as each arrives. Progress is reported as
// Docker's JSON messages are (`Pulling fs layer`, `Downloading` current/total, `Pull complete`), so the
// CLI can draw the same display. Everything fetched is held by a lease until the image is committed.
import { Transform } from 'node:stream';
import { UserError } from '../../lib/errors.js';
import { choosePlatformManifest, parseManifestOrIndex, type Descriptor, type Platform } from './manifest.js';
import { familiarString, repositoryName, type ImageReference } from './reference.js';
import type { RegistryClient } from './registry/client.js';
import type { ImageStore, ImageRecord } from './store.js';

export interface ProgressEvent {
  /** A layer's short ID (12 hex characters), or the reference for whole-image messages. */
  id: string;
  status: string;
  current?: number;
  total?: number;
}

export type ProgressCallback = (event: ProgressEvent) => void;

export interface PullResult {
  image: ImageRecord;
  /** The digest the registry knows this reference by (the index's, for a multi-platform image). */
  digest: string;
  /** Docker's last line: `Downloaded newer image for busybox:latest` or `Image is up to date for ...`. */
  status: string;
}

export interface PullOptions {
  platform: Platform;
  onProgress?: ProgressCallback;
  /** Layers downloaded at once (Docker's max-concurrent-downloads default is 3). */
  concurrency?: number;
}

export async function pullImage(
  store: ImageStore,
  client: RegistryClient,
  ref: ImageReference,
  opts: PullOptions,
): Promise<PullResult> {
  const progress = opts.onProgress ?? (() => undefined);
  const name = familiarString(ref);
  const top = await client.getManifest(ref.path, ref.digest ?? ref.tag ?? 'latest');
  let manifestDoc = top;
  const parsedTop = parseManifestOrIndex(top.bytes, `manifest for ${name}`, top.mediaType);
  let manifestParsed = parsedTop;
  if (parsedTop.kind === 'index') {
    const chosen: Descriptor = choosePlatformManifest(parsedTop.index, opts.platform, name);
    manifestDoc = await client.getManifest(ref.path, chosen.digest);
    manifestParsed = parseManifestOrIndex(manifestDoc.bytes, `manifest ${chosen.digest}`, chosen.mediaType);
    if (manifestParsed.kind !== 'manifest')
      throw new UserError(`${name}: ${chosen.digest} is not an image manifest`);
  }
  if (manifestParsed.kind !== 'manifest') throw new UserError(`${name}: not an image manifest`);
  const manifest = manifestParsed.manifest;
  const before = ref.tag !== undefined ? store.byReference(ref) : undefined;

  const lease = store.lease([
    manifestDoc.digest,
    manifest.config.digest,
    ...manifest.layers.map((l) => l.digest),
  ]);
  try {
    if (!(await store.hasBlob(manifest.config.digest))) {
      const blob = await client.getBlob(ref.path, manifest.config.digest);
      await store.putBlob(
        manifest.config.digest,
        blob.body,
        `config ${manifest.config.digest}`,
        manifest.config.size,
      );
    }
    const config = await store.readConfig(manifest.config.digest, manifest.layers.length);
    const diffIds = config.rootfs.diff_ids;
    for (const d of diffIds) lease.add(d);
    for (const layer of manifest.layers) progress({ id: shortId(layer.digest), status: 'Pulling fs layer' });
    await runLimited(
      manifest.layers.map((layer, i) => async () => {
        const id = shortId(layer.digest);
        // The unpacked layer alone is not enough: the image keeps its own blob (push and save send it),
        // and the same layer may have come in another blob (uncompressed from a docker-save, gzipped).
        if (store.hasLayer(diffIds[i]) && (await store.hasBlob(layer.digest))) {
          progress({ id, status: 'Already exists' });
          return;
        }
        if (!(await store.hasBlob(layer.digest))) {
          const blob = await client.getBlob(ref.path, layer.digest);
          let current = 0;
          const counter = new Transform({
            transform(chunk: Buffer, _enc, done) {
              current += chunk.length;
              progress({ id, status: 'Downloading', current, total: layer.size });
              done(null, chunk);
            },
          });
          blob.body.on('error', (err) => counter.destroy(err));
          await store.putBlob(layer.digest, blob.body.pipe(counter), `layer ${layer.digest}`, layer.size);
          progress({ id, status: 'Download complete' });
        }
        progress({ id, status: 'Extracting' });
        await store.ensureLayer(layer, diffIds[i]);
        progress({ id, status: 'Pull complete' });
      }),
      opts.concurrency ?? 3,
    );
    if (!(await store.hasBlob(manifestDoc.digest))) {
      await store.putBlob(manifestDoc.digest, manifestDoc.bytes, `manifest ${manifestDoc.digest}`);
    }
    const image = await store.commitImage(manifestDoc.digest, {
      tags: ref.tag !== undefined && ref.digest === undefined ? [ref] : [],
      repoDigests: [`${repositoryName(ref)}@${top.digest}`],
    });
    const upToDate = before?.id === image.id;
    progress({ id: name, status: `Digest: ${top.digest}` });
    const status = `${upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${name}`;
    progress({ id: name, status: `Status: ${status}` });
    return { image, digest: top.digest, status };
  } finally {
    lease.release();
  }
}

/** Runs tasks with at most `limit` at once; the first failure is thrown once all have settled. */
export async function runLimited(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++];
      try {
        await task();
      } catch (err) {
        errors.push(err);
        next = tasks.length; // start nothing new once one failed
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

export function shortId(digest: string): string {
  return digest.slice('sha256:'.length, 'sha256:'.length + 12);
}
