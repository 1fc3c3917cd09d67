import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfChangeType } from '../types.js';
import { decodeConfChange, encodeConfChange } from './confchange.js';

test('conf change codec round-trips and rejects malformed input', () => {
  const cc = {
    type: ConfChangeType.AddLearner,
    id: 2 ** 40 + 5,
    context: new TextEncoder().encode('10.0.0.2:2377'),
  };
  const bytes = encodeConfChange(cc);
  assert.deepEqual(decodeConfChange(bytes), cc);
  assert.deepEqual(decodeConfChange(bytes.subarray(0)), cc);
  assert.throws(() => decodeConfChange(bytes.subarray(0, 9)), /truncated/);
  const bad = bytes.slice();
  bad[0] = 9;
  assert.throws(() => decodeConfChange(bad), /format/);
  bad[0] = 1;
  bad[1] = 7;
  assert.throws(() => decodeConfChange(bad), /type/);
  assert.throws(() => encodeConfChange({ ...cc, id: 0 }), /invalid member id/);
});
