// The file operations the WAL needs, behind an interface so that a test can put a power-loss model
// under it (testing/power-loss-files.ts). The real layer uses fs/promises: every call, fdatasync
// included, runs on libuv's thread pool, so a synced append never blocks the event loop.
//
// A log file is written at positions, not with O_APPEND: its end (where the next record goes) may lie
// before the end of the file, in zeros written ahead (preallocate). Appending into bytes that already
// exist changes no metadata, so making it durable flushes the data alone; appending past the end
// also grows the file, and its fdatasync must commit the file system's journal (on this machine's
// ext4 a synced 300-byte append took 0.7 ms mean into preallocated zeros, 1.2-2.2 ms at the end).

import { constants, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';

/** A file opened for appending at its log's end. */
export interface AppendFile {
  /** Writes `data` at the end of what was appended so far. */
  append(data: Uint8Array): Promise<void>;
  /** Makes everything appended so far (and the file's size) durable. */
  datasync(): Promise<void>;
  /** Bytes in the file, preallocated zeros past the log's end included. */
  readonly size: number;
  /** Grows the file to `size` bytes with zeros, durably; the log's end does not move. */
  preallocate(size: number): Promise<void>;
  close(): Promise<void>;
}

export interface FileLayer {
  mkdir(dir: string): Promise<void>;
  /** Names in `dir` (not paths), in no particular order. */
  list(dir: string): Promise<string[]>;
  read(path: string): Promise<Uint8Array>;
  /**
   * Opens `path` for appending at byte `end` (default: the end of the file), creating it empty if
   * missing. Bytes past `end` must be zeros (preallocated), or the caller truncates them first.
   */
  openAppend(path: string, end?: number): Promise<AppendFile>;
  /** Cuts the file to `length` bytes and makes that durable. */
  truncate(path: string, length: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** Makes the directory's entries (creations, renames, removals) durable. */
  syncDir(dir: string): Promise<void>;
}

/** Zeros written per preallocation write (see NodeAppendFile.preallocate). */
export const PREALLOC_CHUNK = 256 << 10;
const ZEROS = Buffer.alloc(PREALLOC_CHUNK);

/**
 * Opened with O_DSYNC: each write returns only once its bytes (and the size, if it grew the file)
 * are on the medium, which is fdatasync's guarantee for the bytes written so far, since every earlier
 * write had it when it returned. So datasync() has nothing left to do, and a synced append costs one
 * thread-pool job (one write) instead of two (write, then fdatasync), each a wake-up of the event
 * loop. Writes the caller does not need synced are synced too; the WAL makes few of those.
 */
class NodeAppendFile implements AppendFile {
  constructor(
    private readonly fh: FileHandle,
    private end: number,
    public size: number,
    private readonly inline: boolean,
  ) {}

  async append(data: Uint8Array): Promise<void> {
    if (this.inline) {
      let off = 0;
      while (off < data.byteLength) {
        off += writeSync(this.fh.fd, data, off, data.byteLength - off, this.end + off);
      }
    } else {
      await this.writeAt(data, this.end);
    }
    this.end += data.byteLength;
    this.size = Math.max(this.size, this.end);
  }

  datasync(): Promise<void> {
    return Promise.resolve(); // O_DSYNC: every append was durable when it returned
  }

  /**
   * Writes the zeros PREALLOC_CHUNK bytes per write, each its own thread-pool job and O_DSYNC flush.
   * One 4 MiB synced write held the file (and the journal commit an append's flush joins) for 35-125
   * ms on the loaded test machine, and every member reaches the same log offset at about the same
   * time, so the appends of all three waited at once: one stall of the whole cluster's commits per
   * 4 MiB of log. In chunks, an append waits behind one chunk at most.
   */
  async preallocate(size: number): Promise<void> {
    while (this.size < size) {
      const n = Math.min(PREALLOC_CHUNK, size - this.size);
      await this.writeAt(ZEROS.subarray(0, n), this.size);
      this.size += n;
    }
  }

  private async writeAt(data: Uint8Array, position: number): Promise<void> {
    let off = 0;
    while (off < data.byteLength) {
      const { bytesWritten } = await this.fh.write(data, off, data.byteLength - off, position + off);
      off += bytesWritten;
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/**
 * The real file layer. With `inlineAppends`, an append (and its O_DSYNC flush) runs on the calling
 * thread: it blocks the event loop for the flush, but saves the two thread switches a thread-pool job
 * costs, which on a CPU-starved machine take longer than the flush (manager/raft/README.md, "Speed").
 * Preallocation, reads and everything else stay on the pool.
 */
export function nodeFileLayer(opts: { inlineAppends: boolean }): FileLayer {
  return { ...poolFiles, openAppend: (path, end) => openNodeAppendFile(path, end, opts.inlineAppends) };
}

async function openNodeAppendFile(
  path: string,
  end: number | undefined,
  inline: boolean,
): Promise<AppendFile> {
  const fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC, 0o644);
  try {
    const { size } = await fh.stat();
    return new NodeAppendFile(fh, end ?? size, size, inline);
  } catch (err) {
    await fh.close();
    throw err;
  }
}

const poolFiles: FileLayer = {
  async mkdir(dir) {
    await mkdir(dir, { recursive: true });
  },
  list: (dir) => readdir(dir),
  read: (path) => readFile(path),
  openAppend: (path, end) => openNodeAppendFile(path, end, false),
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

/** The real file layer, every call on libuv's thread pool. */
export const nodeFiles: FileLayer = poolFiles;
