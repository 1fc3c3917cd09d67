// Services on images, the daemon's part: what this node's image service does for the control API
// (manager/ cannot reach into worker/, so the daemon hands it a resolver) and for `--with-registry-auth`
// (the node the CLI talks to puts its own login for the image's registry into the spec it passes on).
// The rules are pure functions; the resolver and the attaching are thin shells over ImageService.
import { errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import type { RegistryAuth } from '../api/objects/index.js';
import { BUILTIN_IMAGE } from '../api/task-templates.js';
import type { CreateServiceRequest__Output } from '../api/gen/swarmlite/control/v1/CreateServiceRequest.js';
import type { UpdateServiceRequest__Output } from '../api/gen/swarmlite/control/v1/UpdateServiceRequest.js';
import type { ImageResolution, ImageResolver } from '../manager/index.js';
import type { Credentials } from '../worker/images/credentials.js';
import type { ImageService } from '../worker/images/images.js';
import {
  familiarString,
  parseReference,
  withDigest,
  type ImageReference,
} from '../worker/images/reference.js';
import { RegistryError } from '../worker/images/registry/errors.js';

/** How long a manager waits for a registry before it keeps the tag (a registry may never answer). */
export const RESOLVE_TIMEOUT_MS = 20_000;

/**
 * The reference whose tag a manager asks its registry about, or undefined when there is nothing to
 * ask: the built-in image, a reference that names a digest already, or one that is not a reference
 * (the control API refuses those itself).
 */
export function referenceToResolve(image: string): ImageReference | undefined {
  if (image === BUILTIN_IMAGE) return undefined;
  let ref: ImageReference;
  try {
    ref = parseReference(image);
  } catch {
    return undefined;
  }
  return ref.digest === undefined ? ref : undefined;
}

/** Docker's pinned form: the familiar name, the tag (`latest` when none was given) and the digest. */
export function pinnedImage(ref: ImageReference, digest: string): string {
  return familiarString(withDigest(ref, digest));
}

/** Docker's words when the digest could not be recorded (the CLI prints them; the tag is kept). */
export function digestWarning(image: string): string {
  return (
    `image ${image} could not be accessed on a registry to record its digest. ` +
    `Each node will access ${image} independently, possibly leading to different nodes running ` +
    'different versions of the image.'
  );
}

/** A service's credentials, for `ref`'s registry only: never sent to another registry. */
export function credentialsFor(ref: ImageReference, auth: RegistryAuth | undefined): Credentials | undefined {
  return auth && auth.registry === ref.domain
    ? { username: auth.username, password: auth.password }
    : undefined;
}

/** The registry domain of a service's image, or undefined for the built-in one or a non-reference. */
export function registryOf(image: string): string | undefined {
  if (image === BUILTIN_IMAGE) return undefined;
  try {
    return parseReference(image).domain;
  } catch {
    return undefined;
  }
}

/**
 * The control API's resolver on this node: the tag's digest from the registry (with the service's
 * credentials for it, else this node's login), or Docker's warning when the registry cannot be asked.
 */
export function nodeImageResolver(
  images: ImageService,
  log: Logger,
  timeoutMs = RESOLVE_TIMEOUT_MS,
): ImageResolver {
  return async (image, auth): Promise<ImageResolution> => {
    const ref = referenceToResolve(image);
    if (!ref) return { image };
    const creds = credentialsFor(ref, auth);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    });
    const asked = images.resolveDigest(image, creds ? { auth: creds } : {});
    asked.catch(() => undefined); // a late failure after the timeout is not an unhandled rejection
    try {
      return { image: pinnedImage(ref, await Promise.race([asked, timeout])) };
    } catch (err) {
      // The reason goes to the log (never the credentials); the user gets Docker's warning.
      log.info({ image, err: errorMessage(err) }, 'could not resolve the image digest; keeping the tag');
      return { warning: digestWarning(image) };
    } finally {
      clearTimeout(timer);
    }
  };
}

type ServiceRequest = CreateServiceRequest__Output | UpdateServiceRequest__Output;

/**
 * `--with-registry-auth`: the request with this node's login for its image's registry in the task
 * spec, for the nodes that pull. Without a login for that registry (or the flag) it goes on as it
 * came, as Docker sends an empty auth then.
 */
export async function attachRegistryAuth<R extends ServiceRequest>(images: ImageService, req: R): Promise<R> {
  const task = req.spec?.task;
  if (!req.withRegistryAuth || !task) return req;
  const registry = registryOf(task.image);
  if (registry === undefined) return req;
  const creds = await images.credentials.get(registry);
  if (!creds) return req;
  return {
    ...req,
    spec: { ...req.spec, task: { ...task, registryAuth: { registry, ...creds } } },
  };
}

/**
 * A failed pull as the task's error in `service ps`: a repository, tag or digest the registry does not
 * have is Docker's `No such image: X`; anything else (`unauthorized: ...`, `denied: ...`, a registry that
 * does not answer) is said as the registry client says it.
 */
export function pullFailure(image: string, err: unknown): Error {
  if (err instanceof RegistryError && err.status === 404) {
    return new Error(`No such image: ${image}`);
  }
  return new Error(errorMessage(err));
}
