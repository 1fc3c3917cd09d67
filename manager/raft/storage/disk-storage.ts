// Durable Raft storage: the log, hard state and log metadata in LMDB, snapshots as files. Implements the
// core's LogStorage (reads) plus the write side the node shell drives once per Ready.
//
// Every write is applied to an in-memory view of the log at once, on the caller's turn, and committed
// to LMDB later by the group committer; reads are answered from that view (the recent tail from memory,
// older entries from LMDB). Entries the view holds but LMDB may not yet have are always kept in the
// tail cache, so a read never falls through to LMDB for data that is not committed there.
// Durability contract: save(rd, true) resolves only after LMDB has fsync'd the transaction holding it.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import {
  CompactedError,
  UnavailableError,
  type ConfState,
  type Entry,
  type HardState,
  type LogStorage,
  type Snapshot,
} from '../types.js';
import { decodeEntry, indexKey, keyIndex } from './codec.js';
import { CorruptLogError } from './errors.js';
import { GroupCommitter } from './group-commit.js';
import { LogTailCache } from './log-cache.js';
import { recoverOnOpen, type RecoveryReport } from './recovery.js';
import {
  planCompact,
  planCreateSnapshot,
  planDropChunk,
  planSave,
  planSnapshotMeta,
  type LogView,
  type WriteJob,
} from './plan.js';
import { keptSnapshotNames, snapshotFileName, SnapshotFiles } from './snapshot-files.js';
import { applyWriteOps, type LogDatabases } from './write-ops.js';

export type { RecoveryReport } from './recovery.js';

export interface DiskStorageOptions {
  /**
   * Drop a corrupt log tail found on open instead of refusing to open (default false). Never applies to
   * committed entries. See README.md ("Recovery and corruption") for when that is safe.
   */
  repairTruncate?: boolean;
  /** Upper bounds of the in-memory log tail (defaults 4096 entries, 32 MiB). */
  cacheMaxEntries?: number;
  cacheMaxBytes?: number;
}

/** What the shell hands save() for each Ready. */
export interface SaveRequest {
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
}

export interface StorageStats {
  /** save() calls accepted. */
  saves: number;
  /** LMDB transactions committed (one per group-commit batch). */
  batches: number;
  /** LMDB flushes awaited because a batch held a synced write: one fsync'd commit each. */
  fsyncs: number;
  /** Most jobs (saves, snapshots, compactions) committed by one transaction. */
  largestBatch: number;
  /** fsync calls made on snapshot files and the snapshot directory. */
  snapshotFsyncs: number;
}

/** The LMDB environment's file in the data directory (and its lock file, with '-lock'). */
export const LMDB_FILE = 'raft.mdb';
/** Per-entry framing the core adds when it sizes messages (core/util entrySize); kept in step with it. */
const ENTRY_FRAMING_BYTES = 16;
const SNAP_DIR = 'snap';

export class DiskStorage implements LogStorage {
  private readonly committer: GroupCommitter<WriteJob>;
  private readonly termOf = (i: number): number => this.term(i);
  private readonly counters = { saves: 0, batches: 0, fsyncs: 0, largestBatch: 0 };
  private closed = false;
  /** The loop submitting compaction chunks one at a time, while it runs. */
  private dropping: Promise<void> | undefined;
  /** createSnapshot file writes in progress, awaited by close(). */
  private readonly snapshotWrites = new Set<Promise<void>>();
  /** Snapshot files written or being written whose metadata has not committed: never pruned. */
  private readonly unnamedFiles = new Set<string>();
  /** The snapshot the committed metadata names; pruning keeps its file and the one before. */
  private namedSnapshot: Snapshot;
  /** Pruning runs after commits, off the commit path, one at a time. */
  private pruning: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly root: RootDatabase,
    private readonly dbs: LogDatabases,
    private readonly snapFiles: SnapshotFiles,
    private readonly view: LogView,
    private readonly cacheLimits: { entries: number; bytes: number },
    /** What open() found and did: temp files removed, orphan snapshots removed, tail repaired. */
    readonly recovery: RecoveryReport,
  ) {
    this.committer = new GroupCommitter((jobs) => this.commitBatch(jobs));
    this.namedSnapshot = view.snapshot;
  }

  /** Opens (creating) the storage in `dir`, verifying everything stored; see RecoveryReport. */
  static async open(dir: string, options: DiskStorageOptions = {}): Promise<DiskStorage> {
    await mkdir(dir, { recursive: true });
    const limits = { entries: options.cacheMaxEntries ?? 4096, bytes: options.cacheMaxBytes ?? 32 << 20 };
    const { files, removedTemp } = await SnapshotFiles.open(join(dir, SNAP_DIR));
    // overlappingSync (lmdb's Linux default, made explicit here): a commit becomes visible first and is
    // fsync'd right after, outside the write lock; `flushed` resolves once it is on disk. That lets an
    // unsynced write skip the wait without ever turning off syncing (noSync would risk corruption).
    const root = openLmdb({ path: join(dir, LMDB_FILE), overlappingSync: true, noSync: false, cache: false });
    try {
      const dbs: LogDatabases = {
        log: root.openDB<Buffer, Buffer>('log', { keyEncoding: 'binary', encoding: 'binary' }),
        state: root.openDB<Buffer, string>('state', { encoding: 'binary' }),
      };
      const rec = await recoverOnOpen(root, dbs, files, {
        repairTruncate: options.repairTruncate ?? false,
        keepTail: limits.entries,
      });
      rec.report.removedTempFiles.unshift(...removedTemp);
      const cache = new LogTailCache(rec.lastIndex + 1);
      cache.append(rec.tail);
      cache.trim(limits.entries, limits.bytes, rec.lastIndex);
      const view: LogView = {
        hardState: rec.hardState,
        snapshot: rec.snapshot,
        offset: rec.meta.offset,
        lastIndex: rec.lastIndex,
        cache,
        persistedLast: rec.lastIndex,
        queuedMeta: rec.meta,
        pendingDrops: [],
      };
      return new DiskStorage(dir, root, dbs, files, view, limits, rec.report);
    } catch (err) {
      await root.close();
      throw err;
    }
  }

  // ---- LogStorage (reads) ----

  initialState(): { hardState: HardState; confState: ConfState } {
    const c = this.view.snapshot.metadata.confState;
    return {
      hardState: { ...this.view.hardState },
      confState: { voters: [...c.voters], learners: [...c.learners] },
    };
  }

  firstIndex(): number {
    return this.view.offset.index + 1;
  }

  lastIndex(): number {
    return this.view.lastIndex;
  }

  term(i: number): number {
    const { offset, lastIndex, cache } = this.view;
    if (i < offset.index) throw new CompactedError(i);
    if (i === offset.index) return offset.term;
    if (i > lastIndex) throw new UnavailableError(i);
    return (cache.get(i) ?? this.readStored(i)).term;
  }

  /** Entries [lo, hi) up to maxBytes (counted as the core does: payload + 16), but at least one. */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.view.offset.index) throw new CompactedError(lo);
    if (hi > this.view.lastIndex + 1) throw new UnavailableError(hi - 1);
    if (lo > hi) throw new RangeError(`entries: lo ${lo} > hi ${hi}`);
    const out: Entry[] = [];
    let bytes = 0;
    const take = (e: Entry): boolean => {
      bytes += e.data.byteLength + ENTRY_FRAMING_BYTES;
      if (out.length > 0 && bytes > maxBytes) return false;
      out.push(e);
      return true;
    };
    const cacheStart = this.view.cache.start;
    if (lo < cacheStart) {
      // Below the tail cache everything is committed in LMDB (see the file comment).
      const end = Math.min(hi, cacheStart);
      let expected = lo;
      for (const { key, value } of this.dbs.log.getRange({ start: indexKey(lo), end: indexKey(end) })) {
        if (keyIndex(key) !== expected) throw new CorruptLogError(expected, 'entry missing');
        if (!take(decodeEntry(expected, value))) return out;
        expected++;
      }
      if (expected !== end) throw new CorruptLogError(expected, 'entry missing');
    }
    for (let i = Math.max(lo, cacheStart); i < hi; i++) {
      if (!take(this.view.cache.get(i) as Entry)) return out;
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.view.snapshot;
  }

  // ---- writes ----

  /**
   * Persists one Ready: installs `snapshot` (dropping the whole log it replaces), appends `entries`
   * (replacing any stored suffix from entries[0].index on) and sets `hardState`, all in one LMDB
   * transaction. With `sync` the promise resolves only once that transaction is fsync'd. Saves made while
   * a commit is in flight share the next transaction and fsync. Reads reflect the save immediately.
   */
  save(rd: SaveRequest, sync: boolean): Promise<void> {
    try {
      this.assertWritable();
      const job = planSave(this.view, this.termOf, rd, sync);
      this.counters.saves++;
      this.trimCache();
      return this.committer.submit(job);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Records a snapshot of the applied state at `index` (<= the commit index): writes the snapshot file
   * durably, then points the metadata at it; resolves once that is durable. Reads return the snapshot at
   * once. The file is written outside the commit queue, so saves keep committing meanwhile. Does not
   * compact; call compact() for that.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    try {
      this.assertWritable();
      const snap = planCreateSnapshot(this.view, this.termOf, index, confState, data);
      const name = snapshotFileName(snap.metadata.term, index);
      this.unnamedFiles.add(name);
      const written: Promise<void> = this.writeSnapshot(snap).finally(() => {
        this.unnamedFiles.delete(name);
        this.snapshotWrites.delete(written);
      });
      this.snapshotWrites.add(written);
      return written.then(() => snap);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Drops entries up to and including `index` (which must be covered by the snapshot), keeping the
   * term of `index` so that firstIndex() becomes index + 1 and term(index) still answers. Reads reflect
   * it at once; on disk the entries go in chunks, each its own transaction submitted only after the
   * previous one committed, so saves made meanwhile are never held behind the whole deletion.
   * Resolves when every chunk has committed.
   */
  compact(index: number): Promise<void> {
    try {
      this.assertWritable();
      planCompact(this.view, this.termOf, index);
      this.dropping ??= this.dropChunks();
      return this.dropping;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private async writeSnapshot(snap: Snapshot): Promise<void> {
    try {
      await this.snapFiles.write(snap);
    } catch (err) {
      // The view already serves this snapshot: memory is ahead of disk, as after any failed write.
      this.committer.fail(err);
      throw this.committer.failed;
    }
    const job = planSnapshotMeta(this.view, snap);
    if (job) await this.committer.submit(job);
    else this.prune(); // superseded while written: its file is not needed
  }

  private async dropChunks(): Promise<void> {
    try {
      // After close() the rest is left on disk: the stored offset is consistent at every chunk, and a
      // reopened log merely starts earlier than this one said.
      while (!this.closed) {
        const job = planDropChunk(this.view);
        if (!job) break;
        await this.committer.submit(job);
      }
    } finally {
      // Runs on the same turn as the last empty check above, so a compact() arriving later starts anew.
      this.dropping = undefined;
    }
  }

  stats(): StorageStats {
    return { ...this.counters, snapshotFsyncs: this.snapFiles.fsyncs };
  }

  /** Waits for every accepted write to commit, then closes LMDB. Further calls fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Their failures are the committer's, already reported to their callers.
    await Promise.allSettled(this.snapshotWrites);
    await this.dropping?.catch(() => undefined);
    await this.committer.idle();
    await this.pruning;
    await this.root.flushed;
    await this.root.close();
  }

  private assertWritable(): void {
    if (this.closed) throw new Error('raft storage is closed');
    const failed = this.committer.failed;
    if (failed) throw failed;
  }

  private readStored(i: number): Entry {
    return decodeEntry(i, this.dbs.log.get(indexKey(i)));
  }

  private trimCache(): void {
    this.view.cache.trim(this.cacheLimits.entries, this.cacheLimits.bytes, this.view.persistedLast);
  }

  private async commitBatch(jobs: readonly WriteJob[]): Promise<void> {
    // Received snapshots (installs) are written here, in order with the saves around them; the file
    // must be durable before the metadata naming it can commit, and is not pruned until then.
    const installs = jobs.flatMap((j) => (j.snapshotFile ? [j.snapshotFile] : []));
    const installNames = installs.map((s) => snapshotFileName(s.metadata.term, s.metadata.index));
    for (const name of installNames) this.unnamedFiles.add(name);
    try {
      for (const snap of installs) await this.snapFiles.write(snap);
      await this.commitOps(jobs, installs.length > 0);
    } finally {
      for (const name of installNames) this.unnamedFiles.delete(name);
    }
    const named = jobs.findLast((j) => j.namesSnapshot !== undefined)?.namesSnapshot;
    if (named) {
      this.namedSnapshot = named;
      this.prune();
    }
  }

  private async commitOps(jobs: readonly WriteJob[], installs: boolean): Promise<void> {
    const ops = jobs.flatMap((j) => j.ops);
    const sync = installs || jobs.some((j) => j.sync);
    if (ops.length > 0) {
      // Either way the transaction aborts as a whole if applying throws: a batch is never half-written.
      if (sync) {
        // A synced batch commits on this thread: LMDB writes the pages, fdatasyncs and writes the meta page
        // before this returns. lmdb-js's asynchronous commit takes about six thread hand-offs per batch
        // (writer thread, callback, commit, flush thread, back), each waiting for a core on a busy
        // machine; nothing that depends on this batch can proceed before its fsync anyway, and saves
        // arriving meanwhile queue up for the next batch. Measured in a 3-member cluster on the shared
        // 2-core machine: ~3.2 ms per synced write asynchronously, ~1.7 ms inline.
        this.root.transactionSync(() => applyWriteOps(this.dbs, ops));
      } else {
        // Unsynced batches (compaction chunks, deferred commit indexes) need no fsync: keep them off
        // this thread.
        await this.root.childTransaction(() => applyWriteOps(this.dbs, ops));
      }
      this.counters.batches++;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, jobs.length);
      if (sync) this.counters.fsyncs++;
    }
    if (sync) await this.root.flushed;
    this.root.resetReadTxn();
    // Everything up to this batch is in LMDB now, except what writes queued behind it will rewrite.
    const last = jobs[jobs.length - 1].lastIndexAfter;
    this.view.persistedLast = Math.min(last, ...this.committer.queuedJobs().map((j) => j.lowWater));
    this.trimCache();
  }

  /**
   * Queues a pass keeping the named snapshot's file, the one before it and every file whose metadata
   * is still to commit, deleting the rest. A failure stops the storage like any failed write.
   */
  private prune(): void {
    this.pruning = this.pruning.then(async () => {
      try {
        const keep = keptSnapshotNames(await this.snapFiles.list(), this.namedSnapshot);
        for (const name of this.unnamedFiles) keep.add(name);
        await this.snapFiles.removeAllBut(keep);
      } catch (err) {
        this.committer.fail(err);
      }
    });
  }
}
