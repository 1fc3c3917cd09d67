// The file operations the WAL needs, behind an interface so that a test can put a power-loss model
// under it (testing/power-loss-files.ts). The real layer uses fs/promises: every call, fdatasync
// included, runs on libuv's thread pool, so a synced append never blocks the event loop.

import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';

/** A file opened for appending. */
export interface AppendFile {
  append(data: Uint8Array): Promise<void>;
  /** Makes everything appended so far (and the file's size) durable. */
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export interface FileLayer {
  mkdir(dir: string): Promise<void>;
  /** Names in `dir` (not paths), in no particular order. */
  list(dir: string): Promise<string[]>;
  read(path: string): Promise<Uint8Array>;
  /** Opens `path` for appending, creating it empty if missing. */
  openAppend(path: string): Promise<AppendFile>;
  /** Cuts the file to `length` bytes and makes that durable. */
  truncate(path: string, length: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** Makes the directory's entries (creations, renames, removals) durable. */
  syncDir(dir: string): Promise<void>;
}

class NodeAppendFile implements AppendFile {
  constructor(private readonly fh: FileHandle) {}

  async append(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.byteLength) {
      const { bytesWritten } = await this.fh.write(data, off, data.byteLength - off);
      off += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

export const nodeFiles: FileLayer = {
  async mkdir(dir) {
    await mkdir(dir, { recursive: true });
  },
  list: (dir) => readdir(dir),
  read: (path) => readFile(path),
  async openAppend(path) {
    return new NodeAppendFile(await open(path, 'a'));
  },
  async truncate(path, length) {
    const fh = await open(path, 'r+');
    try {
      await fh.truncate(length);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  },
  rename: (from, to) => rename(from, to),
  remove: (path) => rm(path, { force: true }),
  async syncDir(dir) {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
