// Service specs out of `service create` and `service update` flags: pure functions from parsed
// options (and, for update, the spec read back) to the spec sent. Create starts from Docker's defaults
// (api/objects/service-defaults.ts) and always sends a complete spec, as the control API expects.
import { FAILURE_ACTIONS, RESTART_CONDITIONS, UPDATE_ORDERS } from '../api/objects/index.js';
import { defaultRollbackConfig, defaultTaskSpec, defaultUpdateConfig } from '../api/objects/index.js';
import { UserError } from '../lib/errors.js';
import {
  checkConstraints,
  envKey,
  parseBytes,
  parseChoice,
  parseCount,
  parseCpus,
  parseDurationFlag,
  parseEnv,
  parseLabels,
  parseMode,
  parseNetworkAttachment,
  parsePublish,
  parseRatio,
  splitWords,
} from './service-flags.js';
import { isGlobal, type ServiceSpecDraft, type TaskDraft, type UpdateConfig } from './objects.js';
import {
  applyContainerCreate,
  applyContainerUpdate,
  type ContainerCreateFlags,
  type ContainerUpdateFlags,
} from './container-flags.js';

/** Flags `create` and `update` share: each sets one field when given. */
export interface SharedSpecOptions {
  replicas?: string;
  workdir?: string;
  user?: string;
  hostname?: string;
  limitMemory?: string;
  reserveMemory?: string;
  limitCpu?: string;
  reserveCpu?: string;
  restartCondition?: string;
  restartDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  updateParallelism?: string;
  updateDelay?: string;
  updateOrder?: string;
  updateFailureAction?: string;
  updateMonitor?: string;
  updateMaxFailureRatio?: string;
  rollbackParallelism?: string;
  rollbackDelay?: string;
  rollbackOrder?: string;
  rollbackFailureAction?: string;
  rollbackMonitor?: string;
  rollbackMaxFailureRatio?: string;
  endpointMode?: string;
  stopGracePeriod?: string;
}

export interface CreateOptions extends SharedSpecOptions, ContainerCreateFlags {
  name?: string;
  mode?: string;
  publish?: string[];
  network?: string[];
  env?: string[];
  constraint?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  label?: string[];
}

export interface UpdateOptions extends SharedSpecOptions, ContainerUpdateFlags {
  image?: string;
  args?: string;
  envAdd?: string[];
  envRm?: string[];
  publishAdd?: string[];
  publishRm?: string[];
  constraintAdd?: string[];
  constraintRm?: string[];
  networkAdd?: string[];
  networkRm?: string[];
  labelAdd?: string[];
  labelRm?: string[];
}

function applyUpdateConfig(
  prefix: 'update' | 'rollback',
  config: UpdateConfig,
  o: {
    parallelism?: string;
    delay?: string;
    order?: string;
    failureAction?: string;
    monitor?: string;
    maxFailureRatio?: string;
  },
): UpdateConfig {
  const c = { ...config };
  if (o.parallelism !== undefined) c.parallelism = parseCount(`--${prefix}-parallelism`, o.parallelism);
  if (o.delay !== undefined) c.delayMs = parseDurationFlag(`--${prefix}-delay`, o.delay);
  if (o.order !== undefined) c.order = parseChoice(`--${prefix}-order`, o.order, UPDATE_ORDERS);
  if (o.failureAction !== undefined) {
    // A rollback that fails cannot itself roll back: Docker offers pause or continue there.
    const choices = prefix === 'update' ? FAILURE_ACTIONS : (['pause', 'continue'] as const);
    c.failureAction = parseChoice(`--${prefix}-failure-action`, o.failureAction, choices);
  }
  if (o.monitor !== undefined) c.monitorMs = parseDurationFlag(`--${prefix}-monitor`, o.monitor);
  if (o.maxFailureRatio !== undefined)
    c.maxFailureRatio = parseRatio(`--${prefix}-max-failure-ratio`, o.maxFailureRatio);
  return c;
}

/** Applies the shared flags to a copy of `spec` (replicas excepted: create and update differ there). */
export function applySharedOptions(spec: ServiceSpecDraft, o: SharedSpecOptions): ServiceSpecDraft {
  const s = structuredClone(spec);
  const t = s.task;
  if (o.workdir !== undefined) t.workdir = o.workdir;
  if (o.user !== undefined) t.user = o.user;
  // Templates such as {{.Node.Hostname}} are the worker's to expand: passed through unchanged.
  if (o.hostname !== undefined) t.hostname = o.hostname;
  const res = t.resources;
  if (o.limitMemory !== undefined) res.limits.memoryBytes = parseBytes('--limit-memory', o.limitMemory);
  if (o.reserveMemory !== undefined)
    res.reservations.memoryBytes = parseBytes('--reserve-memory', o.reserveMemory);
  if (o.limitCpu !== undefined) res.limits.nanoCpus = parseCpus('--limit-cpu', o.limitCpu);
  if (o.reserveCpu !== undefined) res.reservations.nanoCpus = parseCpus('--reserve-cpu', o.reserveCpu);
  const rp = t.restartPolicy;
  if (o.restartCondition !== undefined)
    rp.condition = parseChoice('--restart-condition', o.restartCondition, RESTART_CONDITIONS);
  if (o.restartDelay !== undefined) rp.delayMs = parseDurationFlag('--restart-delay', o.restartDelay);
  if (o.restartMaxAttempts !== undefined)
    rp.maxAttempts = parseCount('--restart-max-attempts', o.restartMaxAttempts);
  if (o.restartWindow !== undefined) rp.windowMs = parseDurationFlag('--restart-window', o.restartWindow);
  if (o.stopGracePeriod !== undefined)
    t.stopGracePeriodMs = parseDurationFlag('--stop-grace-period', o.stopGracePeriod);
  s.update = applyUpdateConfig('update', s.update, {
    parallelism: o.updateParallelism,
    delay: o.updateDelay,
    order: o.updateOrder,
    failureAction: o.updateFailureAction,
    monitor: o.updateMonitor,
    maxFailureRatio: o.updateMaxFailureRatio,
  });
  s.rollback = applyUpdateConfig('rollback', s.rollback, {
    parallelism: o.rollbackParallelism,
    delay: o.rollbackDelay,
    order: o.rollbackOrder,
    failureAction: o.rollbackFailureAction,
    monitor: o.rollbackMonitor,
    maxFailureRatio: o.rollbackMaxFailureRatio,
  });
  if (o.endpointMode !== undefined)
    s.endpoint.mode = parseChoice('--endpoint-mode', o.endpointMode, ['vip', 'dnsrr'] as const);
  return s;
}

function checkEndpoint(s: ServiceSpecDraft): ServiceSpecDraft {
  // Docker: the routing mesh needs a VIP; dnsrr services publish in host mode only.
  if (s.endpoint.mode === 'dnsrr' && s.endpoint.ports.some((p) => p.publishMode === 'ingress'))
    throw new UserError('port published with ingress mode cannot be used with dnsrr endpoint mode', 2);
  return s;
}

/** `service create [flags] IMAGE [COMMAND] [ARG...]`. */
export function buildCreateSpec(
  image: string,
  command: string[],
  o: CreateOptions,
  env: NodeJS.ProcessEnv = process.env,
): ServiceSpecDraft {
  if (!image) throw new UserError('an image is required', 2);
  // As Docker's: the words after the image are the args (the image's cmd replaced), --entrypoint
  // the command (its entrypoint replaced).
  const task: TaskDraft = { ...defaultTaskSpec(image), args: command };
  task.env = (o.env ?? []).map((e) => parseEnv(e, env));
  task.placement.constraints = checkConstraints('--constraint', o.constraint ?? []);
  task.networks = (o.network ?? []).map((n) => parseNetworkAttachment('--network', n));
  task.dns = { nameservers: o.dns ?? [], search: o.dnsSearch ?? [], options: o.dnsOption ?? [] };
  const base: ServiceSpecDraft = {
    name: o.name ?? '',
    labels: parseLabels('--label', o.label),
    task: applyContainerCreate(task, o),
    ...parseMode(o.mode, o.replicas),
    update: defaultUpdateConfig(),
    rollback: defaultRollbackConfig(),
    endpoint: { mode: 'vip', ports: (o.publish ?? []).map((p) => parsePublish(p)) },
  };
  if (o.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(o.name))
    throw new UserError(`invalid --name '${o.name}': use letters, digits, '_', '.' and '-'`, 2);
  return checkEndpoint(applySharedOptions(base, o));
}

const samePort = (a: { targetPort: number; protocol: string }, b: { targetPort: number; protocol: string }) =>
  a.targetPort === b.targetPort && a.protocol === b.protocol;

/** `service update`: the flags applied to the spec read back; removals first, then additions. */
export function applyUpdateOptions(
  spec: ServiceSpecDraft,
  o: UpdateOptions,
  env: NodeJS.ProcessEnv = process.env,
): ServiceSpecDraft {
  const s = applySharedOptions(spec, o);
  const t = s.task;
  if (o.image !== undefined) {
    if (!o.image) throw new UserError('--image cannot be empty', 2);
    t.image = o.image;
  }
  // Docker's --args replaces what followed the image at create (the entrypoint stays).
  if (o.args !== undefined) t.args = splitWords('--args', o.args);
  if (o.replicas !== undefined) {
    if (isGlobal(s)) throw new UserError('--replicas can only be used with replicated mode', 2);
    s.replicated = { replicas: parseCount('--replicas', o.replicas) };
  }
  if (o.envRm || o.envAdd) {
    const added = (o.envAdd ?? []).map((e) => parseEnv(e, env));
    const dropped = new Set([...(o.envRm ?? []), ...added.map(envKey)]);
    t.env = [...t.env.filter((e) => !dropped.has(envKey(e))), ...added];
  }
  if (o.constraintRm || o.constraintAdd) {
    const added = checkConstraints('--constraint-add', o.constraintAdd ?? []);
    const dropped = new Set([...(o.constraintRm ?? []).map((c) => c.trim()), ...added]);
    t.placement.constraints = [...t.placement.constraints.filter((c) => !dropped.has(c.trim())), ...added];
  }
  if (o.networkRm || o.networkAdd) {
    const added = (o.networkAdd ?? []).map((n) => parseNetworkAttachment('--network-add', n));
    const dropped = new Set([...(o.networkRm ?? []), ...added.map((n) => n.target)]);
    t.networks = [...t.networks.filter((n) => !dropped.has(n.target)), ...added];
  }
  if (o.publishRm || o.publishAdd) {
    // `--publish-rm 80`, `80/udp` or any --publish form: removed by target port and protocol.
    const removed = (o.publishRm ?? []).map((p) => parsePublish(p, '--publish-rm'));
    const added = (o.publishAdd ?? []).map((p) => parsePublish(p, '--publish-add'));
    const kept = s.endpoint.ports.filter((p) => ![...removed, ...added].some((r) => samePort(p, r)));
    s.endpoint.ports = [...kept, ...added];
  }
  if (o.labelRm || o.labelAdd) {
    const labels = { ...s.labels };
    for (const key of o.labelRm ?? []) delete labels[key];
    Object.assign(labels, parseLabels('--label-add', o.labelAdd));
    s.labels = labels;
  }
  s.task = applyContainerUpdate(s.task, o);
  return checkEndpoint(s);
}

/**
 * Checks every update flag's value before the daemon is asked for the spec, so a typo is a usage
 * error even when no daemon is reachable: the flags are applied to a stand-in default spec.
 */
export function checkUpdateOptions(o: UpdateOptions, env: NodeJS.ProcessEnv = process.env): void {
  applyUpdateOptions(buildCreateSpec('stand-in', [], {}, env), o, env);
}
