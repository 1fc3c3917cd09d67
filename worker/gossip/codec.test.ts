import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { decodePacket, decodeSync, encodePacket, encodeSync, Keyring, type DropReason } from './codec.js';
import type { Packet, SyncMessage } from './core.js';

const packet: Packet = {
  from: 'n1',
  addr: '127.0.0.1:7946',
  msgs: [
    { t: 'ping', seq: 7, target: 'n2' },
    { t: 'alive', node: 'n3', addr: '127.0.0.3:7946', inc: 2 },
    {
      t: 'entry',
      table: 'overlay-peers',
      network: 'net1',
      key: '10.0.1.5',
      value: 'AAEC',
      owner: 'n1',
      ltime: 9,
      deleted: false,
    },
  ],
};
const k1 = randomBytes(32);
const k2 = randomBytes(32);

test('packets and syncs round-trip, encrypted and in plaintext', () => {
  for (const ring of [new Keyring(), new Keyring([k1])]) {
    const d = decodePacket(encodePacket(packet, ring), ring);
    assert.deepEqual(d, { ok: true, value: packet });
    const sync: SyncMessage = {
      kind: 'push-pull',
      from: 'n1',
      addr: 'a',
      join: true,
      members: [{ id: 'n1', addr: 'a', inc: 0, state: 'alive' }],
      attachments: [{ node: 'n1', network: 'x', joined: true, ltime: 1 }],
    };
    assert.deepEqual(decodeSync(encodeSync(sync, ring), ring), { ok: true, value: sync });
  }
});

test('the same packet encrypts differently every time (random nonce)', () => {
  const ring = new Keyring([k1]);
  assert.notDeepEqual(encodePacket(packet, ring), encodePacket(packet, ring));
});

test('bad packets are dropped with a reason, never thrown', () => {
  const ring = new Keyring([k1]);
  const good = encodePacket(packet, ring);
  const plainRing = new Keyring();
  const plain = encodePacket(packet, plainRing);
  const flip = (b: Buffer, i: number) => {
    const c = Buffer.from(b);
    c[i] ^= 0x01;
    return c;
  };
  const withBody = (body: string) => Buffer.concat([Buffer.from([1, 0]), Buffer.from(body)]);
  const cases: [string, Uint8Array, Keyring, DropReason][] = [
    ['empty', Buffer.alloc(0), ring, 'too-short'],
    ['header only', good.subarray(0, 2), ring, 'too-short'],
    ['truncated ciphertext', good.subarray(0, 20), ring, 'too-short'],
    ['truncated tag', good.subarray(0, good.length - 1), ring, 'auth'],
    ['bit flip in ciphertext', flip(good, 20), ring, 'auth'],
    ['bit flip in nonce', flip(good, 3), ring, 'auth'],
    ['bit flip in tag', flip(good, good.length - 1), ring, 'auth'],
    ['mode byte flipped to plaintext', flip(good, 1), ring, 'unencrypted'],
    ['unknown mode', Buffer.concat([Buffer.from([1, 3]), good.subarray(2)]), ring, 'mode'],
    ['wrong version', flip(good, 0), ring, 'version'],
    ['wrong key', good, new Keyring([k2]), 'auth'],
    ['random bytes', Buffer.concat([Buffer.from([1, 1]), randomBytes(200)]), ring, 'auth'],
    ['too long', Buffer.alloc(70_000, 1), ring, 'too-long'],
    ['plaintext into an encrypted cluster', plain, ring, 'unencrypted'],
    ['ciphertext without keys', good, plainRing, 'no-key'],
    ['not JSON', withBody('{"from":'), plainRing, 'json'],
    [
      'JSON of the wrong shape',
      withBody('{"from":"a","addr":"b","msgs":[{"t":"ping"}]}'),
      plainRing,
      'schema',
    ],
    ['unknown message type', withBody('{"from":"a","addr":"b","msgs":[{"t":"boom"}]}'), plainRing, 'schema'],
    [
      'negative incarnation',
      withBody('{"from":"a","addr":"b","msgs":[{"t":"alive","node":"x","addr":"y","inc":-1}]}'),
      plainRing,
      'schema',
    ],
    ['array, not a packet', withBody('[]'), plainRing, 'schema'],
  ];
  for (const [name, bytes, keys, reason] of cases) {
    assert.deepEqual(decodePacket(bytes, keys), { ok: false, reason }, name);
  }
  assert.deepEqual(
    decodeSync(withBody('{"kind":"push-pull","from":"a","addr":"b","join":"yes"}'), plainRing),
    {
      ok: false,
      reason: 'schema',
    },
  );
});

test('key rotation: add new, switch primary, remove old; each step keeps the cluster talking', () => {
  const oldRing = new Keyring([k1]);
  const ring = new Keyring([k1]);
  ring.add(k2); // step 1: every node can read k2, still sends with k1
  assert.equal(decodePacket(encodePacket(packet, ring), oldRing).ok, true);
  ring.usePrimary(k2); // step 2: sends with k2; nodes that already have k2 read it
  const both = new Keyring([k1, k2]);
  assert.equal(decodePacket(encodePacket(packet, ring), both).ok, true);
  assert.deepEqual(decodePacket(encodePacket(packet, ring), oldRing), { ok: false, reason: 'auth' });
  assert.throws(() => ring.remove(k2), /primary/);
  ring.remove(k1); // step 3
  assert.deepEqual(decodePacket(encodePacket(packet, oldRing), ring), { ok: false, reason: 'auth' });
  assert.throws(() => ring.add(randomBytes(16)), /32 bytes/);
});

test('replace installs a key list from the managers: primary first, others dropped', () => {
  const ring = new Keyring([k1]);
  ring.replace([k2, k1]);
  assert.deepEqual(ring.keys(), [k2, k1]);
  ring.replace([k2]);
  assert.deepEqual(ring.keys(), [k2]);
  assert.throws(() => ring.replace([]), /cannot be emptied/);
});
