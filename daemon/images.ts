// The node's one image store (worker/images): opened with the daemon, shared by the local API's image
// verbs, the task runtime and the manager's digest pinning, so a pulled or loaded image is what the
// next task runs.
import { join } from 'node:path';
import type { RegistryAuth } from '../api/objects/index.js';
import type { RunnableImage, ImageSource } from '../worker/exec/task-bundle.js';
import { ImageService } from '../worker/images/images.js';
import { mountedOverlayLowerDirs } from '../worker/exec/oci/rootfs.js';
import { parseReference } from '../worker/images/reference.js';
import type { DaemonOptions } from './options.js';
import { credentialsFor, pullFailure } from './service-images.js';

export async function openNodeImages(opts: DaemonOptions): Promise<ImageService> {
  const images: ImageService = await ImageService.open({
    dataRoot: opts.dataRoot,
    insecureRegistries: opts.insecureRegistries,
    // Docker's place for a registry's own CA: <certs.d>/<host:port>/ca.crt.
    certsDir: join(opts.dataRoot, 'certs.d'),
    // `image rm` and `prune` never take the layers from under a task: a task's root is an overlay
    // mounted on exactly its image's layers from prepare to removal (adopted tasks included).
    // (Asked only by rm and prune, after open has returned.)
    inUse: (imageId) => layersMounted(images.layerDirsOf(imageId)),
  });
  return images;
}

function layersMounted(layers: readonly string[]): boolean {
  return mountedOverlayLowerDirs().some(
    (mounted) => mounted.length === layers.length && mounted.every((dir, i) => dir === layers[i]),
  );
}

/**
 * What the runtime needs of an image: its layers for overlayfs and the defaults of its config. A
 * task's image the node does not have is pulled first (the task shows `preparing` meanwhile), with
 * the task's credentials when they are for its registry, else the node's login; tasks that want the
 * same image at once share one pull.
 */
export function runnableImages(images: ImageService): ImageSource {
  const pulling = new Map<string, Promise<void>>();

  async function ensure(ref: string, auth: RegistryAuth | undefined): Promise<void> {
    if (images.store.byReference(parseReference(ref))) return;
    let pull = pulling.get(ref);
    if (!pull) {
      const creds = credentialsFor(parseReference(ref), auth);
      pull = images
        .pull(ref, creds ? { auth: creds } : {})
        .then(() => undefined)
        .catch((err: unknown) => {
          throw pullFailure(ref, err);
        })
        .finally(() => pulling.delete(ref));
      pulling.set(ref, pull);
    }
    await pull;
  }

  return {
    async resolve(ref: string, auth?: RegistryAuth): Promise<RunnableImage> {
      await ensure(ref, auth);
      const { config } = await images.config(ref);
      const c = config.config ?? {};
      return {
        lowerDirs: images.layerDirs(ref),
        config: {
          entrypoint: c.Entrypoint ?? [],
          cmd: c.Cmd ?? [],
          env: c.Env ?? [],
          workdir: c.WorkingDir ?? '',
          user: c.User ?? '',
          stopSignal: c.StopSignal ?? '',
        },
      };
    },
  };
}
