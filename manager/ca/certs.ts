// Creating the cluster's root CA and node certificates (ECDSA P-256, SHA-256).
//
// Keys never leave the node that made them: a node sends a CSR, the CA verifies the CSR's signature
// (proof that the sender holds the key) and signs a certificate whose subject, role and extensions
// come only from the CA's own inputs; nothing but the public key is taken from the CSR.
import {
  X509Certificate as NativeCertificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { base36, base36Width } from './base36.js';
import {
  CERT_BACKDATE_MS,
  CertificateError,
  NAME_PATTERN,
  ROLE_OU,
  clusterIdOfCA,
  ROOT_CA_COMMON_NAME,
  type NodeRole,
} from './identity.js';
import { ECDSA_P256, x509 } from './x509.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

const ROOT_CA_VALIDITY_MS = 20 * 365 * DAY_MS;
/** SwarmKit's default node certificate lifetime. */
export const DEFAULT_NODE_CERT_VALIDITY_MS = 90 * DAY_MS;
export { CERT_BACKDATE_MS };

/** Length of caDigest(): any sha256 fits in 50 base-36 digits. */
export const CA_DIGEST_LENGTH = base36Width(256);

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface NodeCertificateOptions {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  validityMs: number;
  /** Issuance time; a parameter so tests can issue expired or future certificates. */
  now?: Date;
}

function checkName(kind: string, value: string): void {
  if (!NAME_PATTERN.test(value)) throw new CertificateError(`invalid ${kind} "${value}"`);
}

function pemToDer(certPem: string): Buffer {
  return new NativeCertificate(certPem).raw;
}

/**
 * The CA digest of join tokens: sha256 of the root certificate's DER, as a 50-digit base-36 number
 * (SwarmKit's format), so a joining node can pin the root by comparing one string.
 */
export function caDigest(certPem: string): string {
  return base36(createHash('sha256').update(pemToDer(certPem)).digest(), CA_DIGEST_LENGTH);
}

function newKeyObject(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

/** A fresh node key (PKCS#8 PEM). It stays on the node; only CSRs made from it are sent. */
export function generateNodeKey(): { keyPem: string } {
  return { keyPem: newKeyObject().export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function p256PrivateKey(keyPem: string): KeyObject {
  const key = createPrivateKey(keyPem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CertificateError('expected an ECDSA P-256 private key');
  }
  return key;
}

/** Imports a PEM private key, and its public half, into WebCrypto for @peculiar/x509. */
async function importKeyPair(keyPem: string): Promise<webcrypto.CryptoKeyPair> {
  const key = p256PrivateKey(keyPem);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const [privateKey, publicKey] = await Promise.all([
    webcrypto.subtle.importKey('pkcs8', pkcs8, ECDSA_P256, false, ['sign']),
    webcrypto.subtle.importKey('spki', spki, ECDSA_P256, true, ['verify']),
  ]);
  return { privateKey, publicKey } as webcrypto.CryptoKeyPair;
}

/** A positive 127-bit random serial: unpredictable, as the CA/Browser rules ask of public CAs too. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

/** Creates the cluster's self-signed root CA: CN swarmlite-root-ca, O <clusterId>, ~20 years. */
export async function createRootCA(
  clusterId: string,
  opts: { now?: Date; validityMs?: number } = {},
): Promise<CertificateAuthority> {
  checkName('cluster id', clusterId);
  const now = opts.now ?? new Date();
  const key = newKeyObject();
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const keys = await importKeyPair(keyPem);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [ROOT_CA_COMMON_NAME] }, { O: [clusterId] }],
    notBefore: new Date(now.getTime() - CERT_BACKDATE_MS),
    notAfter: new Date(now.getTime() + (opts.validityMs ?? ROOT_CA_VALIDITY_MS)),
    keys,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      // pathLength 0: the root signs node certificates only, never intermediate CAs.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem };
}

/** A PKCS#10 request for `keyPem`'s public key. Its subject is a placeholder: the CA ignores it. */
export async function createCsr(keyPem: string): Promise<string> {
  const keys = await importKeyPair(keyPem);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: ['swarmlite-node'] }],
    keys,
    signingAlgorithm: ECDSA_P256,
  });
  return csr.toString('pem');
}

/** Parses a CSR, checks it is ECDSA P-256 and that it is signed by the key it carries. */
async function verifiedCsrPublicKey(csrPem: string): Promise<InstanceType<typeof x509.PublicKey>> {
  let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new CertificateError(`malformed CSR: ${err instanceof Error ? err.message : String(err)}`);
  }
  const algorithm = csr.publicKey.algorithm as Partial<webcrypto.EcKeyAlgorithm>;
  if (algorithm.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256') {
    throw new CertificateError(
      `CSR key must be ECDSA P-256, not ${algorithm.name} ${algorithm.namedCurve ?? ''}`,
    );
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new CertificateError('CSR signature does not verify (the sender does not hold its key)');
  return csr.publicKey;
}

/** Refuses a CA whose key does not belong to its certificate (a mis-wired store would sign garbage). */
function checkCaKeyMatches(ca: CertificateAuthority): void {
  const fromKey = createPublicKey(createPrivateKey(ca.keyPem)).export({ type: 'spki', format: 'der' });
  const fromCert = new NativeCertificate(ca.certPem).publicKey.export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(fromCert)) throw new CertificateError('the CA key does not match the CA certificate');
}

/**
 * Signs a node certificate for the key in `csrPem`: CN=<nodeId>, OU=swarm-manager|swarm-worker,
 * O=<clusterId>; SAN DNS names <role OU> and <nodeId>; digitalSignature; serverAuth + clientAuth
 * (managers serve and dial on 2377, workers dial). The CSR's signature is verified first.
 */
export async function signNodeCertificate(
  ca: CertificateAuthority,
  csrPem: string,
  opts: NodeCertificateOptions,
): Promise<string> {
  checkName('node id', opts.nodeId);
  checkName('cluster id', opts.clusterId);
  if (!(opts.validityMs > 0)) {
    throw new CertificateError(`invalid certificate validity ${opts.validityMs} ms`);
  }
  const unit = ROLE_OU[opts.role];
  if (!unit) throw new CertificateError(`invalid role "${String(opts.role)}"`);
  const publicKey = await verifiedCsrPublicKey(csrPem);
  checkCaKeyMatches(ca);
  const caClusterId = clusterIdOfCA(ca.certPem);
  if (opts.clusterId !== caClusterId) {
    throw new CertificateError(`this CA belongs to cluster ${caClusterId}, not ${opts.clusterId}`);
  }
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKeys = await importKeyPair(ca.keyPem);
  const now = opts.now ?? new Date();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [opts.nodeId] }, { OU: [unit] }, { O: [opts.clusterId] }],
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - CERT_BACKDATE_MS),
    notAfter: new Date(now.getTime() + opts.validityMs),
    publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ECDSA_P256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: unit },
        { type: 'dns', value: opts.nodeId },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return cert.toString('pem');
}
