// Tables for networks, services and tasks: their indexes and the structure apply insists on. Deeper
// rules (CIDRs that parse, ports in range, constraints that parse) are the control API's, checked
// before anything is proposed.
import { isPlainObject } from './json.js';
import {
  boolean,
  checkFields,
  integer,
  nonEmptyString,
  nonNegativeNumber,
  object,
  oneOf,
  string,
  stringRecord,
  type Check,
} from './checks.js';
import {
  SWARM_NETWORK_DRIVERS,
  TASK_STATES,
  type Network,
  type Service,
  type Task,
} from '../../api/objects/index.js';
import type { TableSpec } from './tables.js';

const array: Check = (v) => (Array.isArray(v) ? undefined : 'must be an array');

const networkRules: readonly [string, Check][] = [
  ['spec', object],
  ['spec.name', nonEmptyString],
  ['spec.driver', oneOf(SWARM_NETWORK_DRIVERS)],
  ['spec.ipam', array],
  ['spec.attachable', boolean],
  ['spec.internal', boolean],
  ['spec.ingress', boolean],
  ['spec.options', stringRecord],
  ['spec.labels', stringRecord],
  ['ipam', array],
  ['vni', integer(0, 16_777_215)],
];

export const networkTable: TableSpec<Network> = {
  indexes: [
    { name: 'name', unique: true, caseInsensitive: true, keys: (n) => [n.spec.name] },
    { name: 'vni', unique: true, keys: (n) => (n.vni ? [String(n.vni)] : []) },
  ],
  validate: (obj) => checkFields(obj, networkRules),
};

const serviceRules: readonly [string, Check][] = [
  ['spec', object],
  ['spec.name', nonEmptyString],
  ['spec.labels', stringRecord],
  ['spec.task', object],
  ['spec.task.image', nonEmptyString],
  ['spec.task.networks', array],
  ['spec.mode', object],
  ['spec.update', object],
  ['spec.rollback', object],
  ['spec.endpoint', object],
  ['spec.endpoint.mode', oneOf(['vip', 'dnsrr'])],
  ['spec.endpoint.ports', array],
  ['specVersion', integer(0, Number.MAX_SAFE_INTEGER)],
  ['endpoint', object],
  ['endpoint.ports', array],
  ['endpoint.virtualIps', array],
];

export const serviceTable: TableSpec<Service> = {
  indexes: [{ name: 'name', unique: true, caseInsensitive: true, keys: (s) => [s.spec.name] }],
  validate: (obj) => {
    const problem = checkFields(obj, serviceRules);
    if (problem) return problem;
    const mode = (obj.spec as { mode: Record<string, unknown> }).mode;
    if (isPlainObject(mode.replicated)) {
      const problem = integer(0, 1_000_000)(mode.replicated.replicas);
      return problem && `spec.mode.replicated.replicas: ${problem}`;
    }
    return isPlainObject(mode.global) ? undefined : 'spec.mode: must be replicated or global';
  },
};

const taskRules: readonly [string, Check][] = [
  ['slot', integer(0, Number.MAX_SAFE_INTEGER)],
  ['nodeId', string],
  ['spec', object],
  ['specVersion', nonNegativeNumber],
  ['serviceName', string],
  ['desiredState', oneOf(TASK_STATES)],
  ['status', object],
  ['status.state', oneOf(TASK_STATES)],
  ['status.timestamp', string],
  ['status.message', string],
  ['status.err', string],
  ['networks', array],
  ['endpoint', object],
];

export const taskTable: TableSpec<Task> = {
  indexes: [
    { name: 'service', keys: (t) => [t.serviceId] },
    { name: 'node', keys: (t) => (t.nodeId ? [t.nodeId] : []) },
    { name: 'slot', keys: (t) => [`${t.serviceId}/${t.slot === 0 ? t.nodeId : t.slot}`] },
    { name: 'desiredState', keys: (t) => [t.desiredState] },
    { name: 'state', keys: (t) => [t.status.state] },
  ],
  validate: (obj) => {
    const problem = checkFields(obj, taskRules);
    if (problem) return problem;
    // A network attachment (a standalone container's address) has no service; every other task has one.
    if (obj.attachment === undefined) {
      const p = nonEmptyString(obj.serviceId);
      return p && `serviceId: ${p}`;
    }
    const a = obj.attachment as Record<string, unknown>;
    if (!isPlainObject(a)) return 'attachment: must be an object';
    const p = nonEmptyString(a.containerId);
    if (p) return `attachment.containerId: ${p}`;
    return obj.serviceId === '' ? undefined : 'serviceId: a network attachment has no service';
  },
};
