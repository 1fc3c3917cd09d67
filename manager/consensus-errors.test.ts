// Issue 18, fault 9: Raft's failures reach users in their terms, with what to do; Raft's words go to
// the daemon log only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from './ca/authz.js';
import { explainConsensusError, explainingConsensusErrors } from './consensus-errors.js';
import {
  LeaderlessError,
  NodeStoppedError,
  NotLeaderError,
  ProposalDroppedError,
  RaftTimeoutError,
} from './raft/node/errors.js';
import { UnknownOutcomeError } from './store/index.js';

/** [what Raft said, what the user reads] */
const CASES: [Error, RegExp][] = [
  [
    new RaftTimeoutError('proposal', 10_000),
    /^the managers could not agree on the change in time \(no quorum\?\): it may still be applied once they agree, so look before retrying; check 'swarmlite node ls' for managers that are down or unreachable$/,
  ],
  [
    new LeaderlessError(2_000),
    /^this manager lost contact with most of the managers before they agreed on the change \(no quorum\): it may still be applied .*; check 'swarmlite node ls'/,
  ],
  [
    new ProposalDroppedError('entry at index 279 was replaced'),
    /^the change was not applied: the swarm changed leader while it was being agreed; run the command again$/,
  ],
  [
    new ProposalDroppedError('no leader (election in progress)'),
    /^the change was not applied: .* run the command again$/,
  ],
  [new NotLeaderError(2, '198.18.0.2:2377'), /^the change was not applied: .* run the command again$/],
  [
    new RaftTimeoutError('read index', 10_000),
    /^the managers could not confirm the current state in time \(no quorum\?\): check 'swarmlite node ls'/,
  ],
  [
    new UnknownOutcomeError('store batch 7 was reported done but was not applied by this store'),
    /^the managers did not confirm the change: it may still be applied/,
  ],
  [new NodeStoppedError(), /^this manager is shutting down: .* on another manager$/],
];

test('each Raft failure is told in the user terms, as ABORTED (never retried behind the user), without Raft internals', () => {
  for (const [err, shown] of CASES) {
    const explained = explainConsensusError(err);
    assert.ok(explained, `${err.name} is explained`);
    assert.equal(explained.code, grpc.status.ABORTED, err.message);
    assert.match(explained.details, shown);
    assert.doesNotMatch(explained.details, /raft|index \d|\d+ ms|entry/i, err.message);
  }
  assert.equal(explainConsensusError(new GrpcError(grpc.status.NOT_FOUND, 'service x not found')), undefined);
  assert.equal(explainConsensusError(new Error('something else')), undefined);
});

test("the control handlers' Raft failures are explained to the caller and logged in Raft's words", async () => {
  const logged: { fields: object; message: string }[] = [];
  const log = { warn: (fields: object, message: string) => logged.push({ fields, message }) };
  const handlers = explainingConsensusErrors(
    {
      createService: (): Promise<unknown> => Promise.reject(new RaftTimeoutError('proposal', 10_000)),
      getService: (): Promise<unknown> =>
        Promise.reject(new GrpcError(grpc.status.NOT_FOUND, 'service x not found')),
      listServices: (): Promise<unknown> => Promise.resolve({ services: [] }),
    },
    log,
  );
  await assert.rejects(handlers.createService(), (err: GrpcError) => {
    assert.equal(err.code, grpc.status.ABORTED);
    assert.match(err.details, /^the managers could not agree on the change in time/);
    return true;
  });
  await assert.rejects(handlers.getService(), (err: GrpcError) => err.details === 'service x not found');
  assert.deepEqual(await handlers.listServices(), { services: [] });
  assert.equal(logged.length, 1);
  assert.deepEqual(logged[0]!.fields, {
    rpc: 'createService',
    err: 'raft proposal timed out after 10000 ms',
  });
});
