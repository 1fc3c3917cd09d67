import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rpcErrorText } from './grpc-errors.js';

/** [what grpc-js said, what a user reads] */
const CASES: [string, string][] = [
  [
    'No connection established. Last error: Error: connect ECONNREFUSED 198.18.0.2:2377. Resolution note: ',
    'connection refused (nothing listens there) at 198.18.0.2:2377',
  ],
  [
    'No connection established. Last error: Error: connect ETIMEDOUT 198.18.0.9:2377. Resolution note: DNS resolution ok',
    'the connection timed out at 198.18.0.9:2377',
  ],
  [
    'No connection established. Last error: Error: connect EACCES /run/swarmlite/swarmlite.sock. Resolution note: ',
    'permission denied at /run/swarmlite/swarmlite.sock',
  ],
  [
    'No connection established. Last error: null. Resolution note: ',
    'the connection could not be established',
  ],
  [
    'No addresses resolved. Resolution note: getaddrinfo ENOTFOUND nosuch',
    'the address could not be resolved',
  ],
  ['service web not found', 'service web not found'],
];

test("grpc-js's connection text is told in plain words; its resolution note never shown", () => {
  for (const [details, shown] of CASES) {
    assert.equal(rpcErrorText({ code: 14, details, message: `14 UNAVAILABLE: ${details}` }), shown);
    assert.doesNotMatch(rpcErrorText({ details }), /Resolution note/);
  }
  assert.equal(rpcErrorText(new Error('plain')), 'plain');
  assert.equal(rpcErrorText('text'), 'text');
});
