// Fuzzing gossip's packets and sync frames as they come off the network (issue 18, bounded for CI;
// lib/fuzz.ts): a mutation of sealed input is never accepted, random input is refused, nothing throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FUZZ_ROUNDS, mutate, prng, randomBuf } from '../../lib/fuzz.js';
import { decodePacket, decodeSync, encodePacket, encodeSync, Keyring } from './codec.js';

test('gossip packets and sync frames: mutations of sealed input are never accepted, nothing throws', () => {
  const rand = prng(2);
  const ring = new Keyring([randomBytes(32)]);
  const packet = encodePacket(
    {
      from: 'n1',
      addr: '198.18.0.11:7946',
      msgs: [{ t: 'alive', node: 'n1', addr: '198.18.0.11:7946', inc: 1 }],
    },
    ring,
  );
  const sync = encodeSync(
    { kind: 'push-pull', from: 'n1', addr: '198.18.0.11:7946', join: false, members: [] },
    ring,
  );
  assert.ok(decodePacket(packet, ring).ok);
  for (let i = 0; i < FUZZ_ROUNDS; i++) {
    const p = mutate(packet, rand);
    if (!p.equals(packet)) assert.equal(decodePacket(p, ring).ok, false, `round ${i}`);
    const s = mutate(sync, rand);
    if (!s.equals(sync)) assert.equal(decodeSync(s, ring).ok, false, `round ${i}`);
    assert.equal(decodePacket(randomBuf(rand, 300), ring).ok, false);
    // Without keys (a plaintext test cluster) random JSON-ish bytes are parsed: still no throw.
    decodePacket(Buffer.concat([Buffer.from([1, 0]), randomBuf(rand, 100)]), new Keyring());
  }
});
