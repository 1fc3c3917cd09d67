import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPrivateKey, webcrypto } from 'node:crypto';
import {
  CERT_BACKDATE_MS,
  caDigest,
  createCsr,
  createRootCA,
  generateNodeKey,
  signNodeCertificate,
  type CertificateAuthority,
} from './certs.js';
import {
  CertificateError,
  needsRenewal,
  renewalTime,
  verifyNodeCertificate,
  verifyRootCA,
} from './identity.js';
import { ECDSA_P256, x509 } from './x509.js';

const HOUR_MS = 60 * 60 * 1000;
const YEAR_MS = 365 * 24 * HOUR_MS;

async function issue(
  ca: CertificateAuthority,
  opts: {
    nodeId?: string;
    role?: 'manager' | 'worker';
    clusterId?: string;
    validityMs?: number;
    now?: Date;
  } = {},
) {
  const { keyPem } = generateNodeKey();
  const certPem = await signNodeCertificate(ca, await createCsr(keyPem), {
    nodeId: opts.nodeId ?? 'node1',
    role: opts.role ?? 'worker',
    clusterId: opts.clusterId ?? 'c1',
    validityMs: opts.validityMs ?? HOUR_MS,
    now: opts.now,
  });
  return { certPem, keyPem };
}

function rejectsWith(message: RegExp) {
  return (err: unknown) => err instanceof CertificateError && message.test(err.message);
}

test('the root CA is self-signed, CA:true with pathLength 0, CN swarmlite-root-ca, O the cluster, ~20 years', async () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const ca = await createRootCA('c1', { now });
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.ca, true);
  assert.equal(cert.subject, 'CN=swarmlite-root-ca\nO=c1');
  assert.equal(cert.issuer, cert.subject);
  assert.equal(new Date(cert.validTo).getTime() - now.getTime(), 20 * YEAR_MS);
  assert.equal(now.getTime() - new Date(cert.validFrom).getTime(), CERT_BACKDATE_MS);
  const parsed = new x509.X509Certificate(ca.certPem);
  assert.equal(parsed.getExtension(x509.BasicConstraintsExtension)?.pathLength, 0);
  const usages = parsed.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  assert.ok(usages & x509.KeyUsageFlags.keyCertSign);
  assert.deepEqual(verifyRootCA(ca.certPem, now), { clusterId: 'c1' });
  assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
});

test('caDigest is the sha256 of the DER as 50 base-36 digits, different for every CA', async () => {
  const [a, b] = await Promise.all([createRootCA('c1'), createRootCA('c1')]);
  const sha = createHash('sha256').update(new X509Certificate(a.certPem).raw).digest('hex');
  const expected = BigInt('0x' + sha)
    .toString(36)
    .padStart(50, '0');
  assert.equal(caDigest(a.certPem), expected);
  assert.match(caDigest(a.certPem), /^[0-9a-z]{50}$/);
  assert.notEqual(caDigest(a.certPem), caDigest(b.certPem));
});

test('a node certificate carries the role, node id and cluster the CA chose, with TLS usages', async () => {
  const now = new Date();
  const ca = await createRootCA('c1');
  const { certPem, keyPem } = await issue(ca, {
    nodeId: 'abc123',
    role: 'manager',
    validityMs: 10 * HOUR_MS,
    now,
  });
  const cert = new X509Certificate(certPem);
  assert.equal(cert.subject, 'CN=abc123\nOU=swarm-manager\nO=c1');
  assert.equal(cert.issuer, 'CN=swarmlite-root-ca\nO=c1');
  assert.equal(cert.subjectAltName, 'DNS:swarm-manager, DNS:abc123');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // EKU: serverAuth, clientAuth
  assert.equal(cert.ca, false);
  assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
  const parsed = new x509.X509Certificate(certPem);
  assert.equal(parsed.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);
  const verified = verifyNodeCertificate(ca.certPem, certPem, now);
  assert.deepEqual(
    { ...verified, serialNumber: undefined },
    {
      nodeId: 'abc123',
      role: 'manager',
      clusterId: 'c1',
      notBefore: new Date(Math.floor((now.getTime() - CERT_BACKDATE_MS) / 1000) * 1000),
      notAfter: new Date(Math.floor((now.getTime() + 10 * HOUR_MS) / 1000) * 1000),
      serialNumber: undefined,
    },
  );
  const other = await issue(ca, { nodeId: 'abc123', role: 'manager' });
  assert.notEqual(verifyNodeCertificate(ca.certPem, other.certPem).serialNumber, verified.serialNumber);
});

test('nothing but the public key is taken from the CSR: its subject and extensions are ignored', async () => {
  const ca = await createRootCA('c1');
  const keys = (await webcrypto.subtle.generateKey(ECDSA_P256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: ['admin'] }, { OU: ['swarm-manager'] }, { O: ['c1'] }],
    keys,
    signingAlgorithm: ECDSA_P256,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'swarm-manager' }])],
  });
  const certPem = await signNodeCertificate(ca, csr.toString('pem'), {
    nodeId: 'w1',
    role: 'worker',
    clusterId: 'c1',
    validityMs: HOUR_MS,
  });
  const cert = new X509Certificate(certPem);
  assert.equal(cert.subject, 'CN=w1\nOU=swarm-worker\nO=c1');
  assert.equal(cert.subjectAltName, 'DNS:swarm-worker, DNS:w1');
  assert.equal(verifyNodeCertificate(ca.certPem, certPem).role, 'worker');
});

test('signing refuses bad CSRs, bad names, a foreign cluster id and a CA key that is not the CA', async () => {
  const ca = await createRootCA('c1');
  const csrPem = await createCsr(generateNodeKey().keyPem);
  const opts = { nodeId: 'n1', role: 'worker' as const, clusterId: 'c1', validityMs: HOUR_MS };

  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 3] ^= 0x40;
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----`;
  await assert.rejects(signNodeCertificate(ca, tampered, opts), rejectsWith(/CSR signature does not verify/));
  await assert.rejects(signNodeCertificate(ca, 'not a csr', opts), rejectsWith(/malformed CSR/));

  const rsaAlg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
  };
  const rsaKeys = (await webcrypto.subtle.generateKey(rsaAlg, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const rsaCsr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=x',
    keys: rsaKeys,
    signingAlgorithm: rsaAlg,
  });
  await assert.rejects(
    signNodeCertificate(ca, rsaCsr.toString('pem'), opts),
    rejectsWith(/must be ECDSA P-256/),
  );

  await assert.rejects(
    signNodeCertificate(ca, csrPem, { ...opts, nodeId: 'a b' }),
    rejectsWith(/invalid node id/),
  );
  await assert.rejects(
    signNodeCertificate(ca, csrPem, { ...opts, nodeId: '' }),
    rejectsWith(/invalid node id/),
  );
  await assert.rejects(
    signNodeCertificate(ca, csrPem, { ...opts, clusterId: 'c2' }),
    rejectsWith(/belongs to cluster c1, not c2/),
  );
  await assert.rejects(
    signNodeCertificate(ca, csrPem, { ...opts, validityMs: 0 }),
    rejectsWith(/invalid certificate validity/),
  );
  const other = await createRootCA('c1');
  await assert.rejects(
    signNodeCertificate({ certPem: ca.certPem, keyPem: other.keyPem }, csrPem, opts),
    rejectsWith(/CA key does not match the CA certificate/),
  );
});

test('verifyNodeCertificate names what is wrong', async () => {
  const now = new Date();
  const ca = await createRootCA('c1');
  const other = await createRootCA('c1');
  const { certPem } = await issue(ca, { validityMs: HOUR_MS, now });
  assert.equal(verifyNodeCertificate(ca.certPem, certPem, now).nodeId, 'node1');
  // Verified once (and remembered) against its root: that proves nothing against another root.
  assert.throws(
    () => verifyNodeCertificate(other.certPem, certPem, now),
    rejectsWith(/not issued by this swarm's CA/),
  );

  const foreign = await issue(other);
  assert.throws(
    () => verifyNodeCertificate(ca.certPem, foreign.certPem),
    rejectsWith(/not issued by this swarm's CA/),
  );
  assert.throws(
    () => verifyNodeCertificate(ca.certPem, certPem, new Date(now.getTime() + 2 * HOUR_MS)),
    rejectsWith(/node certificate expired at/),
  );
  assert.throws(
    () => verifyNodeCertificate(ca.certPem, certPem, new Date(now.getTime() - 2 * HOUR_MS)),
    rejectsWith(/node certificate is not yet valid/),
  );
  assert.throws(
    () => verifyNodeCertificate(ca.certPem, 'garbage'),
    rejectsWith(/malformed node certificate/),
  );
  assert.throws(
    () => verifyNodeCertificate(ca.certPem, ca.certPem),
    rejectsWith(/a CA certificate is not a node certificate/),
  );

  // Same CA name, same key id, different key: only the signature tells them apart.
  const twinKeys = (await webcrypto.subtle.generateKey(ECDSA_P256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const parsed = new x509.X509Certificate(certPem);
  const forged = await x509.X509CertificateGenerator.create({
    subject: parsed.subjectName,
    issuer: parsed.issuerName,
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
    publicKey: parsed.publicKey,
    signingKey: twinKeys.privateKey,
    signingAlgorithm: ECDSA_P256,
    extensions: parsed.extensions,
  });
  assert.throws(
    () => verifyNodeCertificate(ca.certPem, forged.toString('pem'), now),
    rejectsWith(/signature does not verify/),
  );

  // A certificate the CA key signed for another cluster (the signer refuses this; verification must too).
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    Buffer.from(ca.keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'),
    ECDSA_P256,
    false,
    ['sign'],
  );
  const crossCluster = await x509.X509CertificateGenerator.create({
    subject: 'CN=n2, OU=swarm-manager, O=c2',
    issuer: parsed.issuerName,
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
    publicKey: parsed.publicKey,
    signingKey: caKey,
    signingAlgorithm: ECDSA_P256,
    extensions: parsed.extensions,
  });
  assert.throws(
    () => verifyNodeCertificate(ca.certPem, crossCluster.toString('pem'), now),
    rejectsWith(/is for cluster c2, not c1/),
  );
});

test('needsRenewal turns true half-way through the lifetime, counted from issuance', async () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const ca = await createRootCA('c1', { now });
  const { certPem } = await issue(ca, { validityMs: 10 * HOUR_MS, now });
  // Issued at now (notBefore backdated to now - 1h), notAfter = now + 10h: half-way at now + 5h.
  const at = (hours: number) => new Date(now.getTime() + hours * HOUR_MS);
  assert.equal(renewalTime(certPem).getTime(), at(5).getTime());
  assert.equal(needsRenewal(certPem, at(4.9)), false);
  assert.equal(needsRenewal(certPem, at(5)), true);
  assert.equal(needsRenewal(certPem, at(20)), true);
  assert.equal(needsRenewal(certPem, at(7.9), 0.8), false);
  assert.equal(needsRenewal(certPem, at(8), 0.8), true);
  assert.throws(() => needsRenewal(certPem, now, 1), RangeError);
});

test('a short-lived certificate is not due for renewal the moment it is issued', async () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const ca = await createRootCA('c1', { now });
  const { certPem } = await issue(ca, { validityMs: 60_000, now });
  assert.equal(needsRenewal(certPem, now), false);
  assert.equal(renewalTime(certPem).getTime(), now.getTime() + 30_000);
});
