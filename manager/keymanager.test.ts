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

test('overlay keys: made once, then each rotation adds, switches and retires an overlap apart', async (t) => {
  const { store } = newTestStore('async');
  await store.update((tx) => tx.create('cluster', sampleCluster('c1')));
  const km = new KeyManager({
    store,
    clusterId: 'c1',
    log: createLogger('silent'),
    overlayRotationMs: 400,
    overlayOverlapMs: 60,
  });
  t.after(() => km.stop());
  const seen: string[] = [];
  const sub = store.watch({ kinds: ['cluster'] });
  t.after(() => sub.close());
  const watching = (async () => {
    for await (const e of sub) {
      if (e.type !== 'object') continue;
      const set = store.view((tx) => tx.get('cluster', 'c1'))?.overlayKeys;
      if (set) seen.push(`${set.keys.map((k) => k.id).join(',')}/${set.primary}`);
      if (seen.includes('2/2') || seen.length > 20) break;
    }
  })();
  km.start();
  await eventually('the first keys and one full rotation', () => seen.includes('2/2'));
  sub.close();
  await watching;
  // Never a primary a node has not been told to accept first; never a drop of a key still sent with.
  const dedup = seen.filter((s, i) => s !== seen[i - 1]);
  assert.deepEqual(dedup.slice(0, 4), ['1/1', '1,2/1', '1,2/2', '2/2']);
});

test('a new leader finishes a rotation the previous one left half done', async (t) => {
  const { store } = newTestStore('async');
  const a = Buffer.alloc(20, 1).toString('base64');
  const b = Buffer.alloc(20, 2).toString('base64');
  await store.update((tx) =>
    tx.create('cluster', {
      ...sampleCluster('c1'),
      overlayKeys: {
        keys: [
          { id: 4, key: a },
          { id: 5, key: b },
        ],
        primary: 4,
      },
    }),
  );
  const km = new KeyManager({
    store,
    clusterId: 'c1',
    log: createLogger('silent'),
    overlayRotationMs: 3_600_000,
    overlayOverlapMs: 30,
  });
  t.after(() => km.stop());
  km.start();
  await eventually('switched to 5 and 4 retired', () => {
    const set = store.view((tx) => tx.get('cluster', 'c1'))!.overlayKeys!;
    return set.primary === 5 && set.keys.length === 1;
  });
  assert.deepEqual(store.view((tx) => tx.get('cluster', 'c1'))!.overlayKeys!.keys, [{ id: 5, key: b }]);
});
