// The replicated objects, in SwarmKit's shape. Everything here is plain JSON: objects travel inside
// Raft entries and snapshots, and every manager must rebuild byte-identical state from them.
//
// `spec` is what users and controllers ask for; the other fields are observed or derived state.
// Adding a kind (network, service, task, ...) means: its type here, an entry in SwarmObjects, and its
// TableSpec (indexes, validation) in indexes.ts. Nothing else in the store is kind-specific.
import type { Network, Service, Task } from './objects-services.js';

export * from './objects-services.js';

/** Bookkeeping the store owns; callers never set it (apply stamps it). */
export interface Meta {
  /** The Raft index of the object's last write: the version an optimistic update must present. */
  version: number;
  /** ISO timestamps chosen by the proposer at propose time, so apply never reads a clock. */
  createdAt: string;
  updatedAt: string;
}

export interface StoreObject {
  id: string;
  meta: Meta;
}

/** What a writer hands to `tx.create`: the object without the store-owned `meta`. */
export type NewObject<T extends StoreObject> = Omit<T, 'meta'>;

// ---------------------------------------------------------------------------------------- Cluster

/** SwarmKit names the one cluster object "default"; its name is unique in the store. */
export const DEFAULT_CLUSTER_NAME = 'default';

/**
 * Workers heartbeat this often; the dispatcher marks a node down after it missed about three periods,
 * so with the default a dead node is noticed within 5 s (SwarmKit: 5 s period, grace ×3).
 */
export const DEFAULT_HEARTBEAT_PERIOD_MS = 1_000;
/** Node certificates live 90 days, as in SwarmKit, and are renewed well before expiry. */
export const DEFAULT_NODE_CERT_VALIDITY_MS = 90 * 24 * 60 * 60 * 1_000;
/** Overlay subnets are carved from this pool in /24s unless `init --default-addr-pool` says otherwise. */
export const DEFAULT_ADDR_POOL: readonly string[] = ['10.0.0.0/8'];
export const DEFAULT_SUBNET_SIZE = 24;

export interface ClusterSpec {
  name: string;
  dispatcher: { heartbeatPeriodMs: number };
  caConfig: { nodeCertValidityMs: number };
  defaultAddrPool: string[];
  subnetSize: number;
}

export interface RootCA {
  certPem: string;
  /** The CA key lives in the replicated store so any manager can sign after a leader change. */
  keyPem: string;
  /** `sha256:<hex>` of the CA certificate's DER: what join tokens pin. */
  digest: string;
}

export interface JoinTokens {
  worker: string;
  manager: string;
}

/** A gossip encryption key the managers distribute (SwarmKit's EncryptionKey). */
export interface EncryptionKey {
  subsystem: string;
  algorithm: string;
  /** Base64 key material. */
  key: string;
  /** Orders keys during rotation; the highest is the primary. */
  lamportTime: number;
}

export interface Cluster extends StoreObject {
  spec: ClusterSpec;
  rootCA: RootCA;
  joinTokens: JoinTokens;
  encryptionKeys?: EncryptionKey[];
}

export function defaultClusterSpec(name: string = DEFAULT_CLUSTER_NAME): ClusterSpec {
  return {
    name,
    dispatcher: { heartbeatPeriodMs: DEFAULT_HEARTBEAT_PERIOD_MS },
    caConfig: { nodeCertValidityMs: DEFAULT_NODE_CERT_VALIDITY_MS },
    defaultAddrPool: [...DEFAULT_ADDR_POOL],
    subnetSize: DEFAULT_SUBNET_SIZE,
  };
}

// ------------------------------------------------------------------------------------------- Node

export const NODE_ROLES = ['manager', 'worker'] as const;
export type NodeRole = (typeof NODE_ROLES)[number];

export const NODE_AVAILABILITIES = ['active', 'pause', 'drain'] as const;
export type NodeAvailability = (typeof NODE_AVAILABILITIES)[number];

export const NODE_STATES = ['unknown', 'down', 'ready', 'disconnected'] as const;
export type NodeState = (typeof NODE_STATES)[number];

export const REACHABILITIES = ['unknown', 'unreachable', 'reachable'] as const;
export type Reachability = (typeof REACHABILITIES)[number];

/** SwarmKit's IssuanceState: where the node's certificate stands with the CA. */
export const CERT_STATUSES = ['unknown', 'pending', 'issued', 'renew', 'rotate', 'failed'] as const;
export type CertificateStatus = (typeof CERT_STATUSES)[number];

export interface NodeSpec {
  /** The role the user asked for (promote/demote); `Node.role` follows once the change took effect. */
  role: NodeRole;
  availability: NodeAvailability;
  labels: Record<string, string>;
}

export interface NodeStatus {
  state: NodeState;
  message: string;
  /** The address the node's session came from, as the dispatcher saw it. */
  addr: string;
}

export interface NodeDescription {
  hostname: string;
  platform: { os: string; arch: string };
  resources: { nanoCpus: number; memoryBytes: number };
  engineVersion: string;
}

export interface ManagerStatus {
  raftId: number;
  /** Where the other managers reach this one on 2377. */
  addr: string;
  reachability: Reachability;
  leader: boolean;
}

export interface NodeCertificate {
  role: NodeRole;
  certPem: string;
  status: CertificateStatus;
}

export interface Node extends StoreObject {
  spec: NodeSpec;
  /** The observed, effective role (what the node's certificate and Raft membership say). */
  role: NodeRole;
  status: NodeStatus;
  description: NodeDescription;
  managerStatus?: ManagerStatus;
  certificate: NodeCertificate;
  /** Removed from the swarm (`node rm`, `leave`): kept so the CA and dispatcher refuse it by id. */
  removed?: boolean;
  /** Its ingress sandbox's address on the ingress network (CIDR), filled by the allocator. */
  ingressAddress?: string;
}

// ------------------------------------------------------------------------------------------ Kinds

/** Every kind the swarmlite store holds, by the name used in actions, events and snapshots. */
export type SwarmObjects = {
  cluster: Cluster;
  node: Node;
  network: Network;
  service: Service;
  task: Task;
};
