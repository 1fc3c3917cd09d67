// A node of the swarm: what the user asked of it (spec), what it is (role, status, manager status) and
// how its certificate stands (SwarmKit's Node).
import type { StoreObject } from './object.js';

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
