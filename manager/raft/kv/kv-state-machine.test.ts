import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../types.js';
import { encodePut, KvStateMachine } from './kv-state-machine.js';

test('a snapshot restores every key and value, multi-byte keys and empty values included', () => {
  const sm = new KvStateMachine();
  const puts: Array<[string, Uint8Array]> = [
    ['a', new Uint8Array([1, 2, 3])],
    ['clé/ü/日本', new Uint8Array(300).fill(7)],
    ['empty', new Uint8Array(0)],
    ['a', new Uint8Array([9])], // overwritten
  ];
  puts.forEach(([k, v], i) =>
    sm.apply({ index: i + 1, term: 1, type: EntryType.Normal, data: encodePut(k, v) }),
  );
  const copy = new KvStateMachine();
  copy.restore(sm.snapshot());
  assert.deepEqual([...copy.data.keys()].sort(), ['a', 'clé/ü/日本', 'empty']);
  for (const [k, v] of sm.data) assert.deepEqual([...copy.data.get(k)!], [...v], k);
  assert.deepEqual([...copy.data.get('a')!], [9]);
});

test('an empty state snapshots to nothing and restores to empty', () => {
  const copy = new KvStateMachine();
  copy.data.set('stale', new Uint8Array([1]));
  copy.restore(new KvStateMachine().snapshot());
  assert.equal(copy.data.size, 0);
});
