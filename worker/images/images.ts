// The node's image service: what the daemon's image RPCs call, one method per CLI verb (`image pull,
// push, load, save, ls, inspect, rm, prune, tag`, `login`, `logout`), plus what the runtime needs
// (an image's layer folders and config) and what managers need (a tag resolved to a digest).
// Results are shaped as Docker's Engine API answers, so the CLI prints Docker's output from them.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../../lib/errors.js';
import { loadArchive, saveArchive, type LoadedImage } from './archive.js';
import { CredentialStore, type Credentials } from './credentials.js';
import { hostPlatform, type ImageConfig, type Platform } from './manifest.js';
import { pullImage, type ProgressCallback, type PullResult } from './pull.js';
import { pushImage, type PushResult } from './push.js';
import {
  familiarString,
  parseNormalizedNamed,
  parseReference,
  InvalidReferenceError,
  type ImageReference,
} from './reference.js';
import { isLoopback, RegistryClient } from './registry/client.js';
import { ImageStore, type ImageRecord } from './store.js';
import { imageInspect, imageSummary, type ImageInspect, type ImageSummary } from './views.js';

export interface ImageServiceOptions {
  /** The node's data root; images live in `<dataRoot>/images`, logins in `<dataRoot>/auth.json`. */
  dataRoot: string;
  platform?: Platform;
  /** Registries (`host:port`) reached over plain HTTP (`--insecure-registry`). */
  insecureRegistries?: string[];
  /**
   * Docker's certs.d layout: `<certsDir>/<host:port>/ca.crt` is the CA a registry's HTTPS certificate
   * is checked against, instead of the system's.
   */
  certsDir?: string;
  /** Whether a container uses an image (by ID): such images are never removed. */
  inUse?: (imageId: string) => boolean;
}

/** One line of `image rm` / `image prune` output, as Docker's API reports it. */
export type RemoveEvent = { Untagged: string } | { Deleted: string };

export class ImageService {
  private readonly platform: Platform;
  private readonly insecure: Set<string>;
  private readonly inUse: (imageId: string) => boolean;
  private readonly certsDir: string | undefined;

  private constructor(
    readonly store: ImageStore,
    readonly credentials: CredentialStore,
    opts: ImageServiceOptions,
  ) {
    this.platform = opts.platform ?? hostPlatform();
    this.insecure = new Set(opts.insecureRegistries ?? []);
    this.inUse = opts.inUse ?? (() => false);
    this.certsDir = opts.certsDir;
  }

  static async open(opts: ImageServiceOptions): Promise<ImageService> {
    const store = await ImageStore.open(opts.dataRoot);
    return new ImageService(store, new CredentialStore(join(opts.dataRoot, 'auth.json')), opts);
  }

  // ---- registries ----

  /**
   * `image pull`. Credentials: those given (`--with-registry-auth` hands them to the node), else the
   * node's login for that registry, else anonymous.
   */
  async pull(
    reference: string,
    opts: { auth?: Credentials; onProgress?: ProgressCallback } = {},
  ): Promise<PullResult> {
    const ref = parseReference(reference);
    const client = await this.client(ref.domain, opts.auth);
    return pullImage(this.store, client, ref, {
      platform: this.platform,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
  }

  /** `image push`. */
  async push(
    reference: string,
    opts: { auth?: Credentials; onProgress?: ProgressCallback; chunkSize?: number } = {},
  ): Promise<PushResult> {
    const ref = parseReference(reference);
    const client = await this.client(ref.domain, opts.auth);
    return pushImage(this.store, client, ref, opts);
  }

  /** The digest a reference's tag points at in its registry (a manager pins services to it). */
  async resolveDigest(reference: string, opts: { auth?: Credentials } = {}): Promise<string> {
    const ref = parseReference(reference);
    if (ref.digest !== undefined) return ref.digest;
    const client = await this.client(ref.domain, opts.auth);
    return client.resolveDigest(ref.path, ref.tag ?? 'latest');
  }

  /** `login`: checks the credentials against the registry, then keeps them (0600). */
  async login(registry: string, creds: Credentials): Promise<string> {
    const domain = normalizeRegistry(registry);
    await (await this.client(domain, creds)).ping();
    await this.credentials.set(domain, creds);
    return 'Login Succeeded';
  }

  /** `logout`: Docker's message either way. */
  async logout(registry: string): Promise<string> {
    const domain = normalizeRegistry(registry);
    return (await this.credentials.remove(domain))
      ? `Removing login credentials for ${domain}`
      : `Not logged in to ${domain}`;
  }

  private async client(domain: string, auth?: Credentials): Promise<RegistryClient> {
    const credentials = auth ?? (await this.credentials.get(domain));
    const ca = await this.registryCa(domain);
    return new RegistryClient({
      domain,
      insecure: this.insecure.has(domain) || isLoopback(domain),
      ...(credentials ? { credentials } : {}),
      ...(ca !== undefined ? { ca } : {}),
    });
  }

  private async registryCa(domain: string): Promise<string | undefined> {
    if (this.certsDir === undefined) return undefined;
    try {
      return await readFile(join(this.certsDir, domain, 'ca.crt'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  // ---- archives ----

  /** `image load`: a docker-save or OCI layout tar. */
  async load(source: Readable): Promise<LoadedImage[]> {
    return loadArchive(this.store, source, this.platform);
  }

  /** `image save`: the named images (with the tags named, or all their tags when named by ID). */
  async save(references: string[], out: Writable): Promise<void> {
    if (references.length === 0) throw new UserError('image save needs at least one image');
    const picked = new Map<string, ImageReference[]>();
    for (const name of references) {
      const { image, ref } = this.find(name);
      const tags = picked.get(image.id) ?? [];
      if (ref?.tag !== undefined && ref.digest === undefined) tags.push(ref);
      else if (!ref) tags.push(...this.store.tagsOf(image.id).map((t) => parseReference(t)));
      picked.set(image.id, tags);
    }
    await saveArchive(
      this.store,
      [...picked].map(([id, tags]) => ({ id, tags })),
      out,
    );
  }

  // ---- local images ----

  /** `image ls` (`-a` has nothing more to show: the store keeps no intermediate images). */
  list(opts: { reference?: string; dangling?: boolean } = {}): ImageSummary[] {
    const filter = opts.reference !== undefined ? parseNormalizedNamed(opts.reference) : undefined;
    return this.store
      .images()
      .filter((img) => {
        const tags = this.store.tagsOf(img.id);
        if (opts.dangling !== undefined && (tags.length === 0) !== opts.dangling) return false;
        if (!filter) return true;
        return tags.some((t) => {
          const ref = parseReference(t);
          return (
            ref.domain === filter.domain &&
            ref.path === filter.path &&
            (filter.tag === undefined || ref.tag === filter.tag)
          );
        });
      })
      .map((img) => imageSummary(img, this.store.tagsOf(img.id), this.store.imageSize(img)))
      .sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  /** `image inspect`. */
  async inspect(name: string): Promise<ImageInspect> {
    const { image } = this.find(name);
    return imageInspect(
      image,
      this.store.tagsOf(image.id),
      await this.store.readConfig(image.id),
      this.store.imageSize(image),
    );
  }

  /** The config the runtime starts containers from (entrypoint, cmd, env, user, workdir, ...). */
  async config(name: string): Promise<{ id: string; config: ImageConfig }> {
    const { image } = this.find(name);
    return { id: image.id, config: await this.store.readConfig(image.id) };
  }

  /** The unpacked layers, top first: the overlayfs lowerdir list of a container's root. */
  layerDirs(name: string): string[] {
    return this.layerDirsOf(this.find(name).image.id);
  }

  /** The same, by image ID (what `inUse` is asked about). */
  layerDirsOf(imageId: string): string[] {
    return this.store.layerDirs(imageId);
  }

  /** `image tag SOURCE TARGET`. */
  async tag(source: string, target: string): Promise<void> {
    const { image } = this.find(source);
    const ref = parseReference(target);
    if (ref.digest !== undefined) throw new InvalidReferenceError(target, 'a tag cannot carry a digest');
    await this.store.setTag(image.id, ref);
  }

  /**
   * `image rm`, as Docker: a tag or digest reference is untagged, and the image deleted once nothing
   * names it; an ID deletes the image (with every tag when forced, or when it has just one). An
   * image a container uses is never deleted, forced or not: its layers are mounted.
   */
  async remove(name: string, opts: { force?: boolean } = {}): Promise<RemoveEvent[]> {
    const { image, ref } = this.find(name);
    const events: RemoveEvent[] = [];
    const tags = this.store.tagsOf(image.id);
    if (ref) {
      const lastName = tags.length + image.repoDigests.length <= 1;
      if (lastName && this.inUse(image.id) && !opts.force) {
        throw new UserError(
          `conflict: unable to remove repository reference "${name}" (must force) - container is using its referenced image ${short(image.id)}`,
        );
      }
      if (ref.digest !== undefined) {
        const rd = `${ref.domain}/${ref.path}@${ref.digest}`;
        if (await this.store.removeRepoDigest(image.id, rd)) events.push({ Untagged: familiarString(ref) });
      } else if (await this.store.removeTag(ref)) {
        events.push({ Untagged: familiarString(ref) });
      }
      if (this.store.tagsOf(image.id).length > 0) return events;
    } else if (tags.length > 1 && !opts.force) {
      throw new UserError(
        `conflict: unable to delete ${short(image.id)} (must be forced) - image is referenced in multiple repositories`,
      );
    }
    if (this.inUse(image.id)) {
      if (ref) return events; // untagged; the image stays for the container that runs it
      throw new UserError(
        `conflict: unable to delete ${short(image.id)} (cannot be forced) - image is being used by a container`,
      );
    }
    return [...events, ...(await this.deleteImage(image))];
  }

  /** `image prune` (`-a`: every image no container uses; otherwise only untagged ones). */
  async prune(opts: { all?: boolean } = {}): Promise<{ deleted: RemoveEvent[]; spaceReclaimed: number }> {
    const deleted: RemoveEvent[] = [];
    for (const image of this.store.images()) {
      if (this.inUse(image.id)) continue;
      if (!opts.all && this.store.tagsOf(image.id).length > 0) continue;
      deleted.push(...(await this.deleteImage(image, false)));
    }
    return { deleted, spaceReclaimed: await this.store.gc() };
  }

  private async deleteImage(image: ImageRecord, collect = true): Promise<RemoveEvent[]> {
    const tags = await this.store.removeImage(image.id);
    const events: RemoveEvent[] = [
      ...tags.map((t) => ({ Untagged: familiarString(parseReference(t)) })),
      ...image.repoDigests.map((rd) => ({ Untagged: familiarString(parseReference(rd)) })),
      { Deleted: image.id },
    ];
    if (collect) await this.store.gc();
    return events;
  }

  /** The image a user's name means: a tag, `name@digest`, an ID or an ID prefix (Docker's order). */
  private find(name: string): { image: ImageRecord; ref?: ImageReference } {
    let ref: ImageReference | undefined;
    try {
      ref = parseReference(name);
    } catch (err) {
      if (!/^(sha256:)?[a-f0-9]+$/.test(name)) throw err;
    }
    const byRef = ref ? this.store.byReference(ref) : undefined;
    if (byRef) return { image: byRef, ...(ref ? { ref } : {}) };
    const byId = this.store.byId(name);
    if (byId) return { image: byId };
    throw new UserError(
      `No such image: ${ref && !/^(sha256:)?[a-f0-9]+$/.test(name) ? familiarString(ref) : name}`,
    );
  }
}

/** `login` takes a registry as users type it (`localhost:5000`, `docker.io`, `https://index.docker.io/v1/`). */
function normalizeRegistry(registry: string): string {
  const host = registry.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (host === '') throw new UserError(`invalid registry ${JSON.stringify(registry)}`);
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return 'docker.io';
  const ref = parseNormalizedNamed(`${host}/probe`);
  if (ref.domain !== host && host !== 'docker.io')
    throw new UserError(`invalid registry ${JSON.stringify(registry)}`);
  return ref.domain;
}

function short(id: string): string {
  return id.slice('sha256:'.length, 'sha256:'.length + 12);
}
