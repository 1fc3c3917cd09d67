// Specs out of a request (proto/objects.proto as proto-loader decodes it: camelCase, longs as numbers,
// enums as strings, absent messages null, the ServiceSpec mode oneof as `replicated`/`global` plus a
// `mode` naming the one set). Whatever the user left out gets Docker's default: an absent message is
// the whole default (api/objects/service-defaults.ts); inside a present message an empty string is the default
// choice, while numbers are taken as sent (proto3 cannot tell 0 from unset, and 0 is meaningful for
// parallelism, delays and attempts) — the CLI sends complete configs. Shape and range errors are
// INVALID_ARGUMENT naming the field; rules across fields and against the store are service-validation.ts's.
import {
  FAILURE_ACTIONS,
  PUBLISH_MODES,
  RESTART_CONDITIONS,
  UPDATE_ORDERS,
  defaultRestartPolicy,
  defaultTaskSpec,
  defaultUpdateConfig,
  type IpamConfig,
  type NetworkSpec,
  type PortConfig,
  type Resources,
  type RestartPolicy,
  type ServiceMode,
  type ServiceSpec,
  type TaskSpec,
  type UpdateConfig,
} from '../../api/objects/index.js';
import {
  invalid,
  optionalMessage,
  readBoolean,
  readChoice,
  readInteger,
  readMessageList,
  readNumber,
  readString,
  readStringList,
  readStringMap,
  type WireObject,
} from './wire-reader.js';

/** The store's bound on replicas (tables-services.ts). */
export const MAX_REPLICAS = 1_000_000;

function ipamFromWire(m: WireObject, path: string): IpamConfig {
  return {
    subnet: readString(m.subnet, `${path}.subnet`),
    gateway: readString(m.gateway, `${path}.gateway`),
    ipRange: readString(m.ipRange, `${path}.ipRange`),
  };
}

export function networkSpecFromWire(v: unknown): NetworkSpec {
  const m = optionalMessage(v, 'spec');
  if (!m) throw invalid('a network spec is required');
  return {
    name: readString(m.name, 'name'),
    driver: readString(m.driver, 'driver', 'overlay') as NetworkSpec['driver'],
    ipam: readMessageList(m.ipam, 'ipam', ipamFromWire),
    attachable: readBoolean(m.attachable, 'attachable'),
    internal: readBoolean(m.internal, 'internal'),
    ingress: readBoolean(m.ingress, 'ingress'),
    options: readStringMap(m.options, 'options'),
    labels: readStringMap(m.labels, 'labels'),
  };
}

function resourcesFromWire(v: unknown, path: string): Resources {
  const m = optionalMessage(v, path) ?? {};
  return {
    nanoCpus: readInteger(m.nanoCpus, `${path}.nanoCpus`, 0),
    memoryBytes: readInteger(m.memoryBytes, `${path}.memoryBytes`, 0),
  };
}

function restartPolicyFromWire(v: unknown, path: string): RestartPolicy {
  const m = optionalMessage(v, path);
  const d = defaultRestartPolicy();
  if (!m) return d;
  return {
    condition: readChoice(m.condition, `${path}.condition`, RESTART_CONDITIONS, d.condition),
    delayMs: readInteger(m.delayMs, `${path}.delayMs`, d.delayMs),
    maxAttempts: readInteger(m.maxAttempts, `${path}.maxAttempts`, d.maxAttempts),
    windowMs: readInteger(m.windowMs, `${path}.windowMs`, d.windowMs),
  };
}

function updateConfigFromWire(v: unknown, path: string): UpdateConfig {
  const m = optionalMessage(v, path);
  const d = defaultUpdateConfig();
  if (!m) return d;
  return {
    parallelism: readInteger(m.parallelism, `${path}.parallelism`, d.parallelism),
    delayMs: readInteger(m.delayMs, `${path}.delayMs`, d.delayMs),
    order: readChoice(m.order, `${path}.order`, UPDATE_ORDERS, d.order),
    failureAction: readChoice(m.failureAction, `${path}.failureAction`, FAILURE_ACTIONS, d.failureAction),
    monitorMs: readInteger(m.monitorMs, `${path}.monitorMs`, d.monitorMs),
    maxFailureRatio: readNumber(m.maxFailureRatio, `${path}.maxFailureRatio`, d.maxFailureRatio, 0, 1),
  };
}

function taskSpecFromWire(v: unknown): TaskSpec {
  const m = optionalMessage(v, 'task') ?? {};
  const d = defaultTaskSpec('');
  const dns = optionalMessage(m.dns, 'task.dns') ?? {};
  const resources = optionalMessage(m.resources, 'task.resources') ?? {};
  const placement = optionalMessage(m.placement, 'task.placement') ?? {};
  return {
    image: readString(m.image, 'task.image'),
    command: readStringList(m.command, 'task.command'),
    args: readStringList(m.args, 'task.args'),
    env: readStringList(m.env, 'task.env'),
    workdir: readString(m.workdir, 'task.workdir'),
    user: readString(m.user, 'task.user'),
    hostname: readString(m.hostname, 'task.hostname'),
    dns: {
      nameservers: readStringList(dns.nameservers, 'task.dns.nameservers'),
      search: readStringList(dns.search, 'task.dns.search'),
      options: readStringList(dns.options, 'task.dns.options'),
    },
    resources: {
      limits: resourcesFromWire(resources.limits, 'task.resources.limits'),
      reservations: resourcesFromWire(resources.reservations, 'task.resources.reservations'),
    },
    restartPolicy: restartPolicyFromWire(m.restartPolicy, 'task.restartPolicy'),
    placement: { constraints: readStringList(placement.constraints, 'task.placement.constraints') },
    networks: readMessageList(m.networks, 'task.networks', (n, path) => ({
      target: readString(n.target, `${path}.target`),
      aliases: readStringList(n.aliases, `${path}.aliases`),
    })),
    // 0 is what an unset int64 decodes to, and no one means "kill at once": Docker's 10 s.
    stopGracePeriodMs: readInteger(m.stopGracePeriodMs, 'task.stopGracePeriodMs', 0) || d.stopGracePeriodMs,
    forceUpdate: readInteger(m.forceUpdate, 'task.forceUpdate', 0),
  };
}

function portFromWire(m: WireObject, path: string): PortConfig {
  // Range is validatePortSpecs's (1 s .. 24 days); here only the shape.
  const idle = readInteger(m.idleTimeoutSeconds, `${path}.idleTimeoutSeconds`, 0);
  return {
    protocol: readChoice(m.protocol, `${path}.protocol`, ['tcp', 'udp'] as const, 'tcp'),
    // Ranges are validatePortSpecs's, whose messages name the port.
    targetPort: readInteger(m.targetPort, `${path}.targetPort`, 0),
    publishedPort: readInteger(m.publishedPort, `${path}.publishedPort`, 0),
    publishMode: readChoice(m.publishMode, `${path}.publishMode`, PUBLISH_MODES, 'ingress'),
    // proto3 sends false and 0 for unset: the store keeps only options actually asked for, so specs
    // without them stay as they were (and compare equal to older ones).
    ...(readBoolean(m.preserveClientAddress, `${path}.preserveClientAddress`)
      ? { preserveClientAddress: true }
      : {}),
    ...(idle ? { idleTimeoutSeconds: idle } : {}),
  };
}

/**
 * The oneof: `replicated: {replicas}` or `global: {}` (the wire form; the store's `mode: {replicated}`
 * object is accepted too, for in-process callers). Neither: Docker's default, one replica.
 */
function modeFromWire(m: WireObject): ServiceMode {
  const storeShape = optionalMessage(typeof m.mode === 'string' ? undefined : m.mode, 'mode') ?? {};
  const replicated = optionalMessage(m.replicated ?? storeShape.replicated, 'replicated');
  const global = optionalMessage(m.global ?? storeShape.global, 'global');
  if (replicated && global) throw invalid('a service is either replicated or global, not both');
  if (global) return { global: {} };
  const replicas = readInteger(replicated?.replicas, 'replicated.replicas', 1, 0, MAX_REPLICAS);
  return { replicated: { replicas } };
}

export function serviceSpecFromWire(v: unknown): ServiceSpec {
  const m = optionalMessage(v, 'spec');
  if (!m) throw invalid('a service spec is required');
  const endpoint = optionalMessage(m.endpoint, 'endpoint') ?? {};
  return {
    name: readString(m.name, 'name'),
    labels: readStringMap(m.labels, 'labels'),
    task: taskSpecFromWire(m.task),
    mode: modeFromWire(m),
    update: updateConfigFromWire(m.update, 'update'),
    rollback: updateConfigFromWire(m.rollback, 'rollback'),
    endpoint: {
      mode: readChoice(endpoint.mode, 'endpoint.mode', ['vip', 'dnsrr'] as const, 'vip'),
      ports: readMessageList(endpoint.ports, 'endpoint.ports', portFromWire),
    },
  };
}
