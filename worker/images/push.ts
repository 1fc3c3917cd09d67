// `image push`: every blob the registry lacks (mounted from another repository of the same registry
// when this image came from one, else uploaded), then the manifest, byte for byte as stored, so the
// registry names it by the same digest the node has.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { UserError } from '../../lib/errors.js';
import { parseManifestOrIndex } from './manifest.js';
import { shortId, type ProgressCallback } from './pull.js';
import { familiarString, type ImageReference } from './reference.js';
import type { RegistryClient } from './registry/client.js';
import type { ImageStore } from './store.js';

export interface PushResult {
  digest: string;
  size: number;
  /** Docker's last line: `latest: digest: sha256:... size: 1234`. */
  status: string;
}

export interface PushOptions {
  onProgress?: ProgressCallback;
  /** Upload blobs larger than this in PATCH chunks of this size; one PUT otherwise. */
  chunkSize?: number;
}

export async function pushImage(
  store: ImageStore,
  client: RegistryClient,
  ref: ImageReference,
  opts: PushOptions = {},
): Promise<PushResult> {
  const progress = opts.onProgress ?? (() => undefined);
  const name = familiarString(ref);
  if (ref.digest !== undefined) throw new UserError(`cannot push a digest reference (${name}): push a tag`);
  const image = store.byReference(ref);
  if (!image)
    throw new UserError(
      `An image does not exist locally with the tag: ${familiarString({ ...ref, tag: undefined })}`,
    );
  const manifestBytes = await store.readBlob(image.manifestDigest);
  const parsed = parseManifestOrIndex(manifestBytes, `manifest ${image.manifestDigest}`);
  if (parsed.kind !== 'manifest')
    throw new UserError(`manifest ${image.manifestDigest} is not an image manifest`);
  const { manifest } = parsed;
  // A repository of the same registry that already has this image's blobs: the registry can mount
  // them instead of receiving them again.
  const mountFrom = image.repoDigests
    .map((rd) => rd.slice(0, rd.indexOf('@')))
    .find((repo) => repo.startsWith(`${ref.domain}/`) && repo !== `${ref.domain}/${ref.path}`)
    ?.slice(ref.domain.length + 1);
  for (const blob of [...manifest.layers, manifest.config]) {
    const id = shortId(blob.digest);
    if (await client.hasBlob(ref.path, blob.digest)) {
      progress({ id, status: 'Layer already exists' });
      continue;
    }
    const path = store.blobPath(blob.digest);
    const size = (await stat(path)).size;
    if (size !== blob.size)
      throw new UserError(
        `blob ${blob.digest} in the store has ${size} bytes, its manifest says ${blob.size}`,
      );
    progress({ id, status: 'Preparing' });
    let sent = 0;
    const how = await client.putBlob(
      ref.path,
      blob.digest,
      size,
      (start, end) => createReadStream(path, { start, end: end - 1 }),
      {
        ...(mountFrom !== undefined ? { mountFrom } : {}),
        ...(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {}),
        onBytes: (n) => {
          sent += n;
          progress({ id, status: 'Pushing', current: sent, total: size });
        },
      },
    );
    progress({ id, status: how === 'mounted' ? `Mounted from ${mountFrom}` : 'Pushed' });
  }
  const tag = ref.tag ?? 'latest';
  const digest = await client.putManifest(ref.path, tag, manifestBytes, manifest.mediaType);
  await store.addRepoDigest(image.id, `${ref.domain}/${ref.path}@${digest}`);
  const status = `${tag}: digest: ${digest} size: ${manifestBytes.length}`;
  progress({ id: name, status });
  return { digest, size: manifestBytes.length, status };
}
