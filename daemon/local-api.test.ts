// What the local API answers the CLI for each kind of failure (issue 18, fault 9: internals stay in
// the daemon log; grpc-js's connection text never reaches a user).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { UserError } from '../lib/errors.js';
import { toStatus } from './local-api.js';

const status = (code: grpc.status, details: string) =>
  Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details });

/** [what a handler threw, the code answered, the details answered] */
const CASES: [unknown, grpc.status, RegExp][] = [
  [
    new UserError('this node is not part of a swarm'),
    grpc.status.FAILED_PRECONDITION,
    /^this node is not part of a swarm$/,
  ],
  [status(grpc.status.NOT_FOUND, 'service web not found'), grpc.status.NOT_FOUND, /^service web not found$/],
  [
    status(
      grpc.status.UNAVAILABLE,
      'No connection established. Last error: Error: connect ECONNREFUSED 198.18.0.2:2377. Resolution note: ',
    ),
    grpc.status.FAILED_PRECONDITION,
    /^connection refused \(nothing listens there\) at 198\.18\.0\.2:2377$/,
  ],
  [
    new TypeError("Cannot read properties of undefined (reading 'spec')"),
    grpc.status.INTERNAL,
    /^the swarmlite daemon failed: Cannot read properties of undefined \(reading 'spec'\) \(its log has the details\)$/,
  ],
];

test('the local API answers refusals as they are, manager statuses cleaned, and anything else as the daemon failing', () => {
  for (const [err, code, details] of CASES) {
    const s = toStatus(err);
    assert.equal(s.code, code, String(err));
    assert.match(s.details, details);
    assert.doesNotMatch(s.details, /\n\s+at |Resolution note|^\d+ [A-Z_]+:/);
  }
});
