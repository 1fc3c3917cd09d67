// The swarmlite schema: for each kind, its secondary indexes and the shape apply insists on.
//
// Validation runs at apply on objects decoded from Raft entries. It is deliberately about structure
// (types, enums) and about every field an index reads: semantic rules (who may promote whom, valid
// CIDRs, ...) belong to the control API, which rejects bad requests before they are proposed.
import {
  CERT_STATUSES,
  NODE_AVAILABILITIES,
  NODE_ROLES,
  NODE_STATES,
  REACHABILITIES,
  type Cluster,
  type Node,
  type SwarmObjects,
} from '../../api/objects/index.js';
import type { Schema, TableSpec } from './tables.js';
import { isPlainObject } from './json.js';
import {
  boolean,
  checkFields,
  integer,
  nonEmptyString,
  nonNegativeNumber,
  object,
  oneOf,
  optional,
  positiveInt,
  string,
  stringArray,
  stringRecord,
  type Check,
} from './checks.js';
import { networkTable, serviceTable, taskTable } from './tables-services.js';

const clusterRules: readonly [string, Check][] = [
  ['spec', object],
  ['spec.name', nonEmptyString],
  ['spec.dispatcher', object],
  ['spec.dispatcher.heartbeatPeriodMs', positiveInt],
  ['spec.caConfig', object],
  ['spec.caConfig.nodeCertValidityMs', positiveInt],
  ['spec.defaultAddrPool', stringArray],
  ['spec.subnetSize', integer(1, 32)],
  ['rootCA', object],
  ['rootCA.certPem', string],
  ['rootCA.keyPem', string],
  ['rootCA.digest', string],
  ['joinTokens', object],
  ['joinTokens.worker', string],
  ['joinTokens.manager', string],
  ['encryptionKeys', optional((v) => (Array.isArray(v) ? undefined : 'must be an array'))],
];

export const clusterTable: TableSpec<Cluster> = {
  indexes: [{ name: 'name', unique: true, caseInsensitive: true, keys: (c) => [c.spec.name] }],
  validate: (obj) => checkFields(obj, clusterRules),
};

const nodeRules: readonly [string, Check][] = [
  ['spec', object],
  ['spec.role', oneOf(NODE_ROLES)],
  ['spec.availability', oneOf(NODE_AVAILABILITIES)],
  ['spec.labels', stringRecord],
  ['role', oneOf(NODE_ROLES)],
  ['status', object],
  ['status.state', oneOf(NODE_STATES)],
  ['status.message', string],
  ['status.addr', string],
  ['description', object],
  ['description.hostname', string],
  ['description.platform', object],
  ['description.platform.os', string],
  ['description.platform.arch', string],
  ['description.resources', object],
  ['description.resources.nanoCpus', nonNegativeNumber],
  ['description.resources.memoryBytes', nonNegativeNumber],
  ['description.engineVersion', string],
  ['managerStatus', optional(object)],
  ['managerStatus.raftId', optional(positiveInt)],
  ['managerStatus.addr', optional(string)],
  ['managerStatus.reachability', optional(oneOf(REACHABILITIES))],
  ['managerStatus.leader', optional(boolean)],
  ['certificate', object],
  ['certificate.role', oneOf(NODE_ROLES)],
  ['certificate.certPem', string],
  ['certificate.status', oneOf(CERT_STATUSES)],
  ['removed', optional(boolean)],
];

function validateNode(obj: Record<string, unknown>): string | undefined {
  const problem = checkFields(obj, nodeRules);
  if (problem) return problem;
  // The optional() checks above let each managerStatus field be absent; a present managerStatus
  // must be complete.
  if (isPlainObject(obj.managerStatus)) {
    for (const field of ['raftId', 'addr', 'reachability', 'leader']) {
      if (obj.managerStatus[field] === undefined) return `managerStatus.${field}: is required`;
    }
  }
  return undefined;
}

export const nodeTable: TableSpec<Node> = {
  indexes: [
    // Not unique: Swarm allows two nodes with one hostname (a re-joined machine, cloned VMs).
    {
      name: 'hostname',
      caseInsensitive: true,
      keys: (n) => (n.description.hostname ? [n.description.hostname] : []),
    },
    { name: 'role', keys: (n) => [n.role] },
    { name: 'desiredRole', keys: (n) => [n.spec.role] },
    { name: 'availability', keys: (n) => [n.spec.availability] },
    { name: 'state', keys: (n) => [n.status.state] },
    // Not unique either: a demoted node may keep its last managerStatus until the membership catches up.
    { name: 'raftId', keys: (n) => (n.managerStatus ? [String(n.managerStatus.raftId)] : []) },
  ],
  validate: validateNode,
};

export const swarmSchema: Schema<SwarmObjects> = {
  cluster: clusterTable,
  node: nodeTable,
  network: networkTable,
  service: serviceTable,
  task: taskTable,
};
