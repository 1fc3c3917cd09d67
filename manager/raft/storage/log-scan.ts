// The check run over the whole stored log when the storage opens: indices contiguous from the
// compaction point, terms never decreasing, every checksum good. It stops at the first bad entry and
// reports it; what to do about it is the caller's decision (see DiskStorage.open).

import type { Database } from 'lmdb';
import type { Entry } from '../types.js';
import { decodeEntry, keyIndex } from './codec.js';
import { CorruptLogError } from './errors.js';

export interface LogScan {
  /** Last index of the good prefix (offset.index when there is none). */
  lastIndex: number;
  /** The good prefix's last `keepTail` entries, oldest first, to warm the tail cache. */
  tail: Entry[];
  /** The first problem found; entries from corrupt.index on were not accepted. */
  corrupt?: CorruptLogError;
}

export function scanLog(
  log: Database<Buffer, Buffer>,
  offset: { index: number; term: number },
  keepTail: number,
): LogScan {
  let expected = offset.index + 1;
  let prevTerm = offset.term;
  const tail: Entry[] = [];
  const done = (corrupt?: CorruptLogError): LogScan => ({
    lastIndex: expected - 1,
    tail: tail.slice(Math.max(0, tail.length - keepTail)),
    corrupt,
  });

  for (const { key, value } of log.getRange({ snapshot: true })) {
    let index: number;
    try {
      index = keyIndex(key);
    } catch {
      return done(new CorruptLogError(expected, `malformed key of ${key.byteLength} bytes`));
    }
    if (index < expected) {
      // Compaction deletes these in the same transaction that moves the offset, so one left over
      // means the two disagree.
      return done(new CorruptLogError(index, `entry left below the compaction point ${offset.index}`));
    }
    if (index > expected) {
      return done(new CorruptLogError(expected, `entry missing; the next stored entry is ${index}`));
    }
    let entry: Entry;
    try {
      entry = decodeEntry(index, value);
    } catch (err) {
      if (err instanceof CorruptLogError) return done(err);
      throw err;
    }
    if (entry.term < prevTerm) {
      return done(new CorruptLogError(index, `term ${entry.term} is below the previous term ${prevTerm}`));
    }
    prevTerm = entry.term;
    tail.push(entry);
    if (tail.length >= 2 * keepTail + 64) tail.splice(0, tail.length - keepTail); // amortized O(1)
    expected++;
  }
  return done();
}
