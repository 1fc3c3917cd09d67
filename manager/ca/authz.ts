// Per-RPC authorization on the manager port: who is calling, proven by a certificate of this swarm.
import * as grpc from '@grpc/grpc-js';
import { rejected } from '../../lib/rejects.js';
import {
  CertificateError,
  ROLE_OU,
  verifyNodeCertificate,
  type NodeIdentity,
  type NodeRole,
} from './identity.js';

/** Any grpc-js call object: unary, streaming, client or server side all expose the auth context. */
export interface CallWithAuthContext {
  getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } | null;
  /** The peer's address (grpc-js server calls have it): where a refused call is logged as from. */
  getPeer?(): string;
}

/** A refused call, into the daemon's reject log (rate-limited lines, counts in `swarmlite info`). */
function refuse(call: CallWithAuthContext, kind: string, err: GrpcError): GrpcError {
  let peer = 'unknown';
  try {
    peer = call.getPeer?.() ?? peer;
  } catch {
    // a call whose connection is gone has no peer any more: still refused and counted
  }
  rejected(`grpc:${kind}`, peerHost(peer), err.message);
  return err;
}

/**
 * The host of a grpc-js peer ('198.18.0.5:41234', '[fd00::5]:41234'): refusals are summarized per
 * source host, since every new connection of one attacker has a new port.
 */
export function peerHost(peer: string): string {
  const m = /^(?:ipv[46]:)?\[?([^\]]*?)\]?:\d+$/.exec(peer);
  return m?.[1] || peer;
}

/** An error that grpc-js sends as a status: a handler passes it to its callback or stream. */
export class GrpcError extends Error implements grpc.ServiceError {
  override name = 'GrpcError';
  readonly details: string;
  readonly metadata = new grpc.Metadata();

  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.details = message;
  }
}

type CallerCheck = { identity: NodeIdentity } | { problem: string };

/**
 * grpc-js hands over the peer certificate only when TLS verified it against the listener's root, and
 * nothing at all otherwise; the certificate is verified again here, against the root the caller names,
 * so the check does not rely on the listener's configuration (and sees expiry and role).
 */
function checkCaller(call: CallWithAuthContext, caCertPem: string, now: Date): CallerCheck {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  if (!raw || raw.length === 0) {
    return { problem: "no certificate was presented, or TLS could not verify it against this swarm's CA" };
  }
  try {
    const { nodeId, role, clusterId } = verifyNodeCertificate(caCertPem, raw, now);
    return { identity: { nodeId, role, clusterId } };
  } catch (err) {
    if (err instanceof CertificateError) return { problem: err.message };
    throw err;
  }
}

/** The verified identity of the caller, or undefined when it presented no valid certificate of this swarm. */
export function callerIdentity(
  call: CallWithAuthContext,
  caCertPem: string,
  now = new Date(),
): NodeIdentity | undefined {
  const result = checkCaller(call, caCertPem, now);
  return 'identity' in result ? result.identity : undefined;
}

export interface CallerRequirements {
  /** Roles allowed to make this call. */
  roles: readonly NodeRole[];
  /** True for nodes removed from the swarm: their certificates stay valid until expiry, so ask the store. */
  isRemoved?: (nodeId: string) => boolean;
  now?: Date;
}

/**
 * The caller's identity if it may make this call; otherwise throws a GrpcError: UNAUTHENTICATED without
 * a valid certificate of this swarm, PERMISSION_DENIED for the wrong role or a removed node.
 */
export function requireCaller(
  call: CallWithAuthContext,
  caCertPem: string,
  requirements: CallerRequirements,
): NodeIdentity {
  const result = checkCaller(call, caCertPem, requirements.now ?? new Date());
  if ('problem' in result) {
    throw refuse(
      call,
      'unauthenticated',
      new GrpcError(
        grpc.status.UNAUTHENTICATED,
        `this RPC needs a node certificate of this swarm: ${result.problem}`,
      ),
    );
  }
  const caller = result.identity;
  // Removal first: a removed node learns why, whatever it asked for.
  if (requirements.isRemoved?.(caller.nodeId)) {
    throw refuse(
      call,
      'removed-node',
      new GrpcError(grpc.status.PERMISSION_DENIED, `node ${caller.nodeId} was removed from the swarm`),
    );
  }
  if (!requirements.roles.includes(caller.role)) {
    const wanted = requirements.roles.map((role) => `a ${role}`).join(' or ');
    throw refuse(
      call,
      'wrong-role',
      new GrpcError(
        grpc.status.PERMISSION_DENIED,
        `this RPC needs ${wanted} certificate; caller ${ROLE_OU[caller.role]} ${caller.nodeId}`,
      ),
    );
  }
  return caller;
}
