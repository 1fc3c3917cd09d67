// Typed failures of the durable Raft storage. Corruption is always reported, never repaired silently:
// the caller decides (see DiskStorageOptions.repairTruncate) because only it knows whether dropping
// data is safe.

/** A stored log entry is unreadable, fails its checksum, or breaks the log's shape (gap, term regression). */
export class CorruptLogError extends Error {
  constructor(
    /** The first log index found bad; everything from here on is suspect. */
    readonly index: number,
    readonly reason: string,
  ) {
    super(`raft log corrupt at index ${index}: ${reason}`);
    this.name = 'CorruptLogError';
  }
}

/** A snapshot file is missing, truncated, fails its checksum, or disagrees with the metadata naming it. */
export class CorruptSnapshotError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`raft snapshot ${path} corrupt: ${reason}`);
    this.name = 'CorruptSnapshotError';
  }
}

/** The hard state or the log metadata record fails its checksum or is inconsistent with the log. */
export class CorruptStateError extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`raft storage record '${key}' corrupt: ${reason}`);
    this.name = 'CorruptStateError';
  }
}

/** createSnapshot()/save() was given a snapshot no newer than the one already stored. */
export class SnapshotOutOfDateError extends Error {
  constructor(index: number, current: number) {
    super(`raft snapshot at index ${index} is not newer than the stored snapshot at ${current}`);
    this.name = 'SnapshotOutOfDateError';
  }
}

/**
 * A write failed, so memory and disk may disagree: the storage refuses further writes. The owner must
 * stop the member and reopen the storage (which recovers the last durable state), as etcd does.
 */
export class StorageFailedError extends Error {
  constructor(override readonly cause: unknown) {
    super(
      `raft storage failed and refuses writes: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
    this.name = 'StorageFailedError';
  }
}
