// The CA's gRPC service on the manager port: hands out the root, issues certificates to joining nodes
// (who prove a join token) and renews them (for nodes that prove their current certificate).
//
// It keeps no state: the cluster's CA, tokens and node table live in the Raft store, reached through
// the callbacks in CaServiceDeps, so any manager can serve it and all of them agree.
import * as grpc from '@grpc/grpc-js';
import { services, type CaHandlers } from '../../api/rpc.js';
import { rejected } from '../../lib/rejects.js';
import { GrpcError, peerHost, requireCaller } from './authz.js';
import { signNodeCertificate } from './certs.js';
import { CertificateError, type NodeRole } from './identity.js';
import { JoinTokenError, parseJoinToken, tokenMatches } from './tokens.js';

/** The service constructor for clients; its `.service` is the definition servers register. */
export function caServiceClient() {
  return services.ca();
}

export function caServiceDefinition(): grpc.ServiceDefinition {
  return caServiceClient().service;
}

/** The CA-related part of the cluster object in the store. */
export interface ClusterCaState {
  clusterId: string;
  caCertPem: string;
  caKeyPem: string;
  /** Current tokens; a rotated-away token no longer matches either. */
  workerToken: string;
  managerToken: string;
  nodeCertValidityMs: number;
}

export interface NodeRegistration {
  nodeId: string;
  role: NodeRole;
  hostname: string;
  /** The node's advertise address (host:port). */
  addr: string;
}

export interface CaServiceDeps {
  getCluster(): ClusterCaState;
  /** Records a new node in the store; the certificate is returned only once this resolves. */
  registerNode(req: NodeRegistration): Promise<void>;
  lookupNode(nodeId: string): { role: NodeRole; removed: boolean } | undefined;
  newNodeId(): string;
  /** Managers a new node may talk to, returned with its certificate. */
  managerAddrs?(): string[];
  now?(): Date;
}

interface IssueRequest {
  csrPem: string;
  token: string;
  nodeId: string;
  hostname: string;
  advertiseAddr: string;
}

interface IssueResponse {
  nodeId: string;
  certPem: string;
  role: NodeRole;
  managerAddrs: string[];
}

/** The message for every join token that parses but is not the cluster's: no hint which part is wrong. */
export const INVALID_JOIN_TOKEN = 'invalid join token';

/**
 * The role a join token grants. Both comparisons always run, so timing does not tell a worker token
 * from a manager token from a wrong one.
 */
function roleForToken(token: string, cluster: ClusterCaState): NodeRole {
  try {
    parseJoinToken(token);
  } catch (err) {
    if (err instanceof JoinTokenError) throw new GrpcError(grpc.status.INVALID_ARGUMENT, err.message);
    throw err;
  }
  const isManager = tokenMatches(token.trim(), cluster.managerToken);
  const isWorker = tokenMatches(token.trim(), cluster.workerToken);
  if (isManager) return 'manager';
  if (isWorker) return 'worker';
  throw new GrpcError(grpc.status.PERMISSION_DENIED, INVALID_JOIN_TOKEN);
}

async function sign(cluster: ClusterCaState, csrPem: string, nodeId: string, role: NodeRole, now: Date) {
  try {
    return await signNodeCertificate({ certPem: cluster.caCertPem, keyPem: cluster.caKeyPem }, csrPem, {
      nodeId,
      role,
      clusterId: cluster.clusterId,
      validityMs: cluster.nodeCertValidityMs,
      now,
    });
  } catch (err) {
    if (err instanceof CertificateError) throw new GrpcError(grpc.status.INVALID_ARGUMENT, err.message);
    throw err;
  }
}

function toServiceError(err: unknown): grpc.ServerErrorResponse {
  if (err instanceof GrpcError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GrpcError(grpc.status.INTERNAL, `certificate issuance failed: ${message}`);
}

/** gRPC handlers for the Ca service; register with server.addService(caServiceDefinition(), ...). */
export function createCaService(deps: CaServiceDeps): CaHandlers {
  const now = (): Date => deps.now?.() ?? new Date();

  async function join(req: IssueRequest, cluster: ClusterCaState): Promise<IssueResponse> {
    const role = roleForToken(req.token, cluster);
    const nodeId = deps.newNodeId();
    const certPem = await sign(cluster, req.csrPem, nodeId, role, now());
    await deps.registerNode({ nodeId, role, hostname: req.hostname, addr: req.advertiseAddr });
    return { nodeId, certPem, role, managerAddrs: deps.managerAddrs?.() ?? [] };
  }

  // The role comes from the store, not from the old certificate: a promotion or demotion takes effect
  // at the node's next renewal, as in SwarmKit.
  async function renew(
    call: grpc.ServerUnaryCall<IssueRequest, IssueResponse>,
    cluster: ClusterCaState,
  ): Promise<IssueResponse> {
    const req = call.request;
    const caller = requireCaller(call, cluster.caCertPem, {
      roles: ['manager', 'worker'],
      isRemoved: (id) => deps.lookupNode(id)?.removed === true,
      now: now(),
    });
    if (caller.nodeId !== req.nodeId) {
      throw new GrpcError(
        grpc.status.PERMISSION_DENIED,
        `node ${caller.nodeId} cannot renew the certificate of node ${req.nodeId}`,
      );
    }
    const node = deps.lookupNode(caller.nodeId);
    if (!node) {
      throw new GrpcError(
        grpc.status.PERMISSION_DENIED,
        `node ${caller.nodeId} is not a member of the swarm`,
      );
    }
    const certPem = await sign(cluster, req.csrPem, caller.nodeId, node.role, now());
    return { nodeId: caller.nodeId, certPem, role: node.role, managerAddrs: deps.managerAddrs?.() ?? [] };
  }

  return {
    GetRootCACertificate(_call, callback): void {
      try {
        callback(null, { certPem: deps.getCluster().caCertPem });
      } catch (err) {
        callback(toServiceError(err));
      }
    },

    IssueNodeCertificate(call, callback): void {
      const req = call.request;
      const issue = async (): Promise<IssueResponse> => {
        if (!req.csrPem) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'csr_pem is required');
        const cluster = deps.getCluster();
        return req.nodeId ? renew(call, cluster) : join(req, cluster);
      };
      issue().then(
        (res) => callback(null, res),
        (err: unknown) => {
          // A refused join or renewal (a wrong or rotated token, a bad CSR): counted and logged,
          // rate-limited, with the peer's address (lib/rejects.ts).
          if (err instanceof GrpcError)
            rejected(
              req.nodeId ? 'ca:renew-refused' : 'ca:join-refused',
              peerHost(call.getPeer()),
              err.message,
            );
          callback(toServiceError(err));
        },
      );
    },
  };
}
