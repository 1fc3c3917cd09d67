// requireCaller over real mutual TLS: a manager-only RPC on the manager port, called with every kind of
// client certificate (and none).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { rejectCounts } from '../../lib/rejects.js';
import { callerIdentity, requireCaller } from './authz.js';
import { createRootCA } from './certs.js';
import { MANAGER_CHANNEL_OPTIONS, clientCredentials } from './credentials.js';
import type { NodeIdentity } from './identity.js';
import {
  callWhoAmI,
  GuardedClient,
  TEST_CHANNEL_OPTIONS,
  issueDirect,
  startTestManager,
  type NodeCredentials,
  type TestManager,
} from './test-harness.js';

let m: TestManager;
before(async () => {
  m = await startTestManager();
});
after(() => m.stop());

async function whoAmI(caller?: NodeCredentials, caCertPem = m.cluster.caCertPem): Promise<NodeIdentity> {
  const credentials = clientCredentials({ caCertPem, certPem: caller?.certPem, keyPem: caller?.keyPem });
  const client = new GuardedClient(m.addr, credentials, {
    ...MANAGER_CHANNEL_OPTIONS,
    ...TEST_CHANNEL_OPTIONS,
  });
  try {
    return await callWhoAmI(client, 5000);
  } finally {
    client.close();
  }
}

function refusedWith(code: grpc.status, message: RegExp) {
  return (err: unknown): boolean => {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    assert.match(e.details, message);
    return true;
  };
}

test('a manager certificate is allowed and identifies the caller', async () => {
  const manager = await issueDirect(m.ca, m.cluster.clusterId, 'manager7', 'manager');
  assert.deepEqual(await whoAmI(manager), { nodeId: 'manager7', role: 'manager', clusterId: 'testcluster' });
});

test('a worker certificate is refused with PERMISSION_DENIED', async () => {
  const worker = await issueDirect(m.ca, m.cluster.clusterId, 'worker3', 'worker');
  await assert.rejects(
    whoAmI(worker),
    refusedWith(
      grpc.status.PERMISSION_DENIED,
      /^this RPC needs a manager certificate; caller swarm-worker worker3$/,
    ),
  );
});

test('no client certificate is refused with UNAUTHENTICATED', async () => {
  await assert.rejects(
    whoAmI(undefined),
    refusedWith(
      grpc.status.UNAUTHENTICATED,
      /needs a node certificate of this swarm: no certificate was presented/,
    ),
  );
});

test("a manager certificate from another swarm's CA is refused", async () => {
  const foreignCa = await createRootCA('testcluster'); // same cluster id, different key: still foreign
  const foreign = await issueDirect(foreignCa, 'testcluster', 'manager1', 'manager');
  await assert.rejects(
    whoAmI(foreign),
    refusedWith(grpc.status.UNAUTHENTICATED, /no certificate was presented/),
  );
});

test('a removed node is refused even with a valid manager certificate', async () => {
  const gone = await issueDirect(m.ca, m.cluster.clusterId, 'manager8', 'manager');
  assert.equal((await whoAmI(gone)).nodeId, 'manager8');
  m.nodes.set('manager8', { role: 'manager', removed: true });
  await assert.rejects(
    whoAmI(gone),
    refusedWith(grpc.status.PERMISSION_DENIED, /^node manager8 was removed from the swarm$/),
  );
});

test('an expired manager certificate is refused', async () => {
  const dayMs = 24 * 60 * 60 * 1000;
  const expired = await issueDirect(m.ca, m.cluster.clusterId, 'manager9', 'manager', {
    validityMs: dayMs,
    now: new Date(Date.now() - 2 * dayMs),
  });
  await assert.rejects(
    whoAmI(expired),
    refusedWith(grpc.status.UNAUTHENTICATED, /no certificate was presented/),
  );
});

test('a client refuses a server that its pinned CA did not sign', async () => {
  const otherCa = await createRootCA('testcluster');
  await assert.rejects(whoAmI(undefined, otherCa.certPem), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    return true;
  });
});

/** A call object as grpc-js would build it had TLS let `certPem` through: tests requireCaller's own checks. */
function callPresenting(certPem: string | undefined) {
  const raw =
    certPem === undefined ? undefined : Buffer.from(certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return { getAuthContext: () => (raw ? { transportSecurityType: 'ssl', sslPeerCertificate: { raw } } : {}) };
}

test('requireCaller verifies the certificate itself, not only TLS', async () => {
  const foreignCa = await createRootCA('testcluster');
  const foreign = await issueDirect(foreignCa, 'testcluster', 'manager1', 'manager');
  const roles = ['manager'] as const;
  assert.throws(
    () => requireCaller(callPresenting(foreign.certPem), m.cluster.caCertPem, { roles }),
    refusedWith(grpc.status.UNAUTHENTICATED, /not issued by this swarm's CA/),
  );
  const manager = await issueDirect(m.ca, m.cluster.clusterId, 'manager5', 'manager', { validityMs: 60_000 });
  const later = new Date(Date.now() + 120_000);
  assert.throws(
    () => requireCaller(callPresenting(manager.certPem), m.cluster.caCertPem, { roles, now: later }),
    refusedWith(grpc.status.UNAUTHENTICATED, /node certificate expired at/),
  );
  assert.equal(callerIdentity(callPresenting(manager.certPem), m.cluster.caCertPem, later), undefined);
  assert.deepEqual(callerIdentity(callPresenting(manager.certPem), m.cluster.caCertPem), {
    nodeId: 'manager5',
    role: 'manager',
    clusterId: 'testcluster',
  });
  assert.equal(callerIdentity(callPresenting(undefined), m.cluster.caCertPem), undefined);
  assert.deepEqual(
    requireCaller(callPresenting(manager.certPem), m.cluster.caCertPem, { roles: ['worker', 'manager'] })
      .nodeId,
    'manager5',
  );
  assert.throws(
    () => requireCaller(callPresenting(manager.certPem), m.cluster.caCertPem, { roles: ['worker'] }),
    refusedWith(
      grpc.status.PERMISSION_DENIED,
      /^this RPC needs a worker certificate; caller swarm-manager manager5$/,
    ),
  );
});

test('every refusal above is counted by kind in the reject log (issue 18: refused and logged)', () => {
  const counts = rejectCounts();
  assert.ok((counts['grpc:unauthenticated'] ?? 0) >= 4, JSON.stringify(counts)); // none, foreign, expired, ...
  assert.ok((counts['grpc:wrong-role'] ?? 0) >= 2, JSON.stringify(counts)); // worker over TLS, manager as worker
  assert.ok((counts['grpc:removed-node'] ?? 0) >= 1, JSON.stringify(counts));
});
