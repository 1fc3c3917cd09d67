// The CA service over real TLS and grpc-js on 127.0.0.1: joining with tokens, refusals, renewal.
import { rejectCounts, startRejectLogging } from '../../lib/rejects.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { unaryCalls } from '../../api/calls.js';
import { createCsr, createRootCA, generateNodeKey } from './certs.js';
import { requestNodeCertificate, renewNodeCertificate } from './client.js';
import { MANAGER_CHANNEL_OPTIONS, clientCredentials } from './credentials.js';
import { verifyNodeCertificate } from './identity.js';
import { caServiceClient, INVALID_JOIN_TOKEN } from './service.js';
import { TEST_CHANNEL_OPTIONS, issueDirect, startTestManager, type TestManager } from './test-harness.js';
import { formatJoinToken, newJoinToken, parseJoinToken } from './tokens.js';

async function withManager(fn: (m: TestManager) => Promise<void>): Promise<void> {
  const m = await startTestManager();
  try {
    await fn(m);
  } finally {
    await m.stop();
  }
}

/** Calls IssueNodeCertificate directly (bypassing the joiner's own checks), trusting the right root. */
async function issueRaw(m: TestManager, request: Record<string, string>): Promise<unknown> {
  const Ca = caServiceClient();
  const client = new Ca(m.addr, clientCredentials({ caCertPem: m.cluster.caCertPem }), {
    ...MANAGER_CHANNEL_OPTIONS,
    ...TEST_CHANNEL_OPTIONS,
  });
  try {
    return await unaryCalls(client, Ca.service).issueNodeCertificate(request, 5000);
  } finally {
    client.close();
  }
}

function join(m: TestManager, token: string) {
  return requestNodeCertificate({ addr: m.addr, token, hostname: 'host-a', advertiseAddr: '127.0.0.2:2377' });
}

function grpcError(code: grpc.status, message: RegExp | string) {
  return (err: unknown): boolean => {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    if (typeof message === 'string') assert.equal(e.details, message);
    else assert.match(e.details, message);
    return true;
  };
}

test('a worker token yields a worker certificate and registers the node', async () => {
  await withManager(async (m) => {
    const issued = await join(m, m.cluster.workerToken);
    assert.equal(issued.role, 'worker');
    assert.equal(issued.nodeId, 'node1');
    assert.equal(issued.caCertPem, m.cluster.caCertPem);
    assert.deepEqual(issued.managerAddrs, [m.addr]);
    assert.deepEqual(m.registered, [
      { nodeId: 'node1', role: 'worker', hostname: 'host-a', addr: '127.0.0.2:2377' },
    ]);
    const cert = verifyNodeCertificate(m.cluster.caCertPem, issued.certPem);
    assert.deepEqual([cert.nodeId, cert.role, cert.clusterId], ['node1', 'worker', 'testcluster']);
  });
});

test('a manager token yields a manager certificate', async () => {
  await withManager(async (m) => {
    const issued = await join(m, m.cluster.managerToken);
    assert.equal(issued.role, 'manager');
    assert.equal(verifyNodeCertificate(m.cluster.caCertPem, issued.certPem).role, 'manager');
    assert.equal(m.registered[0].role, 'manager');
  });
});

/** The reject log lines written while `fn` runs (the daemon's logger, as the tests see it). */
async function rejectLines(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const stop = startRejectLogging({ warn: (_fields, line) => lines.push(line) }, 3_600_000);
  try {
    await fn();
  } finally {
    stop();
  }
  return lines;
}

test('a wrong secret, a rotated-away token and a malformed token are refused and register nothing', async () => {
  await withManager(async (m) => {
    const { caDigest } = parseJoinToken(m.cluster.workerToken);
    const wrongSecret = formatJoinToken({ caDigest, secret: '0'.repeat(25) });
    await assert.rejects(join(m, wrongSecret), grpcError(grpc.status.PERMISSION_DENIED, INVALID_JOIN_TOKEN));

    const old = m.cluster.workerToken;
    m.cluster.workerToken = newJoinToken(m.cluster.caCertPem);
    const lines = await rejectLines(() =>
      assert.rejects(join(m, old), grpcError(grpc.status.PERMISSION_DENIED, INVALID_JOIN_TOKEN)),
    );
    // Issue 18's security suite: a rotated token is refused and logged, with the joiner's address.
    // (The wrong secret above is still in this interval: one line for both, from the one host.)
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(
      lines[0]!,
      /^rejected 2 ca:join-refused inputs from 127\.0\.0\.1 in the last 3600 s: invalid join token$/,
    );

    const csrPem = await createCsr(generateNodeKey().keyPem);
    await assert.rejects(
      issueRaw(m, { csrPem, token: 'SWMTKN-2-abc-def' }),
      grpcError(grpc.status.INVALID_ARGUMENT, /invalid join token: unsupported version/),
    );
    await assert.rejects(
      issueRaw(m, { csrPem, token: '' }),
      grpcError(grpc.status.INVALID_ARGUMENT, /invalid join token/),
    );
    assert.deepEqual(m.registered, []);
    assert.equal(m.issueCalls, 4);
    // Issue 18's security suite: refused and logged (counted by kind for `swarmlite info`).
    assert.ok((rejectCounts()['ca:join-refused'] ?? 0) >= 4, JSON.stringify(rejectCounts()));
  });
});

test('a token for another CA is refused by the joiner before it sends the secret', async () => {
  await withManager(async (m) => {
    const foreign = await createRootCA('othercluster');
    const before = rejectCounts()['ca:root-digest-mismatch'] ?? 0;
    const lines = await rejectLines(() =>
      assert.rejects(join(m, newJoinToken(foreign.certPem)), /does not match the join token's CA digest/),
    );
    // Refused and logged on the joining node (the manager never hears of it): issue 18's suite.
    assert.equal(rejectCounts()['ca:root-digest-mismatch'], before + 1);
    const ours = lines.filter((l) => l.includes('ca:root-digest-mismatch'));
    assert.equal(ours.length, 1, JSON.stringify(lines));
    assert.match(
      ours[0]!,
      /^rejected 1 ca:root-digest-mismatch input from 127\.0\.0\.1:\d+ .*does not match/,
    );
    assert.equal(m.issueCalls, 0, 'the secret must never reach the server');
    assert.deepEqual(m.registered, []);
  });
});

test('a CSR whose signature does not verify is refused', async () => {
  await withManager(async (m) => {
    const csrPem = await createCsr(generateNodeKey().keyPem);
    const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] ^= 0x01; // inside the signature's integers
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(
      issueRaw(m, { csrPem: forged, token: m.cluster.workerToken }),
      grpcError(grpc.status.INVALID_ARGUMENT, /CSR signature does not verify/),
    );
    assert.deepEqual(m.registered, []);
  });
});

test('renewal keeps the node id, takes the role from the store and rotates the key', async () => {
  await withManager(async (m) => {
    const worker = await join(m, m.cluster.workerToken);
    m.nodes.set(worker.nodeId, { role: 'manager', removed: false }); // promoted meanwhile
    const renewed = await renewNodeCertificate({ addr: m.addr, ...worker });
    assert.equal(renewed.nodeId, worker.nodeId);
    assert.equal(renewed.role, 'manager');
    assert.notEqual(renewed.keyPem, worker.keyPem);
    assert.equal(verifyNodeCertificate(m.cluster.caCertPem, renewed.certPem).role, 'manager');
    assert.equal(m.registered.length, 1, 'renewal does not register the node again');
  });
});

test('renewal is refused for another node id, for a removed node, and without a certificate', async () => {
  await withManager(async (m) => {
    const a = await join(m, m.cluster.workerToken);
    const b = await join(m, m.cluster.workerToken);
    const csrPem = await createCsr(generateNodeKey().keyPem);
    const Ca = caServiceClient();
    const asA = new Ca(
      m.addr,
      clientCredentials({ caCertPem: a.caCertPem, certPem: a.certPem, keyPem: a.keyPem }),
      { ...MANAGER_CHANNEL_OPTIONS, ...TEST_CHANNEL_OPTIONS },
    );
    try {
      await assert.rejects(
        unaryCalls(asA, Ca.service).issueNodeCertificate({ csrPem, nodeId: b.nodeId }),
        grpcError(
          grpc.status.PERMISSION_DENIED,
          `node ${a.nodeId} cannot renew the certificate of node ${b.nodeId}`,
        ),
      );
    } finally {
      asA.close();
    }
    await assert.rejects(
      issueRaw(m, { csrPem, nodeId: a.nodeId }),
      grpcError(grpc.status.UNAUTHENTICATED, /needs a node certificate of this swarm/),
    );
    m.nodes.set(a.nodeId, { role: 'worker', removed: true });
    await assert.rejects(
      renewNodeCertificate({ addr: m.addr, ...a }),
      grpcError(grpc.status.PERMISSION_DENIED, `node ${a.nodeId} was removed from the swarm`),
    );
  });
});

test('a joiner refuses a server whose certificate is not a manager certificate of the pinned CA', async () => {
  await withManager(async (m) => {
    const imposter = await issueDirect(m.ca, m.cluster.clusterId, 'worker9', 'worker');
    m.tls.update({ caCertPem: m.cluster.caCertPem, certPem: imposter.certPem, keyPem: imposter.keyPem });
    await assert.rejects(join(m, m.cluster.workerToken), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.match(err.details, /not a manager/);
      return true;
    });
    assert.equal(m.issueCalls, 0);
  });
});

test('a renewed server certificate is served to new connections without a restart', async () => {
  await withManager(async (m) => {
    const next = await issueDirect(m.ca, m.cluster.clusterId, 'manager1b', 'manager');
    m.tls.update({ caCertPem: m.cluster.caCertPem, certPem: next.certPem, keyPem: next.keyPem });
    const rootFrom = async (expectedServerNodeId: string): Promise<string> => {
      const Ca = caServiceClient();
      const client = new Ca(
        m.addr,
        clientCredentials({ caCertPem: m.cluster.caCertPem, expectedServerNodeId }),
        {
          ...MANAGER_CHANNEL_OPTIONS,
          ...TEST_CHANNEL_OPTIONS,
        },
      );
      try {
        return (await unaryCalls(client, Ca.service).getRootCaCertificate({})).certPem;
      } finally {
        client.close();
      }
    };
    assert.equal(await rootFrom('manager1b'), m.cluster.caCertPem);
    await assert.rejects(rootFrom('manager1'), /the server is manager manager1b, not manager1/);
  });
});
