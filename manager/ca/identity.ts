// Reading and verifying node certificates: who a certificate says the caller is, and whether this
// swarm's CA really said so. Synchronous on purpose (Node's native X509Certificate verifies signatures
// without WebCrypto's promises), so a per-RPC check costs one ECDSA verify and no event-loop turn.
import { X509Certificate as NativeCertificate } from 'node:crypto';

export type NodeRole = 'manager' | 'worker';

/** The certificate's organizational unit names the role, as in SwarmKit; the CA alone decides it. */
export const ROLE_OU: Readonly<Record<NodeRole, string>> = {
  manager: 'swarm-manager',
  worker: 'swarm-worker',
};

export const ROOT_CA_COMMON_NAME = 'swarmlite-root-ca';

export interface NodeIdentity {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
}

export interface VerifiedNodeCertificate extends NodeIdentity {
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
}

/** A certificate that does not prove what it is presented for; the message says why. */
export class CertificateError extends Error {
  override name = 'CertificateError';
}

/** Ids in distinguished names and DNS SANs: a plain alphabet, so no escaping can make them ambiguous. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function parse(cert: string | Uint8Array, what: string): NativeCertificate {
  try {
    return new NativeCertificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch (err) {
    throw new CertificateError(`malformed ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The root is parsed once per distinct PEM: every RPC check verifies against the same few roots. */
let cachedRoot: { pem: string; cert: NativeCertificate } | undefined;

function parseRoot(caCertPem: string): NativeCertificate {
  if (cachedRoot?.pem !== caCertPem) {
    cachedRoot = { pem: caCertPem, cert: parse(caCertPem, 'CA certificate') };
  }
  return cachedRoot.cert;
}

/**
 * The single value of a subject attribute. Node renders the subject one "KEY=value" per line and quotes
 * values with special characters; such values fail NAME_PATTERN, so they can never pass as an id.
 */
function single(cert: NativeCertificate, attribute: string, what: string): string {
  const values = cert.subject
    .split('\n')
    .filter((line) => line.startsWith(attribute + '='))
    .map((line) => line.slice(attribute.length + 1));
  if (values.length !== 1) {
    throw new CertificateError(`${what} must have exactly one subject ${attribute}, found ${values.length}`);
  }
  if (!NAME_PATTERN.test(values[0])) {
    throw new CertificateError(`${what} has an invalid subject ${attribute}`);
  }
  return values[0];
}

function validity(cert: NativeCertificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

function roleOfUnit(ou: string): NodeRole | undefined {
  return (Object.keys(ROLE_OU) as NodeRole[]).find((role) => ROLE_OU[role] === ou);
}

/** The cluster id a root CA was created for (its subject O). */
export function clusterIdOfCA(caCertPem: string): string {
  return single(parseRoot(caCertPem), 'O', 'the root CA certificate');
}

/**
 * Checks that `caCertPem` is a usable swarmlite root: a self-signed CA certificate, valid at `now`.
 * A joining node runs this on the root it fetched (after comparing its digest with the token's).
 */
export function verifyRootCA(caCertPem: string, now = new Date()): { clusterId: string } {
  const ca = parse(caCertPem, 'CA certificate');
  if (!ca.ca) throw new CertificateError('the root certificate is not a CA certificate');
  if (!ca.checkIssued(ca) || !ca.verify(ca.publicKey)) {
    throw new CertificateError('the root CA certificate is not self-signed');
  }
  checkValidity(ca, now, 'the root CA certificate');
  return { clusterId: single(ca, 'O', 'the root CA certificate') };
}

function checkValidity(cert: NativeCertificate, now: Date, what: string): void {
  const { notBefore, notAfter } = validity(cert);
  checkWindow(notBefore, notAfter, now, what);
}

function checkWindow(notBefore: Date, notAfter: Date, now: Date, what: string): void {
  if (now.getTime() < notBefore.getTime()) {
    throw new CertificateError(`${what} is not yet valid (valid from ${notBefore.toISOString()})`);
  }
  if (now.getTime() > notAfter.getTime()) {
    throw new CertificateError(`${what} expired at ${notAfter.toISOString()}`);
  }
}

/**
 * Verifies a node certificate (PEM, or DER as TLS hands it over) against the swarm's root CA at `now`
 * and returns the identity it proves. Throws CertificateError naming the first failed check:
 * malformed, wrong issuer, bad signature, not yet valid, expired, not a node certificate, foreign cluster.
 */
export function verifyNodeCertificate(
  caCertPem: string,
  cert: string | Uint8Array,
  now = new Date(),
): VerifiedNodeCertificate {
  // Every RPC presents one of a few certificates: parsing and the signature check are done once per
  // (root, certificate), the validity window is checked on each call.
  const key = typeof cert === 'string' ? cert : Buffer.from(cert).toString('base64');
  const known = verified.get(key);
  if (known && known.caCertPem === caCertPem) {
    checkWindow(known.result.notBefore, known.result.notAfter, now, 'node certificate');
    return { ...known.result };
  }
  const result = verifyUncached(caCertPem, cert, now);
  if (!known && verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
  verified.set(key, { caCertPem, result });
  return result;
}

const VERIFIED_CACHE_SIZE = 512;
/** By certificate: the root it was verified against, and what it proved. */
const verified = new Map<string, { caCertPem: string; result: VerifiedNodeCertificate }>();

function verifyUncached(caCertPem: string, cert: string | Uint8Array, now: Date): VerifiedNodeCertificate {
  const ca = parseRoot(caCertPem);
  const node = parse(cert, 'node certificate');
  // Signature first: every field read below is then known to come from this swarm's CA.
  if (!node.checkIssued(ca)) {
    throw new CertificateError(
      `node certificate was not issued by this swarm's CA (issuer ${node.issuer.replace(/\n/g, ', ')})`,
    );
  }
  if (!node.verify(ca.publicKey)) {
    throw new CertificateError("node certificate's signature does not verify against this swarm's CA");
  }
  checkValidity(node, now, 'node certificate');
  if (node.ca) throw new CertificateError('a CA certificate is not a node certificate');

  const nodeId = single(node, 'CN', 'node certificate');
  const unit = single(node, 'OU', 'node certificate');
  const role = roleOfUnit(unit);
  if (!role) throw new CertificateError(`node certificate has an unknown role "${unit}"`);
  const clusterId = single(node, 'O', 'node certificate');
  const caClusterId = single(ca, 'O', 'the root CA certificate');
  if (clusterId !== caClusterId) {
    throw new CertificateError(`node certificate is for cluster ${clusterId}, not ${caClusterId}`);
  }
  return {
    nodeId,
    role,
    clusterId,
    ...validity(node),
    serialNumber: node.serialNumber.toLowerCase(),
  };
}

/**
 * Fraction of a certificate's lifetime after which a node asks for a new one. SwarmKit picks a random
 * point between 50% and 80%; swarmlite renews from 50% so a node that misses a few attempts (manager
 * down, partition) still has half its lifetime to succeed. Callers that renew many nodes at once may
 * pass a per-node fraction in [0.5, 0.8) to spread the load, as SwarmKit does.
 */
/**
 * notBefore is set this far in the past so a node whose clock is a little behind the CA's can use a
 * fresh certificate at once (SwarmKit and cfssl backdate by one hour too).
 */
export const CERT_BACKDATE_MS = 60 * 60 * 1000;

const RENEWAL_FRACTION = 0.5;

/** When `certPem` should be renewed: `fraction` of the way from notBefore to notAfter. */
export function renewalTime(certPem: string, fraction = RENEWAL_FRACTION): Date {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`renewal fraction ${fraction} is not in (0, 1)`);
  const { notBefore, notAfter } = validity(parse(certPem, 'node certificate'));
  // Measured from issuance: notBefore is backdated (CERT_BACKDATE_MS), which would otherwise pull the
  // renewal of a short-lived certificate to the moment it is issued.
  const issued = Math.min(notBefore.getTime() + CERT_BACKDATE_MS, notAfter.getTime());
  const lifetime = notAfter.getTime() - issued;
  return new Date(issued + Math.floor(lifetime * fraction));
}

/** True once `now` has reached the certificate's renewal time (see RENEWAL_FRACTION). */
export function needsRenewal(certPem: string, now = new Date(), fraction = RENEWAL_FRACTION): boolean {
  return now.getTime() >= renewalTime(certPem, fraction).getTime();
}
