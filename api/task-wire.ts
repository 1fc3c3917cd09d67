// Tasks and networks out of their wire form (proto/objects.proto as proto-loader decodes it, the
// generated `__Output` types), for the worker: the dispatcher sends them as the store has them, and
// the agent runs them as store objects. Nothing is defaulted here, unlike the control API's
// specs-from-wire (a user's request may leave things out; a store object never does): a message that
// lacks a part every store object has, or carries an enum string outside its set, is refused whole
// with a WireError naming the field, so its receiver can drop it instead of running half a task.
import type { Endpoint__Output } from './gen/swarmlite/objects/v1/Endpoint.js';
import type { Meta__Output } from './gen/swarmlite/objects/v1/Meta.js';
import type { Network__Output as WireNetwork } from './gen/swarmlite/objects/v1/Network.js';
import type { PortConfig__Output } from './gen/swarmlite/objects/v1/PortConfig.js';
import type { TaskSpec__Output } from './gen/swarmlite/objects/v1/TaskSpec.js';
import type { TaskStatus__Output } from './gen/swarmlite/objects/v1/TaskStatus.js';
import type { Task__Output as WireTask } from './gen/swarmlite/objects/v1/Task.js';
import { nonEmpty, oneOf, required, WireError } from './wire-checks.js';
import {
  MOUNT_TYPES,
  SWARM_NETWORK_DRIVERS,
  PUBLISH_MODES,
  RESTART_CONDITIONS,
  TASK_STATES,
  type Meta,
  type Mount,
  type Network,
  type PortConfig,
  type Task,
  type TaskSpec,
  type TaskStatus,
} from './objects/index.js';

export type { WireNetwork, WireTask };
export { WireError };

const metaFromWire = (m: Meta__Output | null, path: string): Meta => {
  const meta = required(m, path);
  return { version: meta.version, createdAt: meta.createdAt, updatedAt: meta.updatedAt };
};

/** proto3 sends false and 0 for a port's unset mesh options; the store leaves them out. */
function portFromWire(m: PortConfig__Output, path: string): PortConfig {
  return {
    protocol: oneOf(m.protocol, `${path}.protocol`, ['tcp', 'udp'] as const),
    targetPort: m.targetPort,
    publishedPort: m.publishedPort,
    publishMode: oneOf(m.publishMode, `${path}.publishMode`, PUBLISH_MODES),
    ...(m.preserveClientAddress ? { preserveClientAddress: true } : {}),
    ...(m.idleTimeoutSeconds ? { idleTimeoutSeconds: m.idleTimeoutSeconds } : {}),
  };
}

function endpointFromWire(m: Endpoint__Output | null, path: string): Task['endpoint'] {
  const e = required(m, path);
  return {
    ports: e.ports.map((p, i) => portFromWire(p, `${path}.ports[${i}]`)),
    virtualIps: e.virtualIps.map((v) => ({ networkId: v.networkId, addr: v.addr })),
  };
}

function taskSpecFromWire(m: TaskSpec__Output | null, path: string): TaskSpec {
  const spec = required(m, path);
  const dns = required(spec.dns, `${path}.dns`);
  const resources = required(spec.resources, `${path}.resources`);
  const limits = required(resources.limits, `${path}.resources.limits`);
  const reservations = required(resources.reservations, `${path}.resources.reservations`);
  const restart = required(spec.restartPolicy, `${path}.restartPolicy`);
  const placement = required(spec.placement, `${path}.placement`);
  return {
    image: spec.image,
    command: [...spec.command],
    args: [...spec.args],
    env: [...spec.env],
    workdir: spec.workdir,
    user: spec.user,
    hostname: spec.hostname,
    dns: { nameservers: [...dns.nameservers], search: [...dns.search], options: [...dns.options] },
    resources: {
      limits: { nanoCpus: limits.nanoCpus, memoryBytes: limits.memoryBytes },
      reservations: { nanoCpus: reservations.nanoCpus, memoryBytes: reservations.memoryBytes },
    },
    restartPolicy: {
      condition: oneOf(restart.condition, `${path}.restartPolicy.condition`, RESTART_CONDITIONS),
      delayMs: restart.delayMs,
      maxAttempts: restart.maxAttempts,
      windowMs: restart.windowMs,
    },
    placement: { constraints: [...placement.constraints] },
    networks: spec.networks.map((n) => ({ target: n.target, aliases: [...n.aliases] })),
    stopGracePeriodMs: spec.stopGracePeriodMs,
    forceUpdate: spec.forceUpdate,
    ...(spec.registryAuth
      ? {
          registryAuth: {
            registry: nonEmpty(spec.registryAuth.registry, `${path}.registryAuth.registry`),
            username: spec.registryAuth.username,
            password: spec.registryAuth.password,
          },
        }
      : {}),
    ...containerFieldsFromWire(spec, path),
  };
}

/** The container options as the store has them: absent when the wire carries the default ('', false, []). */
function containerFieldsFromWire(spec: TaskSpec__Output, path: string): Partial<TaskSpec> {
  const mounts = spec.mounts.map((m, i): Mount => ({
    type: oneOf(m.type, `${path}.mounts[${i}].type`, MOUNT_TYPES),
    source: m.source,
    target: m.target,
    readonly: m.readonly,
    tmpfsSizeBytes: m.tmpfsSizeBytes,
    tmpfsMode: m.tmpfsMode,
  }));
  return {
    ...(spec.capAdd.length ? { capAdd: [...spec.capAdd] } : {}),
    ...(spec.capDrop.length ? { capDrop: [...spec.capDrop] } : {}),
    ...(spec.readOnly ? { readOnly: true } : {}),
    ...(spec.init !== undefined ? { init: spec.init } : {}),
    ...(spec.noNewPrivileges ? { noNewPrivileges: true } : {}),
    ...(spec.seccomp ? { seccomp: oneOf(spec.seccomp, `${path}.seccomp`, ['unconfined'] as const) } : {}),
    ...(mounts.length ? { mounts } : {}),
    ...(spec.stopSignal ? { stopSignal: spec.stopSignal } : {}),
  };
}

/** A status; proto3 `optional` fields (exit code, pid) are present only when they were sent. */
function taskStatusFromWire(m: TaskStatus__Output | null, path: string): TaskStatus {
  const s = required(m, path);
  return {
    state: oneOf(s.state, `${path}.state`, TASK_STATES),
    timestamp: s.timestamp,
    message: s.message,
    err: s.err,
    ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
    ...(s.pid !== undefined ? { pid: s.pid } : {}),
  };
}

export function taskFromWire(m: WireTask, path = 'task'): Task {
  return {
    id: nonEmpty(m.id, `${path}.id`),
    meta: metaFromWire(m.meta, `${path}.meta`),
    serviceId: m.serviceId,
    slot: m.slot,
    nodeId: m.nodeId,
    spec: taskSpecFromWire(m.spec, `${path}.spec`),
    specVersion: m.specVersion,
    serviceName: m.serviceName,
    desiredState: oneOf(m.desiredState, `${path}.desiredState`, TASK_STATES),
    status: taskStatusFromWire(m.status, `${path}.status`),
    networks: m.networks.map((n) => ({
      networkId: n.networkId,
      addresses: [...n.addresses],
      aliases: [...n.aliases],
    })),
    endpoint: endpointFromWire(m.endpoint, `${path}.endpoint`),
  };
}

export function networkFromWire(m: WireNetwork, path = 'network'): Network {
  const spec = required(m.spec, `${path}.spec`);
  const ipam = (c: { subnet: string; gateway: string; ipRange: string }) => ({
    subnet: c.subnet,
    gateway: c.gateway,
    ipRange: c.ipRange,
  });
  return {
    id: nonEmpty(m.id, `${path}.id`),
    meta: metaFromWire(m.meta, `${path}.meta`),
    spec: {
      name: spec.name,
      driver: oneOf(spec.driver, `${path}.spec.driver`, SWARM_NETWORK_DRIVERS),
      ipam: spec.ipam.map(ipam),
      attachable: spec.attachable,
      internal: spec.internal,
      ingress: spec.ingress,
      options: { ...spec.options },
      labels: { ...spec.labels },
      ...(spec.configFrom ? { configFrom: spec.configFrom } : {}),
    },
    ipam: m.ipam.map(ipam),
    vni: m.vni,
  };
}
