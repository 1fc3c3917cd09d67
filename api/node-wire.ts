// Node and cluster objects → their wire form (proto/objects.proto), shared by the control API, the
// dispatcher and their clients. The CA key and join tokens never leave through these: they travel only
// in the Raft log among managers. The result has the generated message's received shape (every field
// present, absent messages null), so in-process callers see what a remote client decodes.
import type { Cluster__Output as WireCluster } from './gen/swarmlite/objects/v1/Cluster.js';
import type { Node__Output as WireNode } from './gen/swarmlite/objects/v1/Node.js';
import type { NodeDescription__Output as WireNodeDescription } from './gen/swarmlite/objects/v1/NodeDescription.js';
import { NODE_ROLES, type Cluster, type Node, type NodeRole } from './objects/index.js';
import { oneOf, required } from './wire-checks.js';

export type { WireCluster, WireNode, WireNodeDescription };
export { WireError } from './wire-checks.js';

export function nodeToWire(n: Node): WireNode {
  return {
    id: n.id,
    meta: { version: n.meta.version, createdAt: n.meta.createdAt, updatedAt: n.meta.updatedAt },
    spec: { role: n.spec.role, availability: n.spec.availability, labels: { ...n.spec.labels } },
    role: n.role,
    status: { state: n.status.state, message: n.status.message, addr: n.status.addr },
    description: {
      hostname: n.description.hostname,
      os: n.description.platform.os,
      arch: n.description.platform.arch,
      nanoCpus: n.description.resources.nanoCpus,
      memoryBytes: n.description.resources.memoryBytes,
      engineVersion: n.description.engineVersion,
    },
    managerStatus: n.managerStatus ? { ...n.managerStatus } : null,
  };
}

export function clusterToWire(c: Cluster): WireCluster {
  return {
    id: c.id,
    meta: { version: c.meta.version, createdAt: c.meta.createdAt, updatedAt: c.meta.updatedAt },
    name: c.spec.name,
    heartbeatPeriodMs: c.spec.dispatcher.heartbeatPeriodMs,
    nodeCertValidityMs: c.spec.caConfig.nodeCertValidityMs,
    defaultAddrPool: [...c.spec.defaultAddrPool],
    subnetSize: c.spec.subnetSize,
    caDigest: c.rootCA.digest,
  };
}

/** What a node acts on in its own object as a session message carries it: its role, and the one asked. */
export interface NodeRoles {
  role: NodeRole;
  spec: { role: NodeRole };
}

/** The roles of a received node, checked (WireError when its spec is absent or a role unknown). */
export function nodeRolesFromWire(m: WireNode, path = 'node'): NodeRoles {
  const spec = required(m.spec, `${path}.spec`);
  return {
    role: oneOf(m.role, `${path}.role`, NODE_ROLES),
    spec: { role: oneOf(spec.role, `${path}.spec.role`, NODE_ROLES) },
  };
}
