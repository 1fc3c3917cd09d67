// The node's storage on the WAL (wal/): the log tail, hard state and snapshot names in CRC'd, group-
// committed segments written and fdatasync'd on libuv's thread pool (never blocking the event loop),
// snapshots as files (snapshot-files.ts). Implements the core's LogStorage from the WAL's view, which
// reflects every accepted save at once, and the node's NodeStorage write side.
//
// A local snapshot's file is written (fsync'd) and then named in the WAL (SnapshotTaken), so a restart
// starts from it. Compaction moves the view at once and rotates the segment (rewriting only what is
// kept) when the segment has grown past ROTATE_BYTES: until then the disk holds the older entries too,
// which a restart merely keeps.

import { join } from 'node:path';
import { limitSize } from '../core/util.js';
import type { NodeStorage, PersistBatch } from '../node/storage.js';
import {
  CompactedError,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
  UnavailableError,
} from '../types.js';
import { keptSnapshotNames, snapshotFileName, SnapshotFiles } from './snapshot-files.js';
import { type FileLayer, nodeFiles } from './wal/files.js';
import { lastIndex, termAt } from './wal/log-view.js';
import { Wal, type WalStats } from './wal/wal.js';

const ROTATE_BYTES = 16 << 20;
const EMPTY = new Uint8Array(0);

export class WalStorage implements NodeStorage {
  /** Saves wait behind a snapshot install, whose file must be durable before the WAL names it. */
  private installing: Promise<void> | undefined;

  private constructor(
    private readonly wal: Wal,
    private readonly snapFiles: SnapshotFiles,
    /** The newest snapshot (created or installed); the WAL may still name an older one on disk. */
    private snap: Snapshot,
    private readonly rotateBytes: number,
  ) {}

  static async open(
    dir: string,
    opts: { files?: FileLayer; rotateBytes?: number; preallocBytes?: number } = {},
  ): Promise<WalStorage> {
    const wal = await Wal.open(join(dir, 'wal'), {
      files: opts.files ?? nodeFiles,
      preallocBytes: opts.preallocBytes,
    });
    const { files: snapFiles } = await SnapshotFiles.open(join(dir, 'snap'));
    const meta = wal.view.snapshot;
    const snap =
      meta.index === 0 ? { metadata: meta, data: EMPTY } : await snapFiles.read(meta.term, meta.index);
    return new WalStorage(wal, snapFiles, snap, opts.rotateBytes ?? ROTATE_BYTES);
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    const c = this.snap.metadata.confState;
    return {
      hardState: { ...this.wal.view.hardState },
      confState: { voters: [...c.voters], learners: [...c.learners] },
    };
  }

  firstIndex(): number {
    return this.wal.view.offset.index + 1;
  }

  lastIndex(): number {
    return lastIndex(this.wal.view);
  }

  term(i: number): number {
    const v = this.wal.view;
    if (i < v.offset.index) throw new CompactedError(i);
    const t = termAt(v, i);
    if (t === undefined) throw new UnavailableError(i);
    return t;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const v = this.wal.view;
    if (lo <= v.offset.index) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    const off = v.offset.index + 1;
    return limitSize(v.entries.slice(lo - off, hi - off), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  save(b: PersistBatch, sync: boolean): Promise<void> {
    if (this.installing) return this.installing.then(() => this.save(b, sync));
    if (!b.snapshot) return this.wal.save({ hardState: b.hardState, entries: b.entries }, sync);
    const snap = b.snapshot;
    if (snap.metadata.index <= this.snap.metadata.index) {
      return Promise.reject(
        new RangeError(`snapshot at ${snap.metadata.index} is not newer than ${this.snap.metadata.index}`),
      );
    }
    this.snap = snap;
    const done = this.snapFiles
      .write(snap)
      .then(() =>
        this.wal.save({ hardState: b.hardState, entries: b.entries, snapshot: snap.metadata }, true),
      );
    this.installing = done.finally(() => {
      this.installing = undefined;
    });
    return done;
  }

  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    if (index <= this.snap.metadata.index || index > this.wal.view.hardState.commit) {
      throw new RangeError(
        `cannot snapshot at ${index} (snapshot ${this.snap.metadata.index}, commit ${this.wal.view.hardState.commit})`,
      );
    }
    const snap: Snapshot = {
      metadata: {
        index,
        term: this.term(index),
        confState: { voters: [...confState.voters], learners: [...confState.learners] },
      },
      data,
    };
    await this.snapFiles.write(snap);
    if (index > this.snap.metadata.index) {
      this.snap = snap;
      await this.wal.markSnapshot(snap.metadata);
    }
    return snap;
  }

  async compact(index: number): Promise<void> {
    if (index > this.snap.metadata.index)
      throw new RangeError(`compacting to ${index} beyond the snapshot at ${this.snap.metadata.index}`);
    const rotate = this.wal.segmentBytes >= this.rotateBytes;
    await this.wal.compact(this.snap.metadata, index, rotate);
    if (rotate) {
      const keep = keptSnapshotNames(await this.snapFiles.list(), this.snap);
      keep.add(snapshotFileName(this.snap.metadata.term, this.snap.metadata.index));
      await this.snapFiles.removeAllBut(keep);
    }
  }

  stats(): WalStats {
    return this.wal.stats();
  }

  close(): Promise<void> {
    return (this.installing ?? Promise.resolve()).then(() => this.wal.close());
  }
}
