// Digest pinning, as Docker's managers do it: `service create` and `service update --image` ask the
// image's registry which digest the tag names now and store `name:tag@sha256:...`, so every node
// runs the same content however the tag moves later. The registry is asked outside the write lock
// (it may be slow or away); a registry that cannot be asked leaves the tag, with Docker's warning.
import { BUILTIN_IMAGE } from '../../api/task-templates.js';
import type { ServiceSpec } from '../../api/objects/index.js';
import type { ImageResolver } from './service-context.js';

export interface Pinned {
  spec: ServiceSpec;
  warnings: string[];
}

/**
 * `spec` with its image pinned when `wanted` (the request's resolve_image) and a resolver is there.
 * The built-in `host` image has no registry and is left as it is.
 */
export async function pinImage(
  spec: ServiceSpec,
  wanted: boolean,
  resolve: ImageResolver | undefined,
): Promise<Pinned> {
  if (!wanted || !resolve || spec.task.image === BUILTIN_IMAGE) return { spec, warnings: [] };
  const resolution = await resolve(spec.task.image, spec.task.registryAuth);
  if ('warning' in resolution) return { spec, warnings: [resolution.warning] };
  return { spec: { ...spec, task: { ...spec.task, image: resolution.image } }, warnings: [] };
}
