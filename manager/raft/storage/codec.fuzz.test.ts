// Fuzzing the Raft log's records as read back from disk (issue 18, bounded for CI; lib/fuzz.ts): random
// bytes and mutations of valid entries, hard states and metas are refused with the storage's own typed
// errors, never accepted (the records are checksummed) and never thrown on otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUZZ_ROUNDS, mutate, prng, randomBuf } from '../../../lib/fuzz.js';
import { decodeEntry, decodeHardState, decodeMeta, encodeEntry, encodeHardState } from './codec.js';
import { CorruptLogError, CorruptStateError } from './errors.js';

test('raft log records: random and mutated entries, hard states and metas refuse with CorruptLogError/CorruptStateError', () => {
  const rand = prng(1);
  const good = encodeEntry({ index: 7, term: 3, type: 0, data: Buffer.from('{"actions":[]}') });
  assert.equal(decodeEntry(7, good).term, 3);
  const hs = encodeHardState({ term: 5, vote: 2, commit: 9 });
  for (let i = 0; i < FUZZ_ROUNDS; i++) {
    const bad = rand() < 0.5 ? mutate(good, rand) : randomBuf(rand, 64);
    if (bad.equals(good)) continue;
    assert.throws(() => decodeEntry(7, bad), CorruptLogError, `round ${i}: ${bad.toString('hex')}`);
    const badHs = rand() < 0.5 ? mutate(hs, rand) : randomBuf(rand, 64);
    if (badHs.equals(hs)) continue;
    try {
      decodeHardState(badHs);
    } catch (err) {
      assert.ok(err instanceof CorruptStateError, `round ${i}: ${String(err)}`);
    }
    try {
      decodeMeta(randomBuf(rand, 96));
    } catch (err) {
      assert.ok(err instanceof CorruptStateError, `round ${i}: ${String(err)}`);
    }
  }
});
