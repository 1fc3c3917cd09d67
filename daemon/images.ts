// The node's one image store (worker/images): opened with the daemon, shared by the local API's image
// verbs and the task runtime, so a pulled or loaded image is what the next task runs.
import { join } from 'node:path';
import type { RunnableImage, ImageSource } from '../worker/exec/task-bundle.js';
import { ImageService } from '../worker/images/images.js';
import { mountedOverlayLowerDirs } from '../worker/exec/oci/rootfs.js';
import type { DaemonOptions } from './options.js';

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

/** What the runtime needs of an image: its layers for overlayfs and the defaults of its config. */
export function runnableImages(images: ImageService): ImageSource {
  return {
    async resolve(ref: string): Promise<RunnableImage> {
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
