import assert from 'node:assert/strict';
import { test } from 'node:test';
import { espKeySetFromSession, espMark, espPairKey, espReqid, espSpi } from './esp-keys.js';

const k = (id: number, n = 20) => ({ id, key: Buffer.alloc(n, id) });

test('the key set from a session message: none, a set, or one clear reason it is unusable', () => {
  assert.equal(espKeySetFromSession([], 0), undefined, 'no task on an encrypted network: no keys');
  assert.deepEqual(espKeySetFromSession([k(2), k(1)], 2), { keys: [k(2), k(1)], primary: 2 });
  const bad: [string, { id: number; key: Buffer }[], number, RegExp][] = [
    ['short key', [k(1, 16)], 1, /overlay key 1 has 16 bytes, not the 20/],
    ['long key', [k(1, 32)], 1, /has 32 bytes/],
    ['id 0', [k(0)], 0, /overlay key id 0 is 0, repeated/],
    ['repeated id', [k(1), k(1)], 1, /repeated/],
    ['primary missing', [k(1), k(2)], 3, /the primary overlay key 3 is not among the keys sent/],
  ];
  for (const [name, keys, primary, why] of bad) {
    const r = espKeySetFromSession(keys, primary);
    assert.ok(r && 'error' in r, name);
    assert.match(r.error, why, name);
  }
});

test('every node derives the same SPI and key for a pair and direction, and different ones otherwise', () => {
  const key = { id: 1, key: Buffer.alloc(20, 9) };
  const a = '198.18.0.11';
  const b = '198.18.0.12';
  assert.equal(espSpi(key, a, b), espSpi({ ...key, key: Buffer.from(key.key) }, a, b));
  assert.notEqual(espSpi(key, a, b), espSpi(key, b, a), 'each direction its own SA');
  assert.notEqual(espSpi(key, a, b), espSpi({ ...key, id: 2 }, a, b), 'each key id its own');
  assert.notEqual(
    espSpi(key, a, b),
    espSpi({ ...key, key: Buffer.alloc(20, 8) }, a, b),
    'a new swarm, new SPIs',
  );
  assert.ok(espSpi(key, a, b) >= 0x100);
  assert.equal(espPairKey(key, a, b).length, 20);
  assert.notDeepEqual(espPairKey(key, a, b), espPairKey(key, b, a));
  assert.notDeepEqual(espPairKey(key, a, b), key.key, 'never the cluster key itself');
  assert.notEqual(espReqid('swl'), espReqid('swl2'));
  assert.equal(espMark('swl') >>> 24, 0xe5);
});
