// Unpacking one layer (a tar, gzipped or not) into a folder the runtime mounts as an overlayfs
// lowerdir. The archive is untrusted: every entry is placed by walking its path one component at a
// time with lstat from the layer's root, so nothing is ever written through a symlink or outside the
// folder; `..` and absolute paths, links that leave the layer, device nodes and overlay xattrs smuggled
// in the archive are refused, and the uncompressed bytes must hash to the layer's diff ID.
//
// OCI whiteouts become overlayfs's own: `.wh.NAME` a character device 0:0 named NAME, `.wh..wh..opq`
// the `trusted.overlay.opaque=y` xattr on its folder (so the daemon must run as root, as overlayfs
// needs anyway). Node has no mknod or setxattr, so those few are made by `mknod` and `setfattr` at
// the end, each after its path is checked again.
import { constants } from 'node:fs';
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  open,
  rm,
  symlink,
  unlink,
  utimes,
} from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { UserError } from '../../lib/errors.js';
import { run } from '../../lib/exec.js';
import { DigestingStream, DigestMismatchError } from './digest.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

export class HostileLayerError extends UserError {
  constructor(what: string, why: string) {
    super(`${what}: refused: ${why}`);
    this.name = 'HostileLayerError';
  }
}

export class CorruptLayerError extends UserError {
  constructor(what: string, why: string) {
    super(`${what}: truncated or corrupt: ${why}`);
    this.name = 'CorruptLayerError';
  }
}

type Header = tar.Header;
/** An entry's content as tar-stream yields it. */
type EntryBody = AsyncIterable<unknown> & { resume(): unknown };

interface PendingNode {
  rel: string[];
  header: Header;
}

/**
 * Unpacks `source` into `root` (an empty folder the caller created and removes on failure).
 * `what` names the layer in errors; `diffId` is the sha256 the uncompressed tar must have.
 */
/** Returns the uncompressed size. */
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
  const stages = gzipped ? [source, createGunzip(), hasher, extract] : [source, hasher, extract];
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

class LayerWriter {
  private readonly dirs: PendingNode[] = [];
  private readonly whiteouts: string[][] = [];
  private readonly opaque: string[][] = [];
  private readonly fifos: PendingNode[] = [];
  private readonly xattrs: Array<{ rel: string[]; name: string; value: Buffer }> = [];
  private readonly asRoot = process.getuid?.() === 0;

  constructor(
    private readonly root: string,
    private readonly what: string,
  ) {}

  async entry(header: Header, body: EntryBody): Promise<void> {
    const rel = this.cleanPath(header.name, 'path');
    if (rel.length === 0) {
      body.resume(); // the root folder's own entry: the layer folder stays as the store made it
      return;
    }
    const base = rel[rel.length - 1];
    const parent = rel.slice(0, -1);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      body.resume();
      await this.ensureParents(rel);
      if (base === OPAQUE_MARKER) {
        if (parent.length === 0) throw this.hostile(header.name, 'an opaque marker at the layer root');
        this.opaque.push(parent);
      } else if (!base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) {
        const target = base.slice(WHITEOUT_PREFIX.length);
        if (target === '' || target === '.' || target === '..')
          throw this.hostile(header.name, 'a whiteout without a name');
        this.whiteouts.push([...parent, target]);
      }
      // Other `.wh..wh.` names are aufs bookkeeping with no meaning on overlayfs (as Docker skips them).
      return;
    }
    await this.ensureParents(rel);
    const pax = typeof header.pax === 'object' && header.pax !== null ? header.pax : {};
    for (const [key, value] of Object.entries(pax)) {
      if (!key.startsWith('SCHILY.xattr.') || typeof value !== 'string') continue;
      const name = key.slice('SCHILY.xattr.'.length);
      if (name.startsWith('trusted.overlay.')) throw this.hostile(header.name, `the overlayfs xattr ${name}`);
      this.xattrs.push({ rel, name, value: Buffer.from(value, 'binary') });
    }
    const path = this.abs(rel);
    switch (header.type) {
      case 'directory':
        body.resume();
        if ((await this.kind(path)) !== 'dir') {
          await this.clearFor(path, header.name, 'directory');
          await mkdir(path, 0o700);
        }
        this.dirs.push({ rel, header });
        return;
      case 'file':
      case 'contiguous-file':
        await this.clearFor(path, header.name, 'file');
        await this.writeFile(path, header, body);
        return;
      case 'symlink': {
        body.resume();
        if (!header.linkname) throw this.hostile(header.name, 'a symlink without a target');
        await this.clearFor(path, header.name, 'symlink');
        await symlink(header.linkname, path);
        if (this.asRoot) await lchown(path, header.uid ?? 0, header.gid ?? 0);
        if (header.mtime) await lutimes(path, header.mtime, header.mtime);
        return;
      }
      case 'link': {
        body.resume();
        const target = this.cleanPath(header.linkname ?? '', 'hardlink target', header.name);
        if (target.length === 0) throw this.hostile(header.name, 'a hardlink to the layer root');
        await this.checkInside(target.slice(0, -1), header.name);
        const kind = await this.kind(this.abs(target));
        if (kind === 'missing')
          throw this.hostile(header.name, `a hardlink to ${header.linkname}, which is not in the layer`);
        if (kind === 'dir') throw this.hostile(header.name, 'a hardlink to a directory');
        await this.clearFor(path, header.name, 'hardlink');
        await link(this.abs(target), path);
        return;
      }
      case 'fifo':
        body.resume();
        await this.clearFor(path, header.name, 'fifo');
        this.fifos.push({ rel, header });
        return;
      case 'character-device':
      case 'block-device':
        throw this.hostile(
          header.name,
          `a device node (${header.type} ${header.devmajor}:${header.devminor})`,
        );
      default:
        throw this.hostile(header.name, `an unsupported entry type ${String(header.type)}`);
    }
  }

  /** Makes whiteouts, fifos, xattrs, then gives folders their modes and times (children change them). */
  async finish(): Promise<void> {
    for (const rel of this.whiteouts) {
      await this.checkInside(rel.slice(0, -1), rel.join('/'));
      await this.clearFor(this.abs(rel), rel.join('/'), 'whiteout');
      await run('mknod', ['-m', '0', this.abs(rel), 'c', '0', '0']);
    }
    for (const { rel, header } of this.fifos) {
      await this.checkInside(rel.slice(0, -1), rel.join('/'));
      await run('mkfifo', ['-m', ((header.mode ?? 0o644) & 0o777).toString(8), this.abs(rel)]);
      if (this.asRoot) await chown(this.abs(rel), header.uid ?? 0, header.gid ?? 0);
    }
    for (const rel of this.opaque) {
      await this.checkInside(rel, rel.join('/'));
      await run('setfattr', ['-n', OPAQUE_XATTR, '-v', 'y', this.abs(rel)]);
    }
    for (const { rel, name, value } of this.xattrs) {
      await this.checkInside(rel.slice(0, -1), rel.join('/'));
      await run('setfattr', ['-h', '-n', name, '-v', `0x${value.toString('hex')}`, this.abs(rel)]);
    }
    for (const { rel, header } of this.dirs.reverse()) {
      const path = this.abs(rel);
      if (this.asRoot) await chown(path, header.uid ?? 0, header.gid ?? 0);
      await chmod(path, (header.mode ?? 0o755) & 0o7777);
      if (header.mtime) await utimes(path, header.mtime, header.mtime);
    }
  }

  private async writeFile(path: string, header: Header, body: EntryBody): Promise<void> {
    // O_EXCL|O_NOFOLLOW: the name was just cleared, so anything there now is refused, never followed.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const file = await open(path, flags, 0o600);
    try {
      for await (const chunk of body) {
        if (!Buffer.isBuffer(chunk))
          throw new CorruptLayerError(this.what, 'tar reader yielded a non-buffer');
        await file.write(chunk);
      }
      // chown before chmod: chown clears setuid/setgid bits.
      if (this.asRoot) await file.chown(header.uid ?? 0, header.gid ?? 0);
      await file.chmod((header.mode ?? 0o644) & 0o7777);
      if (header.mtime) await file.utimes(header.mtime, header.mtime);
    } finally {
      await file.close();
    }
  }

  /** Splits an archive path into clean components; `..`, absolute and empty-after-cleaning are refused. */
  private cleanPath(name: string, what: string, entry = name): string[] {
    if (name.includes('\0')) throw this.hostile(entry, `a ${what} with a NUL byte`);
    if (name.startsWith('/')) throw this.hostile(entry, `an absolute ${what} ${JSON.stringify(name)}`);
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..'))
      throw this.hostile(entry, `a ${what} ${JSON.stringify(name)} that leaves the layer`);
    return parts;
  }

  /** Creates missing parent folders; every existing one must be a real folder, never a symlink. */
  private async ensureParents(rel: string[]): Promise<void> {
    let path = this.root;
    for (let i = 0; i < rel.length - 1; i++) {
      path = join(path, rel[i]);
      const kind = await this.kind(path);
      if (kind === 'missing') await mkdir(path, 0o755);
      else if (kind === 'symlink') {
        throw this.hostile(
          rel.join('/'),
          `its parent ${rel.slice(0, i + 1).join('/')} is a symlink (a write through it could leave the layer)`,
        );
      } else if (kind !== 'dir')
        throw this.hostile(rel.join('/'), `its parent ${rel.slice(0, i + 1).join('/')} is not a directory`);
    }
  }

  /** Every component of `rel` must be an existing real folder. */
  private async checkInside(rel: string[], entry: string): Promise<void> {
    let path = this.root;
    for (let i = 0; i < rel.length; i++) {
      path = join(path, rel[i]);
      const kind = await this.kind(path);
      if (kind === 'symlink')
        throw this.hostile(entry, `it goes through the symlink ${rel.slice(0, i + 1).join('/')}`);
      if (kind !== 'dir')
        throw this.hostile(entry, `${rel.slice(0, i + 1).join('/')} is not a directory in the layer`);
    }
  }

  /** A later entry replaces an earlier non-directory of the same name; a directory is never replaced. */
  private async clearFor(path: string, entry: string, type: string): Promise<void> {
    const kind = await this.kind(path);
    if (kind === 'missing') return;
    if (kind === 'dir') throw this.hostile(entry, `a ${type} replacing a directory`);
    await unlink(path);
  }

  private async kind(path: string): Promise<'missing' | 'dir' | 'symlink' | 'other'> {
    try {
      const st = await lstat(path);
      return st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw err;
    }
  }

  private abs(rel: string[]): string {
    return join(this.root, ...rel);
  }

  private hostile(entry: string, why: string): HostileLayerError {
    return new HostileLayerError(this.what, `entry ${JSON.stringify(entry)}: ${why}`);
  }
}

/** Removes a half-unpacked layer. */
export async function removeLayerDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
