// Snapshot files in <dir>/snap/, one per snapshot, named <term>-<index>.snap in 16-digit hex so a plain
// listing sorts them. A file appears under its final name only once complete and fsync'd (temp file,
// fsync, rename, fsync of the directory), so a crash leaves either the old set of files or the new one
// plus, at worst, a *.tmp leftover that open() deletes.
//
// File layout (integers big-endian):
//   8 bytes magic "SWLSNAP1" | u32 crc | u32 metadata length | metadata JSON {index, term, confState} | data
//   crc = CRC32 of everything after the crc field, so truncation or any flipped byte is detected.

import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Snapshot, SnapshotMetadata } from '../types.js';
import { isConfState } from './codec.js';
import { CorruptSnapshotError } from './errors.js';

const MAGIC = Buffer.from('SWLSNAP1', 'ascii');
const HEADER = 8 + 4 + 4;
const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const TEMP_SUFFIX = '.tmp';

export interface SnapshotFileName {
  term: number;
  index: number;
  name: string;
}

/**
 * The files to keep given the current snapshot: its own file and the newest one before it (kept as a
 * fallback an operator can inspect). Files newer than the current one were never committed.
 */
export function keptSnapshotNames(files: SnapshotFileName[], current: Snapshot): Set<string> {
  const { index, term } = current.metadata;
  const keep = new Set<string>();
  const cur = files.find((f) => f.index === index && f.term === term);
  if (cur) keep.add(cur.name);
  const older = files.filter((f) => f.index < index);
  if (older.length > 0) keep.add(older[older.length - 1].name);
  return keep;
}

export function snapshotFileName(term: number, index: number): string {
  return `${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.snap`;
}

export function encodeSnapshotFile(snap: Snapshot): Buffer[] {
  const { index, term, confState } = snap.metadata;
  const meta = Buffer.from(JSON.stringify({ index, term, confState }), 'utf8');
  const header = Buffer.alloc(HEADER);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(meta.byteLength, 12);
  const crc = crc32(snap.data, crc32(meta, crc32(header.subarray(12))));
  header.writeUInt32BE(crc, 8);
  return [header, meta, Buffer.from(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength)];
}

/** Parses and verifies a snapshot file's bytes; `path` only names it in errors. */
export function decodeSnapshotFile(path: string, buf: Buffer): Snapshot {
  if (buf.byteLength < HEADER) throw new CorruptSnapshotError(path, `only ${buf.byteLength} bytes`);
  if (!buf.subarray(0, 8).equals(MAGIC)) throw new CorruptSnapshotError(path, 'bad magic');
  if (buf.readUInt32BE(8) !== crc32(buf.subarray(12))) {
    throw new CorruptSnapshotError(path, 'checksum mismatch (truncated or damaged)');
  }
  const metaLen = buf.readUInt32BE(12);
  if (HEADER + metaLen > buf.byteLength) throw new CorruptSnapshotError(path, 'metadata overruns file');
  let meta: SnapshotMetadata;
  try {
    meta = JSON.parse(buf.subarray(HEADER, HEADER + metaLen).toString('utf8')) as SnapshotMetadata;
  } catch {
    throw new CorruptSnapshotError(path, 'unparsable metadata');
  }
  if (!Number.isSafeInteger(meta.index) || !Number.isSafeInteger(meta.term) || !isConfState(meta.confState)) {
    throw new CorruptSnapshotError(path, 'malformed metadata');
  }
  const start = buf.byteOffset + HEADER + metaLen;
  return {
    metadata: { index: meta.index, term: meta.term, confState: meta.confState },
    data: new Uint8Array(buf.buffer, start, buf.byteLength - HEADER - metaLen),
  };
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class SnapshotFiles {
  /** fsync calls made (file + directory), for the storage's statistics. */
  fsyncs = 0;

  private constructor(readonly dir: string) {}

  /** Opens (creating) the directory and deletes temp files left by a write a crash interrupted. */
  static async open(dir: string): Promise<{ files: SnapshotFiles; removedTemp: string[] }> {
    const files = new SnapshotFiles(dir);
    // A freshly created directory's own entry must be durable too, or the files in it could vanish.
    if ((await mkdir(dir, { recursive: true })) !== undefined) await fsyncDir(dirname(dir));
    const removedTemp: string[] = [];
    for (const name of await readdir(dir)) {
      if (name.endsWith(TEMP_SUFFIX)) {
        await rm(join(dir, name), { force: true });
        removedTemp.push(name);
      }
    }
    if (removedTemp.length > 0) await fsyncDir(dir);
    return { files, removedTemp };
  }

  path(term: number, index: number): string {
    return join(this.dir, snapshotFileName(term, index));
  }

  /** Writes the snapshot atomically and durably; resolves once file and directory entry are fsync'd. */
  async write(snap: Snapshot): Promise<void> {
    const final = this.path(snap.metadata.term, snap.metadata.index);
    const temp = final + TEMP_SUFFIX;
    const fh = await open(temp, 'w', 0o600);
    try {
      let position = 0;
      for (const chunk of encodeSnapshotFile(snap)) {
        let done = 0;
        while (done < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, done, chunk.byteLength - done, position);
          done += bytesWritten;
          position += bytesWritten;
        }
      }
      await fh.sync();
      this.fsyncs++;
    } finally {
      await fh.close();
    }
    await rename(temp, final);
    await fsyncDir(this.dir);
    this.fsyncs++;
  }

  /** Reads and verifies the snapshot file for (term, index); a missing or bad file is CorruptSnapshotError. */
  async read(term: number, index: number): Promise<Snapshot> {
    const path = this.path(term, index);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new CorruptSnapshotError(path, 'file missing');
      throw err;
    }
    const snap = decodeSnapshotFile(path, buf);
    if (snap.metadata.index !== index || snap.metadata.term !== term) {
      throw new CorruptSnapshotError(
        path,
        `holds term ${snap.metadata.term} index ${snap.metadata.index}, not term ${term} index ${index}`,
      );
    }
    return snap;
  }

  /** Snapshot files present, oldest first (by index, then term). */
  async list(): Promise<SnapshotFileName[]> {
    const out: SnapshotFileName[] = [];
    for (const name of await readdir(this.dir)) {
      const m = NAME_RE.exec(name);
      if (m) out.push({ term: parseInt(m[1], 16), index: parseInt(m[2], 16), name });
    }
    return out.sort((a, b) => a.index - b.index || a.term - b.term);
  }

  /** Deletes every snapshot file whose name is not in `keep`; returns the names deleted. */
  async removeAllBut(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const f of await this.list()) {
      if (!keep.has(f.name)) {
        await rm(join(this.dir, f.name), { force: true });
        removed.push(f.name);
      }
    }
    if (removed.length > 0) await fsyncDir(this.dir);
    return removed;
  }
}
