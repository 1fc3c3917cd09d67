// A write-ahead log for the Raft log tail, in etcd's wal/ shape: append-only segment files of CRC'd
// records, made durable with fdatasync, group-committed (every save arriving while a write and its
// fdatasync are in flight shares the next write and fdatasync).
//
// Segments are <seq:016x>.wal. Each begins with a Checkpoint record holding the state before it, so
// only the newest segment is ever needed. Compaction rotates: the retained state (checkpoint plus the
// entries after the compaction point) is written to <seq+1>.wal.tmp, fdatasync'd, renamed into place
// and the directory fsync'd; only then are older segments deleted. A segment under its final name is
// therefore complete, and only the newest one can end in a torn or partly written record: open() cuts
// it at the first record that is incomplete or fails its CRC. That loses only writes nobody was told
// were durable, since every acknowledged save's bytes precede the fdatasync it waited for.
//
// Segments are preallocated: zeros are written ahead of the log's end, PREALLOC_BYTES at a time, so an
// append only overwrites bytes the file already has and its fdatasync flushes data, not the file
// system's journal (files.ts). The next chunk is written once the log is half-way into the current
// one, beside the appends (a disjoint range), so an append waits for it only if it catches up. A zero record header ends the log as cleanly as the end of the file;
// open() checks that everything after the last record is zeros, and truncates it otherwise, so that
// no bytes from before a crash can ever follow a record written after it.
//
// The view (hard state, snapshot metadata, entries) reflects every accepted save at once, ahead of the
// disk, as the core's reads need.

import { join } from 'node:path';
import type { Entry, HardState, SnapshotMetadata } from '../../types.js';
import { CorruptLogError, SnapshotOutOfDateError, StorageFailedError } from '../errors.js';
import { type AppendFile, type FileLayer, nodeFiles } from './files.js';
import { applyRecord, checkpointOf, emptyView, lastIndex, termAt, type WalView } from './log-view.js';
import { decodeRecords, encodeRecord, RecordKind, type WalRecord } from './records.js';

export interface WalBatch {
  hardState?: HardState;
  entries: Entry[];
  /** A snapshot installed (received from the leader): the whole log before it is replaced. */
  snapshot?: SnapshotMetadata;
}

export interface WalRecovery {
  /** Set when the newest segment ended in a bad record, cut at `offset` bytes. */
  truncated?: { segment: string; offset: number; reason: string };
  /** Older segments and temp files removed. */
  removed: string[];
}

export interface WalStats {
  saves: number;
  /** Writes to the segment file (one per group-commit batch). */
  batches: number;
  fdatasyncs: number;
  largestBatch: number;
}

interface Job {
  /** Encoded records to append, or a whole new segment to rotate to. */
  bytes: Buffer;
  rotate: boolean;
  sync: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const SEGMENT_RE = /^([0-9a-f]{16})\.wal$/;
/** Zeros written ahead of the log's end at a time (etcd preallocates 64 MiB per segment). */
export const PREALLOC_BYTES = 4 << 20;

export interface WalOptions {
  files?: FileLayer;
  /** See PREALLOC_BYTES; tests use less. */
  preallocBytes?: number;
}
const segmentName = (seq: number): string => `${seq.toString(16).padStart(16, '0')}.wal`;

export class Wal {
  private queue: Job[] = [];
  private writing = false;
  private failure: StorageFailedError | undefined;
  private closed = false;
  private readonly counters: WalStats = { saves: 0, batches: 0, fdatasyncs: 0, largestBatch: 0 };
  /** Bytes in the current segment (what a rotation would reclaim, less what it keeps). */
  segmentBytes = 0;
  private idleWaiters: Array<() => void> = [];
  /** The zeros being written ahead of the log's end, if any (awaited before the file is closed). */
  private extending: Promise<void> | undefined;

  private constructor(
    private readonly files: FileLayer,
    private readonly preallocBytes: number,
    readonly dir: string,
    private seq: number,
    private file: AppendFile,
    readonly view: WalView,
    readonly recovery: WalRecovery,
  ) {}

  /** Opens (creating) the WAL in `dir`: replays the newest segment, cutting a torn tail. */
  static async open(dir: string, opts: WalOptions = {}): Promise<Wal> {
    const files = opts.files ?? nodeFiles;
    const prealloc = opts.preallocBytes ?? PREALLOC_BYTES;
    await files.mkdir(dir);
    const names = await files.list(dir);
    const recovery: WalRecovery = { removed: [] };
    for (const n of names.filter((n) => n.endsWith('.tmp'))) {
      await files.remove(join(dir, n));
      recovery.removed.push(n);
    }
    const segments = names.filter((n) => SEGMENT_RE.test(n)).sort();
    if (segments.length === 0) {
      const view = emptyView();
      const head = encodeRecord({ kind: RecordKind.Checkpoint, checkpoint: checkpointOf(view) });
      await writeSegment(files, dir, 1, head);
      const file = await files.openAppend(join(dir, segmentName(1)), head.byteLength);
      const wal = new Wal(files, prealloc, dir, 1, file, view, recovery);
      wal.segmentBytes = head.byteLength;
      wal.extendAhead(wal.segmentBytes);
      return wal;
    }
    const newest = segments[segments.length - 1];
    const path = join(dir, newest);
    const bytes = await files.read(path);
    const { records, validLength, badTail } = decodeRecords(bytes);
    if (records[0]?.kind !== RecordKind.Checkpoint) {
      // Renamed into place only once complete and durable: a bad head is damage, not a crash.
      throw new CorruptLogError(
        0,
        `segment ${newest} does not start with a checkpoint (${badTail ?? 'empty'})`,
      );
    }
    const view = emptyView();
    for (const r of records) applyRecord(view, r);
    if (badTail && !isZeros(bytes.subarray(validLength))) {
      await files.truncate(path, validLength);
      recovery.truncated = { segment: newest, offset: validLength, reason: badTail };
    }
    for (const old of segments.slice(0, -1)) {
      await files.remove(join(dir, old));
      recovery.removed.push(old);
    }
    if (segments.length > 1) await files.syncDir(dir);
    const seq = parseInt(SEGMENT_RE.exec(newest)![1], 16);
    const wal = new Wal(files, prealloc, dir, seq, await files.openAppend(path, validLength), view, recovery);
    wal.segmentBytes = validLength;
    wal.extendAhead(validLength);
    return wal;
  }

  /**
   * Writes a new WAL in `dir` (which holds no segment) whose first segment holds `view`: a checkpoint
   * of its hard state, snapshot and compaction point, then its entries. The segment appears under its
   * final name only once complete and durable (writeSegment), so a crash leaves no WAL or all of it.
   * Used to carry a log over from another layout (migrate.ts).
   */
  static async create(dir: string, view: WalView, files: FileLayer = nodeFiles): Promise<void> {
    const names = await files.list(dir);
    if (names.some((n) => SEGMENT_RE.test(n))) throw new Error(`wal: ${dir} already holds a WAL`);
    const records: WalRecord[] = [
      { kind: RecordKind.Checkpoint, checkpoint: checkpointOf(view) },
      ...view.entries.map((entry) => ({ kind: RecordKind.Entry, entry }) as const),
    ];
    // Replayed exactly as open() will: a view that cannot be replayed is refused before anything lands.
    const check = emptyView();
    for (const r of records) applyRecord(check, r);
    await writeSegment(files, dir, 1, Buffer.concat(records.map(encodeRecord)));
  }

  /** Whether `dir` holds a WAL (a segment under its final name). */
  static async exists(dir: string, files: FileLayer = nodeFiles): Promise<boolean> {
    const names = await files.list(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    return names.some((n) => SEGMENT_RE.test(n));
  }

  stats(): WalStats {
    return { ...this.counters };
  }

  /**
   * Appends one Ready's state: a received snapshot's metadata, entries (replacing the suffix from
   * entries[0].index), hard state. Resolves once written; with `sync`, once fdatasync'd too. Checked
   * before anything changes: a write breaking the log's invariants is refused.
   */
  save(batch: WalBatch, sync: boolean): Promise<void> {
    try {
      this.assertWritable();
      const records = this.plan(batch);
      for (const r of records) applyRecord(this.view, r);
      this.counters.saves++;
      return this.enqueue(Buffer.concat(records.map(encodeRecord)), false, sync);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Records `snapshot` (the application's state at snapshot.index, written to its own file by the
   * caller, durably, before this call) and drops the entries up to and including `index` (<= the
   * snapshot's index). With `rotate` (the default) that is made durable by rotating to a new segment
   * holding only what is kept, and resolves once it is; without, only the view moves at once (no I/O):
   * the disk keeps the older snapshot's name and the entries after it, which a restart then replays
   * (the next rotation drops them). Rotations cost a rewrite of what is kept, so a caller compacting
   * often rotates only now and then (segmentBytes says how much a rotation would reclaim).
   */
  compact(snapshot: SnapshotMetadata, index: number, rotate = true): Promise<void> {
    try {
      this.assertWritable();
      const v = this.view;
      const term = termAt(v, index);
      if (term === undefined || index < v.offset.index || (index === v.offset.index && !rotate)) {
        throw new RangeError(
          `wal: cannot compact to ${index}: log holds ${v.offset.index + 1}..${lastIndex(v)}`,
        );
      }
      if (snapshot.index < v.snapshot.index)
        throw new SnapshotOutOfDateError(snapshot.index, v.snapshot.index);
      const named = snapshot.index === v.snapshot.index && snapshot.term === v.snapshot.term;
      if (!named && (snapshot.index > v.hardState.commit || termAt(v, snapshot.index) !== snapshot.term)) {
        throw new RangeError(`wal: snapshot at ${snapshot.index}@${snapshot.term} is not a committed entry`);
      }
      if (index > snapshot.index) {
        throw new RangeError(`wal: compacting to ${index} beyond the snapshot at ${snapshot.index}`);
      }
      v.snapshot = snapshot;
      applyRecord(v, { kind: RecordKind.Compact, index, term });
      if (!rotate) return Promise.resolve();
      const kept: WalRecord[] = [
        { kind: RecordKind.Checkpoint, checkpoint: checkpointOf(this.view) },
        ...this.view.entries.map((entry) => ({ kind: RecordKind.Entry, entry }) as const),
      ];
      return this.enqueue(Buffer.concat(kept.map(encodeRecord)), true, true);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Names a local snapshot (its file already durable) as the one a restart starts from; the log is
   * kept (compact() drops it). Unsynced: if it is lost, a restart starts from the previous one.
   */
  markSnapshot(snapshot: SnapshotMetadata): Promise<void> {
    try {
      this.assertWritable();
      const v = this.view;
      if (snapshot.index <= v.snapshot.index)
        throw new SnapshotOutOfDateError(snapshot.index, v.snapshot.index);
      if (snapshot.index > v.hardState.commit || termAt(v, snapshot.index) !== snapshot.term) {
        throw new RangeError(`wal: snapshot at ${snapshot.index}@${snapshot.term} is not a committed entry`);
      }
      const r: WalRecord = { kind: RecordKind.SnapshotTaken, snapshot };
      applyRecord(v, r);
      return this.enqueue(encodeRecord(r), false, false);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Waits for every accepted write, then closes the segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.writing || this.queue.length > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    await this.extending?.catch(() => {});
    await this.file.close();
  }

  private assertWritable(): void {
    if (this.closed) throw new Error('wal is closed');
    if (this.failure) throw this.failure;
  }

  private plan(b: WalBatch): WalRecord[] {
    const v = this.view;
    const out: WalRecord[] = [];
    let last = lastIndex(v);
    let prevTerm = (i: number): number | undefined => termAt(v, i);
    if (b.snapshot) {
      if (b.snapshot.index <= v.snapshot.index)
        throw new SnapshotOutOfDateError(b.snapshot.index, v.snapshot.index);
      out.push({ kind: RecordKind.Snapshot, snapshot: b.snapshot });
      const s = b.snapshot;
      last = s.index;
      prevTerm = (i) => (i === s.index ? s.term : undefined);
    }
    const commit = b.snapshot ? b.snapshot.index : v.hardState.commit;
    b.entries.forEach((e, k) => {
      const first = k === 0;
      if (first && (e.index <= commit || e.index > last + 1)) {
        throw new RangeError(`wal: append at ${e.index} outside (${commit}, ${last + 1}]`);
      }
      if (!first && e.index !== b.entries[k - 1].index + 1)
        throw new RangeError(`wal: entries not contiguous at ${e.index}`);
      const before = first ? prevTerm(e.index - 1) : b.entries[k - 1].term;
      if (before === undefined || e.term < before)
        throw new RangeError(`wal: term ${e.term} at ${e.index} after ${before}`);
      out.push({ kind: RecordKind.Entry, entry: e });
    });
    if (b.hardState) out.push({ kind: RecordKind.HardState, hardState: b.hardState });
    return out;
  }

  private enqueue(bytes: Buffer, rotate: boolean, sync: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ bytes, rotate, sync, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  /** The writer: one append and at most one fdatasync per batch of queued saves; rotations alone. */
  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const rotateAt = this.queue.findIndex((j) => j.rotate);
      const take = rotateAt === 0 ? 1 : rotateAt < 0 ? this.queue.length : rotateAt;
      const batch = this.queue.splice(0, take);
      try {
        if (batch[0].rotate) await this.rotate(batch[0].bytes);
        else await this.appendBatch(batch);
        for (const j of batch) j.resolve();
      } catch (err) {
        this.failure = new StorageFailedError(err);
        for (const j of [...batch, ...this.queue.splice(0)]) j.reject(this.failure);
      }
    }
    this.writing = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private async appendBatch(batch: Job[]): Promise<void> {
    const bytes = batch.length === 1 ? batch[0].bytes : Buffer.concat(batch.map((j) => j.bytes));
    // Appends must stay below the file's size while zeros are written past it (extendAhead).
    const end = this.segmentBytes + bytes.byteLength;
    if (end > this.file.size) await this.extending;
    if (end > this.file.size) {
      await this.file.preallocate(Math.ceil(end / this.preallocBytes) * this.preallocBytes);
    }
    this.extendAhead(end);
    await this.file.append(bytes);
    this.segmentBytes += bytes.byteLength;
    this.counters.batches++;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    if (batch.some((j) => j.sync)) {
      await this.file.datasync();
      this.counters.fdatasyncs++;
    }
  }

  /** Starts writing the next chunk of zeros once the log's end is within half a chunk of the file's. */
  private extendAhead(end: number): void {
    if (this.extending || this.file.size - end >= this.preallocBytes / 2) return;
    const p = this.file.preallocate(this.file.size + this.preallocBytes);
    // A failure surfaces where it is awaited (the next append needing the space, rotate, close).
    this.extending = p;
    p.then(
      () => {
        if (this.extending === p) this.extending = undefined;
      },
      () => {},
    );
  }

  private async rotate(bytes: Buffer): Promise<void> {
    // Whatever the old segment holds unsynced is also in the new one (the checkpoint was taken after it).
    const next = this.seq + 1;
    await writeSegment(this.files, this.dir, next, bytes);
    this.counters.fdatasyncs++;
    this.segmentBytes = bytes.byteLength;
    await this.extending;
    await this.file.close();
    const old = segmentName(this.seq);
    this.seq = next;
    this.file = await this.files.openAppend(join(this.dir, segmentName(next)), bytes.byteLength);
    this.extendAhead(bytes.byteLength);
    await this.files.remove(join(this.dir, old)); // superseded; a crash before this is cleaned by open()
  }
}

/** Writes a complete segment under its final name: temp file, fdatasync, rename, directory fsync. */
async function writeSegment(files: FileLayer, dir: string, seq: number, bytes: Buffer): Promise<void> {
  const tmp = join(dir, `${segmentName(seq)}.tmp`);
  await files.remove(tmp); // a crashed earlier attempt's leftover: openAppend would append to it
  const f = await files.openAppend(tmp);
  try {
    await f.append(bytes);
    await f.datasync();
  } finally {
    await f.close();
  }
  await files.rename(tmp, join(dir, segmentName(seq)));
  await files.syncDir(dir);
}

function isZeros(b: Uint8Array): boolean {
  const zero = new Uint8Array(64 << 10);
  for (let off = 0; off < b.byteLength; off += zero.byteLength) {
    const part = b.subarray(off, off + zero.byteLength);
    if (Buffer.compare(part, zero.subarray(0, part.byteLength)) !== 0) return false;
  }
  return true;
}
