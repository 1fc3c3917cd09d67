// The one cluster object: its settings, root CA, join tokens and gossip keys (SwarmKit's Cluster).
import type { StoreObject } from './object.js';

/** SwarmKit names the one cluster object "default"; its name is unique in the store. */
const DEFAULT_CLUSTER_NAME = 'default';

/**
 * Workers heartbeat this often; the dispatcher marks a node down after it missed about three periods,
 * so with the default a dead node is noticed within 5 s (SwarmKit: 5 s period, grace ×3).
 */
const DEFAULT_HEARTBEAT_PERIOD_MS = 1_000;
/** Node certificates live 90 days, as in SwarmKit, and are renewed well before expiry. */
export const DEFAULT_NODE_CERT_VALIDITY_MS = 90 * 24 * 60 * 60 * 1_000;
/** Overlay subnets are carved from this pool in /24s unless `init --default-addr-pool` says otherwise. */
export const DEFAULT_ADDR_POOL: readonly string[] = ['10.0.0.0/8'];
export const DEFAULT_SUBNET_SIZE = 24;
/**
 * Replicas one service may ask for unless `init --max-replicas` says otherwise. A task object costs
 * the managers ~2 KB in every store and its history (manager/controlapi/scale.bench.ts measures
 * it): 10,000 are ~20 MB, while `--replicas 1000000` took a manager past 1.7 GB and out of service (issue 18, fault 1).
 */
export const DEFAULT_MAX_REPLICAS = 10_000;
/**
 * Tasks one node is given at most (the scheduler's admission): a node past it keeps no more, and the
 * rest stay pending with the reason, as Kubernetes' max-pods does. Each task here is a process tree,
 * namespaces, a veth pair and cgroups.
 */
export const DEFAULT_MAX_TASKS_PER_NODE = 250;

export interface OrchestrationLimits {
  maxReplicas: number;
  maxTasksPerNode: number;
}

/** The cluster's limits; a store written before they existed has the defaults. */
export function orchestrationLimits(spec: ClusterSpec | undefined): OrchestrationLimits {
  return {
    maxReplicas: spec?.orchestration?.maxReplicas ?? DEFAULT_MAX_REPLICAS,
    maxTasksPerNode: spec?.orchestration?.maxTasksPerNode ?? DEFAULT_MAX_TASKS_PER_NODE,
  };
}

export interface ClusterSpec {
  name: string;
  dispatcher: { heartbeatPeriodMs: number };
  caConfig: { nodeCertValidityMs: number };
  defaultAddrPool: string[];
  subnetSize: number;
  /** Absent in stores written before the limits existed: orchestrationLimits() gives the defaults. */
  orchestration?: OrchestrationLimits;
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

/**
 * One IPsec key of the encrypted overlays (`--opt encrypted`): 20 bytes of rfc4106(gcm(aes)) material
 * (128-bit AES key and the 32-bit salt), from which every node derives the same per-pair SA keys.
 */
export interface OverlayKey {
  /** Increasing with every key the leader makes; every node derives the SPIs from it. */
  id: number;
  /** Base64 of the 20 bytes. */
  key: string;
}

/**
 * The encrypted overlays' keys: every key a node must accept, and which one it sends with. A rotation
 * moves through three states (manager/overlay-keys.ts) so that no node ever sends with a key a peer
 * cannot decrypt yet.
 */
export interface OverlayKeySet {
  keys: OverlayKey[];
  /** The id of the key nodes encrypt with; always one of `keys`. */
  primary: number;
}

export interface Cluster extends StoreObject {
  spec: ClusterSpec;
  rootCA: RootCA;
  joinTokens: JoinTokens;
  encryptionKeys?: EncryptionKey[];
  /** Absent until the leader's key manager first runs (stores written before encrypted overlays). */
  overlayKeys?: OverlayKeySet;
}

export function defaultClusterSpec(name: string = DEFAULT_CLUSTER_NAME): ClusterSpec {
  return {
    name,
    dispatcher: { heartbeatPeriodMs: DEFAULT_HEARTBEAT_PERIOD_MS },
    caConfig: { nodeCertValidityMs: DEFAULT_NODE_CERT_VALIDITY_MS },
    defaultAddrPool: [...DEFAULT_ADDR_POOL],
    subnetSize: DEFAULT_SUBNET_SIZE,
    orchestration: { maxReplicas: DEFAULT_MAX_REPLICAS, maxTasksPerNode: DEFAULT_MAX_TASKS_PER_NODE },
  };
}
