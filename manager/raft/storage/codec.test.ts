import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EntryType } from '../types.js';
import {
  decodeEntry,
  decodeHardState,
  decodeMeta,
  encodeEntry,
  encodeHardState,
  encodeMeta,
  indexKey,
} from './codec.js';
import { CorruptLogError, CorruptStateError } from './errors.js';
import { decodeSnapshotFile, encodeSnapshotFile } from './snapshot-files.js';

describe('storage codec', () => {
  const e = { index: 2 ** 40 + 7, term: 3, type: EntryType.ConfChange, data: new Uint8Array([1, 2, 3]) };

  it('round-trips entries and orders keys like indexes', () => {
    assert.deepEqual(decodeEntry(e.index, encodeEntry(e)), e);
    assert.ok(Buffer.compare(indexKey(255), indexKey(256)) < 0);
    assert.ok(Buffer.compare(indexKey(2 ** 32 - 1), indexKey(2 ** 32)) < 0);
  });

  it('detects any flipped bit and a record under the wrong index', () => {
    const value = encodeEntry(e);
    for (let byte = 0; byte < value.length; byte++) {
      const bad = Buffer.from(value);
      bad[byte] ^= 0x04;
      assert.throws(() => decodeEntry(e.index, bad), CorruptLogError, `byte ${byte}`);
    }
    assert.throws(() => decodeEntry(e.index + 1, value), /checksum/);
    assert.throws(() => decodeEntry(e.index, value.subarray(0, 5)), /shorter/);
  });

  it('checks the hard state and metadata records', () => {
    const hs = { term: 4, vote: 2, commit: 9 };
    assert.deepEqual(decodeHardState(encodeHardState(hs)), hs);
    const bad = encodeHardState(hs);
    bad[6] ^= 1;
    assert.throws(() => decodeHardState(bad), CorruptStateError);
    const meta = {
      snapshot: { index: 5, term: 2, confState: { voters: [1], learners: [] } },
      offset: { index: 3, term: 1 },
    };
    assert.deepEqual(decodeMeta(encodeMeta(meta)), meta);
  });

  it('round-trips a snapshot file and rejects any truncation', () => {
    const snap = {
      metadata: { index: 9, term: 2, confState: { voters: [1, 2], learners: [3] } },
      data: new Uint8Array(300).fill(7),
    };
    const file = Buffer.concat(encodeSnapshotFile(snap));
    assert.deepEqual(decodeSnapshotFile('x', file), snap);
    for (const cut of [0, 10, 20, file.length - 1]) {
      assert.throws(() => decodeSnapshotFile('x', file.subarray(0, cut)), /corrupt/);
    }
  });
});
