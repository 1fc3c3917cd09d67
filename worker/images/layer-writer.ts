// Writes the entries of one layer archive into an empty folder, refusing anything that could land
// outside it. The folder starts empty and only this writer changes it, so the writer knows the kind
// of every node it has made (folder, symlink, other). A path is placed by walking that record one
// component at a time:
//
// - a component that is a symlink is never walked through (a symlink then a file "through" it);
// - a folder is never replaced by anything else, so a folder once checked stays one;
// - files are created with O_EXCL|O_NOFOLLOW, so a name is never followed even if the record were wrong.
//
// Calls are synchronous: the writer runs in a worker thread (unpack.ts), where a direct syscall is
// several times faster than a thread-pool round trip per call.
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type * as tar from 'tar-stream';
import { UserError } from '../../lib/errors.js';
import { run } from '../../lib/exec.js';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

export class HostileLayerError extends UserError {
  constructor(
    readonly what: string,
    readonly why: string,
  ) {
    super(`${what}: refused: ${why}`);
    this.name = 'HostileLayerError';
  }
}

export class CorruptLayerError extends UserError {
  constructor(
    readonly what: string,
    readonly why: string,
  ) {
    super(`${what}: truncated or corrupt: ${why}`);
    this.name = 'CorruptLayerError';
  }
}

type Kind = 'dir' | 'symlink' | 'other';
/** An entry's content as tar-stream yields it. */
export type EntryBody = AsyncIterable<unknown> & { resume(): unknown };

const CREATE_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export class LayerWriter {
  /** Every node this writer made, by its clean relative path. */
  private readonly nodes = new Map<string, Kind>();
  /** Folder metadata, applied at the end (adding children changes a folder's times). */
  private readonly dirs = new Map<string, tar.Header>();
  private readonly whiteouts: string[][] = [];
  private readonly opaque: string[][] = [];
  private readonly xattrs: Array<{ rel: string[]; name: string; value: Buffer }> = [];
  private readonly asRoot = process.getuid?.() === 0;

  constructor(
    private readonly root: string,
    private readonly what: string,
  ) {
    if (readdirSync(root).length > 0) throw new Error(`layer folder ${root} is not empty`);
  }

  async entry(header: tar.Header, body: EntryBody): Promise<void> {
    const rel = this.cleanPath(header.name, 'path');
    const base = rel[rel.length - 1];
    if (base === undefined) {
      body.resume(); // the root folder's own entry: the layer folder stays as the store made it
      return;
    }
    const parent = rel.slice(0, -1);
    this.ensureParents(rel, header.name);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      body.resume();
      if (base === OPAQUE_MARKER) {
        if (parent.length === 0) throw this.hostile(header.name, 'an opaque marker at the layer root');
        this.opaque.push(parent);
      } else if (!base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) {
        const target = base.slice(WHITEOUT_PREFIX.length);
        if (target === '' || target === '.' || target === '..') {
          throw this.hostile(header.name, 'a whiteout without a name');
        }
        this.whiteouts.push([...parent, target]);
      }
      // Other `.wh..wh.` names are aufs bookkeeping with no meaning on overlayfs (Docker skips them too).
      return;
    }
    this.collectXattrs(header, rel);
    const path = this.abs(rel);
    const key = rel.join('/');
    switch (header.type) {
      case 'directory':
        body.resume();
        if (this.nodes.get(key) !== 'dir') {
          this.clearFor(rel, header.name, 'directory');
          mkdirSync(path, 0o700);
          this.nodes.set(key, 'dir');
        }
        this.dirs.set(key, header);
        return;
      case 'file':
      case 'contiguous-file':
        this.clearFor(rel, header.name, 'file');
        await this.writeFile(path, header, body);
        this.nodes.set(key, 'other');
        return;
      case 'symlink':
        body.resume();
        if (!header.linkname) throw this.hostile(header.name, 'a symlink without a target');
        this.clearFor(rel, header.name, 'symlink');
        symlinkSync(header.linkname, path);
        this.nodes.set(key, 'symlink');
        if (this.asRoot && (header.uid !== 0 || header.gid !== 0)) lchownSync(path, header.uid, header.gid);
        lutimesSync(path, header.mtime, header.mtime);
        return;
      case 'link': {
        body.resume();
        const target = this.cleanPath(header.linkname ?? '', 'hardlink target', header.name);
        if (target.length === 0) throw this.hostile(header.name, 'a hardlink to the layer root');
        this.checkFolders(target.slice(0, -1), header.name);
        const kind = this.nodes.get(target.join('/'));
        if (kind === undefined) {
          throw this.hostile(header.name, `a hardlink to ${header.linkname}, which is not in the layer`);
        }
        if (kind === 'dir') throw this.hostile(header.name, 'a hardlink to a directory');
        this.clearFor(rel, header.name, 'hardlink');
        linkSync(this.abs(target), path); // link(2) does not follow a symlink: the new name is one too
        this.nodes.set(key, kind);
        return;
      }
      case 'fifo':
        body.resume();
        this.clearFor(rel, header.name, 'fifo');
        await run('mkfifo', ['-m', (header.mode & 0o777).toString(8), path]);
        this.nodes.set(key, 'other');
        if (this.asRoot) chownSync(path, header.uid, header.gid);
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

  /** Makes whiteouts, opaque markers and xattrs, then gives folders their owners, modes and times. */
  async finish(): Promise<void> {
    const whiteoutPaths: string[] = [];
    for (const rel of this.whiteouts) {
      this.checkFolders(rel.slice(0, -1), rel.join('/'));
      this.clearFor(rel, rel.join('/'), 'whiteout');
      this.nodes.set(rel.join('/'), 'other');
      whiteoutPaths.push(this.abs(rel));
    }
    // One process for all of them; the paths are arguments, never parsed by the shell.
    if (whiteoutPaths.length > 0) {
      await run('sh', [
        '-c',
        'for p; do mknod -m 0 "$p" c 0 0 || exit 1; done',
        'mknod-whiteouts',
        ...whiteoutPaths,
      ]);
    }
    for (const rel of this.opaque) this.checkFolders(rel, rel.join('/'));
    if (this.opaque.length > 0) {
      await run('setfattr', ['-n', OPAQUE_XATTR, '-v', 'y', ...this.opaque.map((rel) => this.abs(rel))]);
    }
    for (const { rel, name, value } of this.xattrs) {
      this.checkFolders(rel.slice(0, -1), rel.join('/'));
      if (!this.nodes.has(rel.join('/'))) continue; // replaced by a later entry without it
      await run('setfattr', ['-h', '-n', name, '-v', `0x${value.toString('hex')}`, this.abs(rel)]);
    }
    // Deepest first, so setting a folder's time is not undone by touching its parent's children.
    const folders = [...this.dirs].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [key, header] of folders) {
      const path = join(this.root, key);
      if (this.asRoot) chownSync(path, header.uid, header.gid);
      chmodSync(path, header.mode & 0o7777);
      utimesSync(path, header.mtime, header.mtime);
    }
  }

  private async writeFile(path: string, header: tar.Header, body: EntryBody): Promise<void> {
    const fd = openSync(path, CREATE_FILE, 0o600);
    try {
      for await (const chunk of body) {
        if (!(chunk instanceof Uint8Array))
          throw new CorruptLayerError(this.what, 'tar reader yielded a non-buffer');
        for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off);
      }
      // chown before chmod: chown clears setuid/setgid bits. Files are created root-owned (no folder
      // has its setgid bit until finish), so root:root needs no call.
      if (this.asRoot && (header.uid !== 0 || header.gid !== 0)) fchownSync(fd, header.uid, header.gid);
      fchmodSync(fd, header.mode & 0o7777);
      futimesSync(fd, header.mtime, header.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private collectXattrs(header: tar.Header, rel: string[]): void {
    const pax = typeof header.pax === 'object' && header.pax !== null ? header.pax : {};
    for (const [key, value] of Object.entries(pax)) {
      if (!key.startsWith('SCHILY.xattr.') || typeof value !== 'string') continue;
      const name = key.slice('SCHILY.xattr.'.length);
      if (name.startsWith('trusted.overlay.')) throw this.hostile(header.name, `the overlayfs xattr ${name}`);
      this.xattrs.push({ rel, name, value: Buffer.from(value, 'binary') });
    }
  }

  /** Splits an archive path into clean components; `..` and absolute paths are refused. */
  private cleanPath(name: string, what: string, entry = name): string[] {
    if (name.includes('\0')) throw this.hostile(entry, `a ${what} with a NUL byte`);
    if (name.startsWith('/')) throw this.hostile(entry, `an absolute ${what} ${JSON.stringify(name)}`);
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..'))
      throw this.hostile(entry, `a ${what} ${JSON.stringify(name)} that leaves the layer`);
    return parts;
  }

  /** Creates missing parent folders; an existing parent must be a folder, never a symlink. */
  private ensureParents(rel: string[], entry: string): void {
    // A folder in the record has had its whole chain checked when it was made.
    if (rel.length === 1 || this.nodes.get(rel.slice(0, -1).join('/')) === 'dir') return;
    for (let i = 0; i < rel.length - 1; i++) {
      const key = rel.slice(0, i + 1).join('/');
      const kind = this.nodes.get(key);
      if (kind === undefined) {
        mkdirSync(join(this.root, key), 0o755);
        this.nodes.set(key, 'dir');
      } else if (kind === 'symlink') {
        throw this.hostile(
          entry,
          `its parent ${key} is a symlink (a write through it could leave the layer)`,
        );
      } else if (kind !== 'dir') {
        throw this.hostile(entry, `its parent ${key} is not a directory`);
      }
    }
  }

  /** Every component of `rel` must be a folder of the layer. */
  private checkFolders(rel: string[], entry: string): void {
    for (let i = 0; i < rel.length; i++) {
      const key = rel.slice(0, i + 1).join('/');
      const kind = this.nodes.get(key);
      if (kind === 'symlink') throw this.hostile(entry, `it goes through the symlink ${key}`);
      if (kind !== 'dir') throw this.hostile(entry, `${key} is not a directory in the layer`);
    }
  }

  /** A later entry replaces an earlier non-folder of the same name; a folder is never replaced. */
  private clearFor(rel: string[], entry: string, type: string): void {
    const key = rel.join('/');
    const kind = this.nodes.get(key);
    if (kind === undefined) return;
    if (kind === 'dir') throw this.hostile(entry, `a ${type} replacing a directory`);
    unlinkSync(this.abs(rel));
    this.nodes.delete(key);
  }

  private abs(rel: string[]): string {
    return join(this.root, ...rel);
  }

  private hostile(entry: string, why: string): HostileLayerError {
    return new HostileLayerError(this.what, `entry ${JSON.stringify(entry)}: ${why}`);
  }
}
