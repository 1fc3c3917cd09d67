// Unpacking one layer (a tar, gzipped or not) into a folder the runtime mounts as an overlayfs
// lowerdir: the stream is gunzipped when it starts like gzip, hashed (the uncompressed bytes must have
// the layer's diff ID) and read entry by entry into a LayerWriter (layer-writer.ts), which refuses
// anything that could land outside the folder. A truncated or corrupt archive is one clear error.
//
// OCI whiteouts become overlayfs's own: `.wh.NAME` a character device 0:0 named NAME, `.wh..wh..opq`
// the `trusted.overlay.opaque=y` xattr on its folder (so the daemon must run as root, as overlayfs
// needs anyway).
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { MissingToolError, UserError } from '../../lib/errors.js';
import { DigestingStream, DigestMismatchError } from './digest.js';
import { LayerWriter } from './layer-writer.js';

export { CorruptLayerError, HostileLayerError, OPAQUE_XATTR } from './layer-writer.js';
import { CorruptLayerError, HostileLayerError } from './layer-writer.js';

/**
 * Unpacks `source` into `root` (an empty folder the caller created and removes on failure), in this
 * thread. `what` names the layer in errors; `diffId` is the sha256 the uncompressed tar must have.
 * Returns the uncompressed size.
 */
export async function unpackLayer(
  source: Readable,
  root: string,
  diffId: string,
  what: string,
): Promise<number> {
  const hasher = new DigestingStream(what);
  const extract = tar.extract();
  const unpacker = new LayerWriter(root, what);
  const head = await peek(source);
  const gzipped = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const stages = gzipped
    ? [source, createGunzip({ chunkSize: 256 << 10 }), hasher, extract]
    : [source, hasher, extract];
  // The first failure says why: an entry refused by the writer, or the source, gunzip or tar reader
  // failing (a truncated or corrupt archive). The feeding pipeline never rejects; it records.
  let failure: unknown;
  const feeding = pipeline(stages).catch((err: unknown) => {
    failure ??= err;
    extract.destroy(err as Error);
  });
  try {
    for await (const entry of extract) {
      await unpacker.entry(entry.header, entry);
    }
  } catch (err) {
    failure ??= err;
    extract.destroy();
  }
  await feeding;
  if (failure !== undefined) {
    if (failure instanceof UserError) throw failure;
    throw new CorruptLayerError(what, (failure as Error).message);
  }
  const actual = hasher.digest();
  if (actual !== diffId) throw new DigestMismatchError(`${what}: uncompressed content`, diffId, actual);
  await unpacker.finish();
  return hasher.bytes;
}

/** The first bytes of a stream, left in it for whoever reads it next. */
async function peek(source: Readable): Promise<Buffer> {
  const chunk = await new Promise<Buffer | null>((resolve, reject) => {
    const done = (value: Buffer | null, err?: Error) => {
      source.off('readable', tryRead);
      source.off('end', onEnd);
      source.off('error', onError);
      if (err) reject(err);
      else resolve(value);
    };
    const tryRead = () => {
      const c = source.read() as Buffer | null;
      if (c !== null) done(c);
    };
    const onEnd = () => done(null);
    const onError = (err: Error) => done(null, err);
    source.on('readable', tryRead);
    source.on('end', onEnd);
    source.on('error', onError);
    tryRead();
  });
  if (chunk === null) return Buffer.alloc(0);
  source.unshift(chunk);
  return chunk;
}

/** Removes a half-unpacked layer. */
export async function removeLayerDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/**
 * unpackLayer for a blob file, in a worker thread: the writer uses synchronous file calls (several
 * times faster than a thread-pool round trip per call, for layers of thousands of small files), and
 * the daemon's event loop stays free meanwhile.
 */
export function unpackLayerFile(
  blobPath: string,
  root: string,
  diffId: string,
  what: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./unpack-worker.js', import.meta.url), {
      workerData: { blobPath, root, diffId, what } satisfies UnpackJob,
    });
    let settled = false;
    worker.once('message', (result: UnpackResult) => {
      settled = true;
      if (result.ok) resolve(result.bytes);
      else reject(revive(result.error));
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`${what}: the unpacking thread exited with code ${code}`));
    });
  });
}

export interface UnpackJob {
  blobPath: string;
  root: string;
  diffId: string;
  what: string;
}

export type UnpackResult = { ok: true; bytes: number } | { ok: false; error: SentError };

/** An error as it crosses from the worker: enough to rebuild the same class on this side. */
export type SentError =
  | { kind: 'hostile' | 'corrupt'; what: string; why: string }
  | { kind: 'digest'; what: string; expected: string; actual: string }
  | { kind: 'tool'; tool: string; pkg: string }
  | { kind: 'user' | 'other'; message: string };

export function sendable(err: unknown): SentError {
  if (err instanceof HostileLayerError) return { kind: 'hostile', what: err.what, why: err.why };
  if (err instanceof CorruptLayerError) return { kind: 'corrupt', what: err.what, why: err.why };
  if (err instanceof DigestMismatchError) {
    return { kind: 'digest', what: err.what, expected: err.expected, actual: err.actual };
  }
  if (err instanceof MissingToolError) return { kind: 'tool', tool: err.tool, pkg: err.debianPackage };
  if (err instanceof UserError) return { kind: 'user', message: err.message };
  return { kind: 'other', message: err instanceof Error ? err.message : String(err) };
}

function revive(sent: SentError): Error {
  switch (sent.kind) {
    case 'hostile':
      return new HostileLayerError(sent.what, sent.why);
    case 'corrupt':
      return new CorruptLayerError(sent.what, sent.why);
    case 'digest':
      return new DigestMismatchError(sent.what, sent.expected, sent.actual);
    case 'tool':
      return new MissingToolError(sent.tool, sent.pkg);
    case 'user':
      return new UserError(sent.message);
    case 'other':
      return new Error(sent.message);
  }
}
