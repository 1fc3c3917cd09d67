// `swarmlite image pull/push/load/save/ls/inspect/rm/prune/tag` and the short forms `images`, `rmi`:
// this node's image store, through its daemon (proto/local.proto), printed as Docker prints it. The
// archive files of load and save are read and written here; only their bytes cross the socket.
import type * as grpc from '@grpc/grpc-js';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Command } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { UserError } from '../lib/errors.js';
import { rpcErrorText } from '../lib/grpc-errors.js';
import { resolveHost, withDaemon } from '../daemon/client.js';
import type { LocalApiClient } from '../api/rpc.js';
import type { ImageLoadResponse__Output } from '../api/gen/swarmlite/local/v1/ImageLoadResponse.js';
import type { ImageProgress__Output } from '../api/gen/swarmlite/local/v1/ImageProgress.js';
import type { ImageRemoveEvent__Output } from '../api/gen/swarmlite/local/v1/ImageRemoveEvent.js';
import type { ImageSaveChunk__Output } from '../api/gen/swarmlite/local/v1/ImageSaveChunk.js';
import { formatReference, parseReference } from '../worker/images/reference.js';
import { confirm } from './prompt.js';
import { humanSize, imageTable, ProgressDisplay, shortImageId } from './image-output.js';

const PER_IMAGE_CODES = new Set<number>([
  grpcStatus.NOT_FOUND,
  grpcStatus.INVALID_ARGUMENT,
  grpcStatus.FAILED_PRECONDITION,
]);

const hostOf = (cmd: Command) => resolveHost(cmd.optsWithGlobals<{ host?: string }>().host);

/** Reads a server stream to its end, each message to `onData`; the stream's error is thrown. */
function drain<T>(stream: grpc.ClientReadableStream<T>, onData: (m: T) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onSigint = () => {
      stream.cancel();
      reject(new UserError('interrupted'));
    };
    process.once('SIGINT', onSigint);
    stream.on('data', onData);
    stream.on('error', (err) => {
      process.off('SIGINT', onSigint);
      reject(err);
    });
    stream.on('end', () => {
      process.off('SIGINT', onSigint);
      resolve();
    });
  });
}

/** pull and push: the progress stream, then the reference's full name (all `-q` prints). */
async function transfer(verb: 'imagePull' | 'imagePush', reference: string, quiet: boolean, cmd: Command) {
  await withDaemon(hostOf(cmd), async (_calls, client) => {
    const display = new ProgressDisplay((t) => process.stdout.write(t), process.stdout.isTTY === true);
    await drain(client[verb]({ reference }), (m: ImageProgress__Output) => {
      if (!quiet) display.show(m);
    });
  });
  process.stdout.write(`${formatReference(parseReference(reference))}\n`);
}

function printRemoved(events: ImageRemoveEvent__Output[], lower = false): void {
  for (const e of events) {
    const line = e.untagged ? `Untagged: ${e.untagged}` : `Deleted: ${e.deleted}`;
    process.stdout.write(`${lower ? line[0]!.toLowerCase() + line.slice(1) : line}\n`);
  }
}

/** Sends the archive over ImageLoad: its size first, so the daemon can refuse one too big for its
 * disk before storing a byte and tell a truncated upload from a complete one. */
function upload(
  client: LocalApiClient,
  file: string | undefined,
  size: number,
): Promise<ImageLoadResponse__Output> {
  return new Promise((resolve, reject) => {
    let finished = false;
    const call = client.imageLoad((err, res) => {
      finished = true;
      if (err || !res) reject(err);
      else resolve(res);
    });
    const source: Readable =
      file !== undefined ? createReadStream(file, { highWaterMark: 1 << 20 }) : process.stdin;
    void (async () => {
      let first = true;
      for await (const data of source) {
        if (finished) break;
        if (!call.write(first ? { data: data as Buffer, totalSize: size } : { data: data as Buffer }))
          await once(call, 'drain');
        first = false;
      }
      if (first) call.write({ data: Buffer.alloc(0), totalSize: size });
      call.end();
    })().catch((err: unknown) => {
      call.cancel();
      reject(err);
    });
  });
}

async function load(file: string | undefined, quiet: boolean, cmd: Command): Promise<void> {
  let size = 0;
  if (file !== undefined) {
    const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
      throw new UserError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
    if (!st.isFile()) throw new UserError(`${file} is not a file`);
    size = st.size;
  } else if (process.stdin.isTTY) {
    throw new UserError('requested load from stdin, but stdin is empty: use -i FILE', 2);
  }
  const { images } = await withDaemon(hostOf(cmd), (_calls, client) => upload(client, file, size));
  if (quiet && images.length === 0) return;
  for (const img of images) {
    if (img.tags.length === 0) process.stdout.write(`Loaded image ID: ${img.id}\n`);
    for (const tag of img.tags) process.stdout.write(`Loaded image: ${tag}\n`);
  }
}

/** save: into a temporary file beside FILE, renamed to FILE once complete (or to stdout). */
async function save(references: string[], output: string | undefined, cmd: Command): Promise<void> {
  if (output === undefined && process.stdout.isTTY)
    throw new UserError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 2);
  const temp =
    output !== undefined ? join(dirname(output), `.${basename(output)}.${process.pid}.part`) : undefined;
  try {
    await withDaemon(hostOf(cmd), async (_calls, client) => {
      const out = temp !== undefined ? createWriteStream(temp, { mode: 0o644, flags: 'wx' }) : process.stdout;
      const bytes = new Transform({
        writableObjectMode: true,
        transform: (m: ImageSaveChunk__Output, _enc, done) => done(null, m.data),
      });
      const call = client.imageSave({ references });
      // pipeline() destroys the stream on a failure (a full disk, a closed pipe), which does not end
      // the call: cancelled here, so the daemon stops writing.
      await pipeline(call, bytes, out).catch((err: unknown) => {
        call.cancel();
        throw err;
      });
    });
    if (temp !== undefined && output !== undefined) await rename(temp, output);
  } finally {
    if (temp !== undefined) await rm(temp, { force: true });
  }
}

async function list(reference: string | undefined, opts: { all?: boolean; quiet?: boolean }, cmd: Command) {
  const { images } = await withDaemon(hostOf(cmd), (c) =>
    c.imageList({ reference: reference ?? '', all: opts.all === true }),
  );
  if (opts.quiet) {
    const ids = [...new Set(images.map((i) => shortImageId(i.id)))];
    if (ids.length) process.stdout.write(`${ids.join('\n')}\n`);
    return;
  }
  process.stdout.write(`${imageTable(images, Date.now())}\n`);
}

/** A refusal about one of several images (reported, and the others still done), not a lost daemon. */
function perImageError(err: unknown): string | undefined {
  const e = err as Partial<grpc.ServiceError>;
  return e.code !== undefined && PER_IMAGE_CODES.has(e.code) ? rpcErrorText(err) : undefined;
}

async function inspect(references: string[], cmd: Command): Promise<void> {
  const docs: unknown[] = [];
  const errors: string[] = [];
  await withDaemon(hostOf(cmd), async (c) => {
    for (const reference of references) {
      try {
        docs.push(JSON.parse((await c.imageInspect({ reference })).json));
      } catch (err) {
        const line = perImageError(err);
        if (line === undefined) throw err;
        errors.push(line);
      }
    }
  });
  if (docs.length || !errors.length) process.stdout.write(`${JSON.stringify(docs, null, 4)}\n`);
  if (errors.length) throw new UserError(errors.join('\n'));
}

async function remove(references: string[], force: boolean, cmd: Command): Promise<void> {
  const errors: string[] = [];
  await withDaemon(hostOf(cmd), async (c) => {
    for (const reference of references) {
      try {
        printRemoved((await c.imageRemove({ reference, force })).events);
      } catch (err) {
        const line = perImageError(err);
        if (line === undefined) throw err;
        errors.push(line);
      }
    }
  });
  if (errors.length) throw new UserError(errors.join('\n'));
}

async function prune(opts: { all?: boolean; force?: boolean }, cmd: Command): Promise<void> {
  const warning = opts.all
    ? 'WARNING! This will remove all images without at least one container associated to them.'
    : 'WARNING! This will remove all dangling images.';
  if (!opts.force && !(await confirm(`${warning}\nAre you sure you want to continue? [y/N] `))) return;
  const res = await withDaemon(hostOf(cmd), (c) => c.imagePrune({ all: opts.all === true }, 120_000));
  if (res.events.length) {
    process.stdout.write('Deleted Images:\n');
    printRemoved(res.events, true);
    process.stdout.write('\n');
  }
  process.stdout.write(`Total reclaimed space: ${humanSize(res.spaceReclaimed)}\n`);
}

function addList(cmd: Command): Command {
  return cmd
    .description('List the images of this node')
    .argument('[repository[:tag]]')
    .option('-a, --all', 'show all images (this store keeps no intermediate ones)')
    .option('-q, --quiet', 'only image IDs')
    .action((ref: string | undefined, opts: { all?: boolean; quiet?: boolean }, c: Command) =>
      list(ref, opts, c),
    );
}

function addRemove(cmd: Command): Command {
  return cmd
    .description('Remove images from this node')
    .argument('<image...>')
    .option('-f, --force', 'remove an image named by ID with all its tags')
    .action((refs: string[], opts: { force?: boolean }, c: Command) => remove(refs, opts.force === true, c));
}

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description("Manage this node's images");
  image
    .command('pull')
    .description('Download an image from a registry')
    .argument('<reference>')
    .option('-q, --quiet', 'print only the image name')
    .action((ref: string, opts: { quiet?: boolean }, c: Command) =>
      transfer('imagePull', ref, opts.quiet === true, c),
    );
  image
    .command('push')
    .description('Upload an image to a registry')
    .argument('<reference>')
    .option('-q, --quiet', 'print only the image name')
    .action((ref: string, opts: { quiet?: boolean }, c: Command) =>
      transfer('imagePush', ref, opts.quiet === true, c),
    );
  image
    .command('load')
    .description('Load images from a docker-save or OCI layout tar')
    .option('-i, --input <file>', 'read from this tar file instead of stdin')
    .option('-q, --quiet', 'no progress output')
    .action((opts: { input?: string; quiet?: boolean }, c: Command) =>
      load(opts.input, opts.quiet === true, c),
    );
  image
    .command('save')
    .description('Write images to a tar (OCI layout with a docker-save manifest.json)')
    .argument('<image...>')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action((refs: string[], opts: { output?: string }, c: Command) => save(refs, opts.output, c));
  addList(image.command('ls').alias('list'));
  image
    .command('inspect')
    .description('Show images in detail (JSON)')
    .argument('<image...>')
    .action((refs: string[], _opts: unknown, c: Command) => inspect(refs, c));
  addRemove(image.command('rm').alias('remove'));
  image
    .command('prune')
    .description('Remove unused images')
    .option('-a, --all', 'every image no container uses, not only untagged ones')
    .option('-f, --force', 'do not ask for confirmation')
    .action((opts: { all?: boolean; force?: boolean }, c: Command) => prune(opts, c));
  image
    .command('tag')
    .description('Give an image another name')
    .argument('<source>')
    .argument('<target>')
    .action(async (source: string, target: string, _opts: unknown, c: Command) => {
      await withDaemon(hostOf(c), (calls) => calls.imageTag({ source, target }));
    });
  addList(program.command('images'));
  addRemove(program.command('rmi'));
}
