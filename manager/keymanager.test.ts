import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../lib/log.js';
import { eventually } from '../test/support.js';
import { KeyManager, KEYS_KEPT, newGossipKey, rotateGossipKeys } from './keymanager.js';
import { newTestStore, sampleCluster } from './store/test-fixtures.js';

test('a rotation makes a new primary and keeps the newest old keys for receiving', () => {
  let keys = [newGossipKey(1), { subsystem: 'other', algorithm: 'x', key: 'k', lamportTime: 9 }];
  const seen = new Set(keys.map((k) => k.key));
  for (let i = 2; i <= 6; i++) {
    keys = rotateGossipKeys(keys);
    const gossip = keys.filter((k) => k.subsystem === 'gossip');
    assert.equal(gossip[0]!.lamportTime, i, 'the new key is first, with the next Lamport time');
    assert.ok(!seen.has(gossip[0]!.key), 'a fresh key');
    seen.add(gossip[0]!.key);
    assert.equal(Buffer.from(gossip[0]!.key, 'base64').length, 32);
    assert.equal(gossip.length, Math.min(i, KEYS_KEPT));
    assert.deepEqual(
      gossip.map((k) => k.lamportTime),
      [...gossip.map((k) => k.lamportTime)].sort((a, b) => b - a),
    );
    assert.ok(
      keys.some((k) => k.subsystem === 'other'),
      'other subsystems are left alone',
    );
  }
});

test('the key manager rotates the cluster keys through the store on its period', async (t) => {
  const { store } = newTestStore('async');
  await store.update((tx) =>
    tx.create('cluster', { ...sampleCluster('c1'), encryptionKeys: [newGossipKey(1)] }),
  );
  const km = new KeyManager({ store, clusterId: 'c1', log: createLogger('silent'), rotationMs: 20 });
  t.after(() => km.stop());
  km.start();
  await eventually('two rotations', () => {
    const keys = store.view((tx) => tx.get('cluster', 'c1'))!.encryptionKeys!;
    return keys[0]!.lamportTime >= 3 && keys.length === KEYS_KEPT;
  });
});
