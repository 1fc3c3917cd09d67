// Specs out of a decoded request (proto/objects.proto as proto-loader decodes it, the generated
// `__Output` types: camelCase, longs as numbers, enums as strings, every scalar present, absent
// messages null, the ServiceSpec mode oneof as `replicated`/`global` plus a `mode` naming the one set).
// Whatever the user left out gets Docker's default: an absent message is the whole default
// (api/objects/service-defaults.ts); inside a present message an empty string is the default choice,
// while numbers are taken as sent (proto3 cannot tell 0 from unset, and 0 is meaningful for
// parallelism, delays and attempts) — the CLI sends complete configs. Values the wire types cannot
// constrain (enum strings, ranges) are INVALID_ARGUMENT naming the field (wire-values.ts); rules across
// fields and against the store are service-validation.ts's.
import {
  FAILURE_ACTIONS,
  PUBLISH_MODES,
  RESTART_CONDITIONS,
  UPDATE_ORDERS,
  defaultRestartPolicy,
  defaultTaskSpec,
  defaultUpdateConfig,
  type NetworkSpec,
  type PortConfig,
  type RegistryAuth,
  type Resources,
  type RestartPolicy,
  type ServiceMode,
  type ServiceSpec,
  type TaskSpec,
  type UpdateConfig,
} from '../../api/objects/index.js';
import type { NetworkSpec__Output } from '../../api/gen/swarmlite/objects/v1/NetworkSpec.js';
import type { PortConfig__Output } from '../../api/gen/swarmlite/objects/v1/PortConfig.js';
import type { RegistryAuth__Output } from '../../api/gen/swarmlite/objects/v1/RegistryAuth.js';
import type { Resources__Output } from '../../api/gen/swarmlite/objects/v1/Resources.js';
import type { RestartPolicy__Output } from '../../api/gen/swarmlite/objects/v1/RestartPolicy.js';
import type { ServiceSpec__Output } from '../../api/gen/swarmlite/objects/v1/ServiceSpec.js';
import type { TaskSpec__Output } from '../../api/gen/swarmlite/objects/v1/TaskSpec.js';
import type { UpdateConfig__Output } from '../../api/gen/swarmlite/objects/v1/UpdateConfig.js';
import { choice, invalid, numberIn, wholeNumber } from './wire-values.js';
import { containerFieldsFromWire } from './container-wire.js';

/** The store's bound on replicas (tables-services.ts). */
export const MAX_REPLICAS = 1_000_000;

export function networkSpecFromWire(m: NetworkSpec__Output | null): NetworkSpec {
  if (!m) throw invalid('a network spec is required');
  return {
    name: m.name,
    // Checked against the drivers there are by validateNetwork.
    driver: (m.driver || 'overlay') as NetworkSpec['driver'],
    ipam: m.ipam.map((c) => ({ subnet: c.subnet, gateway: c.gateway, ipRange: c.ipRange })),
    attachable: m.attachable,
    internal: m.internal,
    ingress: m.ingress,
    options: { ...m.options },
    labels: { ...m.labels },
    ...(m.configFrom ? { configFrom: m.configFrom } : {}),
  };
}

function resourcesFromWire(m: Resources__Output | null, path: string): Resources {
  return {
    nanoCpus: wholeNumber(m?.nanoCpus ?? 0, `${path}.nanoCpus`),
    memoryBytes: wholeNumber(m?.memoryBytes ?? 0, `${path}.memoryBytes`),
  };
}

function restartPolicyFromWire(m: RestartPolicy__Output | null, path: string): RestartPolicy {
  const d = defaultRestartPolicy();
  if (!m) return d;
  return {
    condition: choice(m.condition, `${path}.condition`, RESTART_CONDITIONS, d.condition),
    delayMs: wholeNumber(m.delayMs, `${path}.delayMs`),
    maxAttempts: wholeNumber(m.maxAttempts, `${path}.maxAttempts`),
    windowMs: wholeNumber(m.windowMs, `${path}.windowMs`),
  };
}

function updateConfigFromWire(m: UpdateConfig__Output | null, path: string): UpdateConfig {
  const d = defaultUpdateConfig();
  if (!m) return d;
  return {
    parallelism: wholeNumber(m.parallelism, `${path}.parallelism`),
    delayMs: wholeNumber(m.delayMs, `${path}.delayMs`),
    order: choice(m.order, `${path}.order`, UPDATE_ORDERS, d.order),
    failureAction: choice(m.failureAction, `${path}.failureAction`, FAILURE_ACTIONS, d.failureAction),
    monitorMs: wholeNumber(m.monitorMs, `${path}.monitorMs`),
    maxFailureRatio: numberIn(m.maxFailureRatio, `${path}.maxFailureRatio`, 0, 1),
  };
}

function taskSpecFromWire(m: TaskSpec__Output | null): TaskSpec {
  const d = defaultTaskSpec('');
  if (!m) return d;
  return {
    image: m.image,
    command: [...m.command],
    args: [...m.args],
    env: [...m.env],
    workdir: m.workdir,
    user: m.user,
    hostname: m.hostname,
    dns: {
      nameservers: [...(m.dns?.nameservers ?? [])],
      search: [...(m.dns?.search ?? [])],
      options: [...(m.dns?.options ?? [])],
    },
    resources: {
      limits: resourcesFromWire(m.resources?.limits ?? null, 'task.resources.limits'),
      reservations: resourcesFromWire(m.resources?.reservations ?? null, 'task.resources.reservations'),
    },
    restartPolicy: restartPolicyFromWire(m.restartPolicy, 'task.restartPolicy'),
    placement: { constraints: [...(m.placement?.constraints ?? [])] },
    networks: m.networks.map((n) => ({ target: n.target, aliases: [...n.aliases] })),
    // 0 is what an unset int64 decodes to, and no one means "kill at once": Docker's 10 s.
    stopGracePeriodMs: wholeNumber(m.stopGracePeriodMs, 'task.stopGracePeriodMs') || d.stopGracePeriodMs,
    forceUpdate: wholeNumber(m.forceUpdate, 'task.forceUpdate'),
    ...(m.registryAuth ? { registryAuth: registryAuthFromWire(m.registryAuth) } : {}),
    ...containerFieldsFromWire(m),
  };
}

/** `--with-registry-auth` credentials: for one registry, with a user (Docker's login refuses less). */
function registryAuthFromWire(m: RegistryAuth__Output): RegistryAuth {
  if (!m.registry)
    throw invalid('task.registryAuth.registry: the registry the credentials are for is required');
  if (!m.username || m.username.includes(':'))
    throw invalid('task.registryAuth.username: a user name is required and cannot contain ":"');
  return { registry: m.registry, username: m.username, password: m.password };
}

function portFromWire(m: PortConfig__Output, path: string): PortConfig {
  // Ranges are validatePortSpecs's, whose messages name the port (uint32 fields are whole already).
  return {
    protocol: choice(m.protocol, `${path}.protocol`, ['tcp', 'udp'] as const, 'tcp'),
    targetPort: m.targetPort,
    publishedPort: m.publishedPort,
    publishMode: choice(m.publishMode, `${path}.publishMode`, PUBLISH_MODES, 'ingress'),
    // proto3 sends false and 0 for unset: the store keeps only options actually asked for, so specs
    // without them stay as they were (and compare equal to older ones).
    ...(m.preserveClientAddress ? { preserveClientAddress: true } : {}),
    ...(m.idleTimeoutSeconds ? { idleTimeoutSeconds: m.idleTimeoutSeconds } : {}),
  };
}

/** The oneof: `replicated: {replicas}` or `global: {}`. Neither: Docker's default, one replica. */
function modeFromWire(m: ServiceSpec__Output): ServiceMode {
  // A message carrying both fields decodes with both set (the last one names `mode`): refused, as
  // neither choice would be what its sender meant.
  if (m.replicated && m.global) throw invalid('a service is either replicated or global, not both');
  if (m.global) return { global: {} };
  const replicas = m.replicated ? m.replicated.replicas : 1;
  return { replicated: { replicas: wholeNumber(replicas, 'replicated.replicas', 0, MAX_REPLICAS) } };
}

export function serviceSpecFromWire(m: ServiceSpec__Output | null): ServiceSpec {
  if (!m) throw invalid('a service spec is required');
  return {
    name: m.name,
    labels: { ...m.labels },
    task: taskSpecFromWire(m.task),
    mode: modeFromWire(m),
    update: updateConfigFromWire(m.update, 'update'),
    rollback: updateConfigFromWire(m.rollback, 'rollback'),
    endpoint: {
      mode: choice(m.endpoint?.mode ?? '', 'endpoint.mode', ['vip', 'dnsrr'] as const, 'vip'),
      ports: (m.endpoint?.ports ?? []).map((p, i) => portFromWire(p, `endpoint.ports[${i}]`)),
    },
  };
}
