// Certificate rotation on the Raft channels, over real mutual TLS: after setChannelCredentials(), the
// next connection to a peer presents the new certificate, without restarting the transport and
// without losing the messages sent around the switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createRootCA } from '../../ca/certs.js';
import {
  clientCredentials,
  managerServerCredentials,
  MANAGER_CHANNEL_OPTIONS,
} from '../../ca/credentials.js';
import { issueDirect } from '../../ca/test-harness.js';
import { RaftTransport, type IncomingCall } from './transport.js';
import { app, Recorder } from './test-fixtures.js';

async function until(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** Two managers of one swarm; the receiver (2) records the certificate each incoming call presents. */
async function tlsPair() {
  const ca = await createRootCA('rotation');
  const [first, renewed, receiver] = await Promise.all([
    issueDirect(ca, 'rotation', 'manager1', 'manager'),
    issueDirect(ca, 'rotation', 'manager1', 'manager'),
    issueDirect(ca, 'rotation', 'manager2', 'manager'),
  ]);
  const credsOf = (c: { certPem: string; keyPem: string }) =>
    clientCredentials({ caCertPem: ca.certPem, certPem: c.certPem, keyPem: c.keyPem });
  const callers: string[] = [];
  const authorize = (call: IncomingCall): boolean => {
    const cert = call.getAuthContext()?.sslPeerCertificate;
    if (!cert?.fingerprint256) return false; // a Raft peer must present a certificate
    callers.push(cert.fingerprint256);
    return true;
  };
  const b = new RaftTransport({
    id: 2,
    listen: '127.0.0.1:0',
    serverCredentials: managerServerCredentials({ caCertPem: ca.certPem, ...receiver }),
    authorize,
  });
  const rb = new Recorder();
  await b.start(rb);
  const a = new RaftTransport({
    id: 1,
    listen: '127.0.0.1:0',
    serverCredentials: managerServerCredentials({ caCertPem: ca.certPem, ...first }),
    channelCredentials: credsOf(first),
    channelOptions: MANAGER_CHANNEL_OPTIONS,
  });
  const ra = new Recorder();
  await a.start(ra);
  a.setPeer(2, b.address);
  return {
    ca,
    a,
    b,
    ra,
    rb,
    first,
    renewed,
    credsOf,
    callers,
    stop: () => Promise.all([a.stop(), b.stop()]),
  };
}

test('after setChannelCredentials the peer sees the renewed certificate; nothing sent is lost', async () => {
  const { a, rb, first, renewed, credsOf, callers, stop } = await tlsPair();
  try {
    a.send([app(1), app(2)]);
    await until('the first messages', () => rb.received.length === 2);
    assert.deepEqual(callers, [fingerprint(first.certPem)]);

    a.send([app(3)]);
    a.setChannelCredentials(credsOf(renewed));
    a.send([app(4)]);
    a.send([app(5)]);
    await until('every message', () => rb.received.length === 5);
    assert.deepEqual(
      rb.received.map((m) => m.index).sort((x, y) => x - y),
      [1, 2, 3, 4, 5],
      'messages on either side of the switch all arrive, once',
    );
    assert.equal(
      callers.at(-1),
      fingerprint(renewed.certPem),
      'the new stream presents the renewed certificate',
    );
    assert.ok(!callers.slice(1).includes(fingerprint(first.certPem)), 'no new call uses the old certificate');
  } finally {
    await stop();
  }
});

test('a peer refused with the old credentials is reached once new ones are set', async () => {
  const { ca, a, ra, rb, renewed, credsOf, callers, stop } = await tlsPair();
  try {
    // Start from credentials without a client certificate: the receiver turns every call away.
    a.setChannelCredentials(clientCredentials({ caCertPem: ca.certPem }));
    a.send([app(1)]);
    await until('the refusal to be reported', () => ra.unreachables.includes(2));
    assert.equal(rb.received.length, 0);
    a.setChannelCredentials(credsOf(renewed));
    const deadline = Date.now() + 5000;
    for (let i = 2; rb.received.length === 0; i++) {
      if (Date.now() > deadline) throw new Error('the peer was never reached with the new credentials');
      a.send([app(i)]);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(callers.at(-1), fingerprint(renewed.certPem));
  } finally {
    await stop();
  }
});
