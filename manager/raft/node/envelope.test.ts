import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType } from '../types.js';
import { decodeProposal, encodeProposal, PROPOSAL_HEADER_BYTES, RequestIds } from './envelope.js';

test('a proposal header carries any positive safe-integer proposer id exactly', () => {
  for (const proposer of [1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER]) {
    const ids = new RequestIds(proposer);
    const id = ids.next();
    const data = encodeProposal(id, Buffer.from('payload'));
    assert.equal(data.length, PROPOSAL_HEADER_BYTES + 7);
    const decoded = decodeProposal(data);
    assert.deepEqual(decoded.id, id, `proposer ${proposer}`);
    assert.equal(Buffer.from(decoded.payload).toString(), 'payload');
    assert.ok(ids.isMine(decoded.id), `proposer ${proposer} must recognise its own proposal`);
    assert.equal(ids.ownSeq({ term: 1, index: 1, type: EntryType.Normal, data }), id.seq);
    assert.ok(!new RequestIds(proposer + 1).isMine(decoded.id));
  }
});

test('a header is found inside a larger buffer, and data without one passes through', () => {
  const id = new RequestIds(2 ** 45).next();
  const inner = encodeProposal(id, Buffer.from([1, 2, 3]));
  const outer = Buffer.concat([Buffer.from([9, 9, 9]), inner]);
  const decoded = decodeProposal(outer.subarray(3));
  assert.deepEqual(decoded.id, id);
  assert.deepEqual([...decoded.payload], [1, 2, 3]);
  const plain = Buffer.from('not a proposal with a header at all');
  assert.deepEqual(decodeProposal(plain), { id: undefined, payload: plain });
  assert.deepEqual(decodeProposal(new Uint8Array(0)).id, undefined);
});
