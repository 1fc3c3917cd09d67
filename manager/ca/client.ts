// The node side of the CA: joining (fetch and pin the root, prove the token, get a certificate) and
// renewing. A fresh key is made for every certificate and never leaves this process.
import * as grpc from '@grpc/grpc-js';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { unaryCalls, type UnaryCalls } from '../../api/calls.js';
import type { CaClient } from '../../api/rpc.js';
import type { IssueNodeCertificateResponse__Output } from '../../api/gen/swarmlite/ca/v1/IssueNodeCertificateResponse.js';
import { caDigest, createCsr, generateNodeKey } from './certs.js';
import { MANAGER_CHANNEL_OPTIONS, bootstrapCredentials, clientCredentials } from './credentials.js';
import { CertificateError, verifyNodeCertificate, verifyRootCA, type NodeRole } from './identity.js';
import { parseJoinToken } from './tokens.js';
import { rejected } from '../../lib/rejects.js';
import { caServiceClient } from './service.js';

const DEFAULT_TIMEOUT_MS = 10_000;

export interface IssuedNodeCertificate {
  nodeId: string;
  role: NodeRole;
  certPem: string;
  keyPem: string;
  caCertPem: string;
  managerAddrs: string[];
}

async function withClient<T>(
  addr: string,
  credentials: grpc.ChannelCredentials,
  fn: (ca: UnaryCalls<CaClient>) => Promise<T>,
): Promise<T> {
  const Ca = caServiceClient();
  const client = new Ca(addr, credentials, MANAGER_CHANNEL_OPTIONS);
  try {
    return await fn(unaryCalls(client, Ca.service));
  } finally {
    client.close();
  }
}

/**
 * Fetches the manager's root CA and accepts it only if its digest is `expectedDigest` (from the join
 * token) and it is a valid self-signed CA. This is the pin: everything after it trusts only this root.
 */
export async function fetchRootCA(
  addr: string,
  expectedDigest: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<string> {
  const { certPem } = await withClient(addr, bootstrapCredentials(), (client) =>
    client.getRootCaCertificate({}, timeoutMs),
  );
  let digest: string;
  try {
    digest = caDigest(certPem);
  } catch {
    throw new CertificateError(`the manager at ${addr} sent a malformed root CA certificate`);
  }
  if (digest !== expectedDigest) {
    const err = new CertificateError(
      `the root CA of the manager at ${addr} does not match the join token's CA digest: ` +
        'the token is for a different swarm, or something is intercepting the connection',
    );
    // The joiner refuses here, before it sends the token's secret; the manager never hears of it, so
    // this node's own reject log is where an operator sees an interception attempt.
    rejected('ca:root-digest-mismatch', addr, err.message);
    throw err;
  }
  verifyRootCA(certPem);
  return certPem;
}

/** Checks an issued certificate before using it: this swarm's CA, the expected node, our key. */
function checkIssued(
  caCertPem: string,
  keyPem: string,
  res: IssueNodeCertificateResponse__Output,
  expectedNodeId?: string,
) {
  const cert = verifyNodeCertificate(caCertPem, res.certPem);
  if (cert.nodeId !== res.nodeId || cert.role !== res.role) {
    throw new CertificateError(`the CA's answer (${res.role} ${res.nodeId}) differs from its certificate`);
  }
  if (expectedNodeId !== undefined && cert.nodeId !== expectedNodeId) {
    throw new CertificateError(`the CA issued a certificate for node ${cert.nodeId}, not ${expectedNodeId}`);
  }
  if (!new X509Certificate(res.certPem).checkPrivateKey(createPrivateKey(keyPem))) {
    throw new CertificateError('the CA issued a certificate for a different key');
  }
  return cert;
}

/**
 * Joins a swarm's PKI: pins the root by the token's digest (refusing before the secret is sent if it
 * differs), then proves the token over TLS verified against that root and receives a node certificate.
 */
export async function requestNodeCertificate(opts: {
  addr: string;
  token: string;
  hostname: string;
  advertiseAddr: string;
  timeoutMs?: number;
}): Promise<IssuedNodeCertificate> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const token = parseJoinToken(opts.token);
  const caCertPem = await fetchRootCA(opts.addr, token.caDigest, timeoutMs);
  const { keyPem } = generateNodeKey();
  const csrPem = await createCsr(keyPem);
  const res = await withClient(opts.addr, clientCredentials({ caCertPem }), (client) =>
    client.issueNodeCertificate(
      { csrPem, token: opts.token.trim(), hostname: opts.hostname, advertiseAddr: opts.advertiseAddr },
      timeoutMs,
    ),
  );
  const cert = checkIssued(caCertPem, keyPem, res);
  return {
    nodeId: cert.nodeId,
    role: cert.role,
    certPem: res.certPem,
    keyPem,
    caCertPem,
    managerAddrs: res.managerAddrs,
  };
}

/**
 * Renews a node's certificate with a new key, authenticating with the current certificate. The node id
 * stays; the role is the one the store holds now (a promotion or demotion shows up here).
 */
export async function renewNodeCertificate(opts: {
  addr: string;
  caCertPem: string;
  certPem: string;
  keyPem: string;
  timeoutMs?: number;
}): Promise<IssuedNodeCertificate> {
  const current = verifyNodeCertificate(opts.caCertPem, opts.certPem);
  const { keyPem } = generateNodeKey();
  const csrPem = await createCsr(keyPem);
  const credentials = clientCredentials({
    caCertPem: opts.caCertPem,
    certPem: opts.certPem,
    keyPem: opts.keyPem,
  });
  const res = await withClient(opts.addr, credentials, (client) =>
    client.issueNodeCertificate({ csrPem, nodeId: current.nodeId }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
  );
  const cert = checkIssued(opts.caCertPem, keyPem, res, current.nodeId);
  return {
    nodeId: cert.nodeId,
    role: cert.role,
    certPem: res.certPem,
    keyPem,
    caCertPem: opts.caCertPem,
    managerAddrs: res.managerAddrs,
  };
}
