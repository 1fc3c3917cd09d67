// TLS for the manager port (2377): one listener for everyone, identity decided per RPC.
//
// A joining node has no certificate yet, so the listener requests a client certificate but does not
// require one (SwarmKit does the same). Node's TLS still verifies whatever certificate is presented
// against the cluster root: grpc-js exposes the peer certificate to handlers only when that succeeded
// (see authz.ts), and every RPC then checks the caller's role itself.
//
// grpc-js's createSsl() ties requestCert and rejectUnauthorized to one flag. Its (experimental, exported)
// certificate-provider credentials set requestCert whenever a CA provider is given and take
// rejectUnauthorized as a separate argument, which is exactly "request, don't require". The provider
// also lets a manager swap in a renewed certificate without restarting its server.
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { CertificateError, ROLE_OU, verifyNodeCertificate } from './identity.js';

export interface TlsMaterial {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/** The manager's current root, certificate and key; `update()` pushes renewed ones to its servers. */
export class TlsMaterialProvider implements grpc.experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(private material: TlsMaterial) {}

  get current(): TlsMaterial {
    return this.material;
  }

  update(material: TlsMaterial): void {
    this.material = material;
    for (const listener of this.caListeners) this.deliverCa(listener);
    for (const listener of this.identityListeners) this.deliverIdentity(listener);
  }

  // The first delivery is deferred: grpc-js registers its own watcher only after subscribing to the
  // provider, so a synchronous callback would update credentials nobody listens to yet, and the server
  // would drop every connection as "credentials not loaded". A microtask still runs before any accept.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => this.caListeners.has(listener) && this.deliverCa(listener));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && this.deliverIdentity(listener));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private deliverCa(listener: CaListener): void {
    listener({ caCertificate: Buffer.from(this.material.caCertPem) });
  }

  private deliverIdentity(listener: IdentityListener): void {
    listener({
      certificate: Buffer.from(this.material.certPem),
      privateKey: Buffer.from(this.material.keyPem),
    });
  }
}

/**
 * Server credentials for the manager port: presents the manager's certificate, requests (does not
 * require) a client certificate and verifies any presented one against the cluster root.
 */
export function managerServerCredentials(
  material: TlsMaterial | TlsMaterialProvider,
): grpc.ServerCredentials {
  const provider = material instanceof TlsMaterialProvider ? material : new TlsMaterialProvider(material);
  // In grpc-js 1.14 this function's parameter names (ca, identity) are the reverse of the order its
  // implementation uses; one provider serving both roles makes the order irrelevant. false: a client
  // certificate is requested but not required.
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/**
 * Nodes are dialled by IP and their certificates name node ids, not addresses, so the usual hostname
 * check cannot apply. The identity a client needs is "a manager of this swarm": after Node has verified
 * the chain against the pinned root, the server certificate must carry the swarm-manager role (and, when
 * the caller knows it, the expected node id).
 */
function managerIdentityCheck(caCertPem: string, expectedNodeId?: string) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    try {
      const server = verifyNodeCertificate(caCertPem, cert.raw);
      if (server.role !== 'manager') {
        return new CertificateError(`the server is not a manager (${ROLE_OU[server.role]} ${server.nodeId})`);
      }
      if (expectedNodeId !== undefined && server.nodeId !== expectedNodeId) {
        return new CertificateError(`the server is manager ${server.nodeId}, not ${expectedNodeId}`);
      }
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  };
}

/**
 * Channel credentials for dialling a manager: the chain must lead to `caCertPem` (the pinned root) and
 * the server must be a manager of this swarm. Pass the node's certificate and key to authenticate; a
 * joining node, which has none yet, omits them.
 */
export function clientCredentials(opts: {
  caCertPem: string;
  certPem?: string;
  keyPem?: string;
  expectedServerNodeId?: string;
}): grpc.ChannelCredentials {
  if ((opts.certPem === undefined) !== (opts.keyPem === undefined)) {
    throw new Error('clientCredentials: certPem and keyPem go together');
  }
  return grpc.credentials.createSsl(
    Buffer.from(opts.caCertPem),
    opts.keyPem === undefined ? null : Buffer.from(opts.keyPem),
    opts.certPem === undefined ? null : Buffer.from(opts.certPem),
    { checkServerIdentity: managerIdentityCheck(opts.caCertPem, opts.expectedServerNodeId) },
  );
}

/**
 * Credentials for a joining node's first call, before it has the root CA: TLS without chain
 * verification. Use them only for GetRootCACertificate and check the answer with caDigest() against the
 * join token before trusting it (fetchRootCA in client.ts does both). That single check is the pin: the
 * root is public, so reading it over an unverified channel discloses nothing, and a forged root fails
 * the digest. The token's secret is sent only later, over clientCredentials() built on the pinned root.
 */
export function bootstrapCredentials(): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false });
}

/**
 * Channel options for every client of the manager port. Managers are dialled by IP, and an IP address
 * is not a valid TLS server name (RFC 6066; Node warns), so the name sent is the role's SAN instead.
 */
export const MANAGER_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.ssl_target_name_override': ROLE_OU.manager,
};
