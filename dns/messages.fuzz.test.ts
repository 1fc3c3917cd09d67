// Fuzzing the DNS query reader (issue 18, bounded for CI; lib/fuzz.ts): random and mutated datagrams
// are read as a query, an error to answer, or a drop, never thrown on. The resolver itself is fuzzed
// over real sockets in resolver.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUZZ_ROUNDS, mutate, prng, randomBuf } from '../lib/fuzz.js';
import { readQuery } from './messages.js';

test('DNS messages: random and mutated queries are read as a query, an error to answer, or a drop', () => {
  const rand = prng(4);
  const q = Buffer.from('12340100000100000000000003777777076578616d706c6503636f6d0000010001', 'hex');
  for (let i = 0; i < FUZZ_ROUNDS * 3; i++) {
    const r = readQuery(rand() < 0.5 ? mutate(q, rand) : randomBuf(rand, 80));
    assert.ok(['query', 'error', 'drop'].includes(r.kind), `round ${i}`);
  }
});
