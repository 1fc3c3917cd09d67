// The local API's image verbs (proto/local.proto ImagePull ... Logout) over the node's one
// ImageService (daemon/images.ts). They act on this node's store only, as `docker image` does. Like
// every local RPC, they are served on the root-only socket (daemon/local-api.ts): whoever reaches
// them is the host's administrator. Refusals keep ImageService's words and get the gRPC status a
// client can act on: INVALID_ARGUMENT for a bad reference or archive, NOT_FOUND for an unknown image,
// UNAUTHENTICATED / PERMISSION_DENIED for a registry's refusal.
import * as grpc from '@grpc/grpc-js';
import { statfs } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { UserError } from '../lib/errors.js';
import { BadArchiveError } from '../worker/images/archive.js';
import { DigestMismatchError, SizeMismatchError } from '../worker/images/digest.js';
import type { ImageService, RemoveEvent } from '../worker/images/images.js';
import type { ProgressEvent } from '../worker/images/pull.js';
import {
  familiarString,
  InvalidReferenceError,
  parseReference,
  repositoryName,
  type ImageReference,
} from '../worker/images/reference.js';
import { RegistryError } from '../worker/images/registry/errors.js';
import type { ImageProgress } from '../api/gen/swarmlite/local/v1/ImageProgress.js';
import type { ImageRemoveEvent } from '../api/gen/swarmlite/local/v1/ImageRemoveEvent.js';
import type { LocalApiHandlers } from '../api/rpc.js';
import type { Logger } from '../lib/log.js';
import { toStatus, type LocalUnaryHandlers } from './local-api.js';
import { ProgressThrottle } from './progress-throttle.js';

type ImageUnary = Pick<
  LocalUnaryHandlers,
  'ImageList' | 'ImageInspect' | 'ImageRemove' | 'ImagePrune' | 'ImageTag' | 'Login' | 'Logout'
>;
export type ImageStreams = Pick<LocalApiHandlers, 'ImagePull' | 'ImagePush' | 'ImageLoad' | 'ImageSave'>;

/** The status code for an image refusal; undefined: not a refusal (toStatus makes it INTERNAL). */
export function imageErrorCode(err: unknown): grpc.status | undefined {
  if (!(err instanceof UserError)) return undefined;
  if (err instanceof InvalidReferenceError || err instanceof BadArchiveError)
    return grpc.status.INVALID_ARGUMENT;
  if (err instanceof DigestMismatchError || err instanceof SizeMismatchError) return grpc.status.DATA_LOSS;
  if (err instanceof RegistryError) {
    if (err.status === 401) return grpc.status.UNAUTHENTICATED;
    if (err.status === 403) return grpc.status.PERMISSION_DENIED;
    if (err.status === 404) return grpc.status.NOT_FOUND;
    return grpc.status.FAILED_PRECONDITION;
  }
  // ImageService's own words for a name the store does not hold (`docker image` says the same).
  if (/^(No such image|An image does not exist locally)/.test(err.message)) return grpc.status.NOT_FOUND;
  return grpc.status.FAILED_PRECONDITION;
}

/** An image error as the status the local API answers with (the message is kept word for word). */
export function imageStatus(err: unknown): grpc.ServiceError {
  const code = imageErrorCode(err);
  if (code === undefined) return toStatus(err);
  const message = (err as Error).message;
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

/** Unary handlers throw this so the local API's wrapper keeps the code (see toStatus). */
async function refusing<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw imageErrorCode(err) === undefined ? err : imageStatus(err);
  }
}

const removeEvent = (e: RemoveEvent): ImageRemoveEvent =>
  'Untagged' in e ? { untagged: e.Untagged } : { deleted: e.Deleted };

export function imageHandlers(images: ImageService): ImageUnary {
  return {
    ImageList: (req) =>
      refusing(async () => ({
        images: images.list(req.reference ? { reference: req.reference } : {}).map((s) => ({
          id: s.Id,
          repoTags: s.RepoTags,
          repoDigests: s.RepoDigests,
          created: s.Created,
          size: s.Size,
        })),
      })),
    ImageInspect: (req) =>
      refusing(async () => ({ json: JSON.stringify(await images.inspect(req.reference)) })),
    ImageRemove: (req) =>
      refusing(async () => ({
        events: (await images.remove(req.reference, { force: req.force })).map(removeEvent),
      })),
    ImagePrune: (req) =>
      refusing(async () => {
        const { deleted, spaceReclaimed } = await images.prune({ all: req.all });
        return { events: deleted.map(removeEvent), spaceReclaimed };
      }),
    ImageTag: (req) =>
      refusing(async () => {
        await images.tag(req.source, req.target);
        return {};
      }),
    Login: (req) =>
      refusing(async () => {
        if (req.username === '') throw new UserError('login needs a username');
        if (req.password === '') throw new UserError('login needs a password');
        return {
          status: await images.login(req.registry, { username: req.username, password: req.password }),
        };
      }),
    Logout: (req) => refusing(async () => ({ status: await images.logout(req.registry) })),
  };
}

/** A progress event on the wire: whole-image lines (the reference's own name) carry no layer ID. */
function toProgress(e: ProgressEvent, imageName: string): ImageProgress {
  return {
    id: e.id === imageName ? '' : e.id,
    status: e.status,
    ...(e.total !== undefined ? { progressDetail: { current: e.current ?? 0, total: e.total } } : {}),
  };
}

/** The free bytes of the file system holding `dir`. */
async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

export function imageStreams(images: ImageService, dataRoot: string, log: Logger): ImageStreams {
  const fail = (rpc: string, err: unknown) => {
    if (imageErrorCode(err) === undefined) log.error({ rpc, err }, 'local API call failed unexpectedly');
    else log.info({ rpc, err: (err as Error).message }, 'local API call refused');
    return imageStatus(err);
  };
  /**
   * A pull or a push streamed as Docker's progress: its first line (Docker's own, once the registry
   * has answered: the first event), then the throttled layer lines, then the digest.
   */
  const transfer = (
    call: {
      request: { reference: string };
      write(p: ImageProgress): unknown;
      end(): void;
      emit(e: 'error', err: unknown): unknown;
    },
    rpc: string,
    plan: (ref: ImageReference) => {
      first: ProgressEvent;
      run: (onProgress: (e: ProgressEvent) => void) => Promise<{ digest: string }>;
    },
  ): void => {
    void (async () => {
      const ref = parseReference(call.request.reference);
      const name = familiarString(ref);
      const throttle = new ProgressThrottle((e: ProgressEvent) => call.write(toProgress(e, name)));
      const { first, run } = plan(ref);
      let started = false;
      const result = await run((e) => {
        if (!started) throttle.push(first);
        started = true;
        throttle.push(e);
      });
      call.write({ id: '', status: '', digest: result.digest });
      call.end();
    })().catch((err: unknown) => call.emit('error', fail(rpc, err)));
  };
  return {
    ImagePull: (call) =>
      transfer(call, 'ImagePull', (ref) => ({
        first: { id: ref.digest ?? ref.tag ?? 'latest', status: `Pulling from ${ref.path}` },
        run: (onProgress) => images.pull(call.request.reference, { onProgress }),
      })),
    ImagePush: (call) =>
      transfer(call, 'ImagePush', (ref) => ({
        first: { id: familiarString(ref), status: `The push refers to repository [${repositoryName(ref)}]` },
        run: (onProgress) => images.push(call.request.reference, { onProgress }),
      })),
    ImageLoad: (call, callback) => {
      // Nothing flows until the first message has passed the check (it is taken first, then the rest
      // in order); after that the loader's reads pace the client.
      let open = false;
      const source = new Readable({
        read: () => {
          if (open) call.resume();
        },
      });
      let declared: number | undefined;
      let received = 0;
      // Bytes wait for the free-space check of the first message; so does the end of the stream.
      let checked: Promise<void> = Promise.resolve();
      const stop = (err: Error) => {
        call.pause();
        source.destroy(err);
      };
      /** Passes bytes on; false when the loader wants no more for now. */
      const take = (data: Buffer): boolean => {
        if (source.destroyed) return false;
        received += data.length;
        if (declared! > 0 && received > declared!) {
          stop(new BadArchiveError(`more than the ${declared} bytes announced arrived`));
          return false;
        }
        if (source.push(data)) return true;
        call.pause();
        return false;
      };
      call.on('data', (chunk: { data: Buffer; totalSize: number }) => {
        if (declared !== undefined) {
          take(chunk.data);
          return;
        }
        declared = chunk.totalSize;
        // The archive is spooled, then its blobs kept and its layers unpacked: it needs at least its
        // own size free, checked before a byte is written.
        call.pause();
        checked = freeBytes(dataRoot).then(
          (free) => {
            if (declared! > free)
              return stop(
                new UserError(
                  `the image archive has ${declared} bytes; the data root ${dataRoot} has only ${free} free`,
                ),
              );
            open = true;
            if (take(chunk.data)) call.resume();
          },
          (err: unknown) => stop(err as Error),
        );
      });
      call.on('end', () => {
        void checked.then(() => {
          if (source.destroyed) return;
          if (declared !== undefined && declared > 0 && received < declared)
            source.destroy(new BadArchiveError(`truncated: ${received} of ${declared} bytes arrived`));
          else source.push(null);
        });
      });
      // As for save: errors reach load() through its pipeline, and none matter once it has answered.
      source.on('error', () => undefined);
      call.on('cancelled', () => source.destroy(new UserError('the client went away during image load')));
      call.on('error', (err) => source.destroy(err));
      images.load(source).then(
        (loaded) => callback(null, { images: loaded.map((l) => ({ id: l.id, tags: l.tags })) }),
        (err: unknown) => {
          source.destroy();
          callback(fail('ImageLoad', err));
        },
      );
    },
    ImageSave: (call) => {
      // The tar as the store writes it, a message per batch of writes, at the pace the client reads.
      const out = new Writable({
        highWaterMark: 1 << 20,
        writev(chunks, done) {
          const data = Buffer.concat(chunks.map((c) => c.chunk as Buffer));
          if (call.write({ data })) done();
          else call.once('drain', () => done());
        },
      });
      let settled = false;
      // A client gone mid-save stops the writing; the error reaches save() through its pipeline, or
      // nobody when save() already failed (an unknown image: the call ended with that).
      out.on('error', () => undefined);
      call.on('cancelled', () => {
        if (!settled) out.destroy(new UserError('the client went away during image save'));
      });
      images.save(call.request.references, out).then(
        () => {
          settled = true;
          call.end();
        },
        (err: unknown) => {
          settled = true;
          call.emit('error', fail('ImageSave', err));
        },
      );
    },
  };
}
