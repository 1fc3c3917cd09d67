// Test support (not a test): a manager port on 127.0.0.1 with a fresh CA, the CA service backed by an
// in-memory node table, and a "Guarded" service whose one RPC is protected by requireCaller.
import * as grpc from '@grpc/grpc-js';
import { requireCaller } from './authz.js';
import {
  createCsr,
  createRootCA,
  generateNodeKey,
  signNodeCertificate,
  type CertificateAuthority,
} from './certs.js';
import { TlsMaterialProvider, managerServerCredentials } from './credentials.js';
import type { NodeIdentity, NodeRole } from './identity.js';
import {
  caServiceDefinition,
  createCaService,
  type ClusterCaState,
  type NodeRegistration,
} from './service.js';
import { newJoinToken } from './tokens.js';

const HOUR_MS = 60 * 60 * 1000;

/** A JSON-encoded service: enough wire format for a guarded test RPC without another .proto file. */
const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown,
};

const guardedDefinition: grpc.ServiceDefinition = {
  WhoAmI: {
    path: '/swarmlite.test.Guarded/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

export const GuardedClient = grpc.makeGenericClientConstructor(guardedDefinition, 'Guarded');

/** The Guarded service's one call: who the server says the caller is. */
export function callWhoAmI(client: grpc.Client, timeoutMs: number): Promise<NodeIdentity> {
  const method = guardedDefinition.WhoAmI!;
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest<object, NodeIdentity>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      {},
      { deadline: Date.now() + timeoutMs },
      (err, res) => (err ? reject(err) : resolve(res!)),
    ),
  );
}

/** Test clients never share connections, so each one's credentials are really used. */
export const TEST_CHANNEL_OPTIONS: grpc.ChannelOptions = { 'grpc.use_local_subchannel_pool': 1 };

export interface NodeCredentials {
  nodeId: string;
  certPem: string;
  keyPem: string;
}

/** Issues a certificate straight from a CA (no RPC), as the first manager does for itself at init. */
export async function issueDirect(
  ca: CertificateAuthority,
  clusterId: string,
  nodeId: string,
  role: NodeRole,
  opts: { validityMs?: number; now?: Date } = {},
): Promise<NodeCredentials> {
  const { keyPem } = generateNodeKey();
  const certPem = await signNodeCertificate(ca, await createCsr(keyPem), {
    nodeId,
    role,
    clusterId,
    validityMs: opts.validityMs ?? HOUR_MS,
    now: opts.now,
  });
  return { nodeId, certPem, keyPem };
}

export interface TestManager {
  addr: string;
  cluster: ClusterCaState;
  ca: CertificateAuthority;
  /** The node table behind the CA service; tests promote, demote and remove nodes here. */
  nodes: Map<string, { role: NodeRole; removed: boolean }>;
  registered: NodeRegistration[];
  /** IssueNodeCertificate calls that reached the server. */
  issueCalls: number;
  manager: NodeCredentials;
  tls: TlsMaterialProvider;
  stop(): Promise<void>;
}

export async function startTestManager(clusterId = 'testcluster'): Promise<TestManager> {
  const ca = await createRootCA(clusterId);
  const manager = await issueDirect(ca, clusterId, 'manager1', 'manager');
  const cluster: ClusterCaState = {
    clusterId,
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    workerToken: newJoinToken(ca.certPem),
    managerToken: newJoinToken(ca.certPem),
    nodeCertValidityMs: HOUR_MS,
  };
  const nodes = new Map<string, { role: NodeRole; removed: boolean }>([
    [manager.nodeId, { role: 'manager', removed: false }],
  ]);
  let nextId = 1;
  const tls = new TlsMaterialProvider({
    caCertPem: ca.certPem,
    certPem: manager.certPem,
    keyPem: manager.keyPem,
  });
  const server = new grpc.Server();
  const state = { issueCalls: 0 };
  const caService = createCaService({
    getCluster: () => cluster,
    registerNode: async (req) => {
      registered.push(req);
      nodes.set(req.nodeId, { role: req.role, removed: false });
    },
    lookupNode: (nodeId) => nodes.get(nodeId),
    newNodeId: () => `node${nextId++}`,
    managerAddrs: () => [addr],
  });
  const registered: NodeRegistration[] = [];
  server.addService(caServiceDefinition(), {
    ...caService,
    IssueNodeCertificate: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      state.issueCalls++;
      (caService.IssueNodeCertificate as grpc.handleUnaryCall<unknown, unknown>)(call, cb);
    },
  });
  server.addService(guardedDefinition, {
    WhoAmI: (call: grpc.ServerUnaryCall<unknown, NodeIdentity>, cb: grpc.sendUnaryData<NodeIdentity>) => {
      try {
        cb(
          null,
          requireCaller(call, cluster.caCertPem, {
            roles: ['manager'],
            isRemoved: (id) => nodes.get(id)?.removed === true,
          }),
        );
      } catch (err) {
        cb(err as grpc.ServiceError);
      }
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', managerServerCredentials(tls), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const addr = `127.0.0.1:${port}`;
  return {
    addr,
    cluster,
    ca,
    nodes,
    registered,
    get issueCalls() {
      return state.issueCalls;
    },
    manager,
    tls,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
