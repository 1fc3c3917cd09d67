// Services, tasks, networks and nodes as the CLI receives them: the generated wire types (api/gen,
// proto-loader's decoding of proto/objects.proto: camelCase, longs as numbers, enums as strings,
// absent messages null). The daemon always sets the messages an object cannot do without (a service's
// spec, a task's status, ...): `*View` says so in the type, and the `*View` functions check it on
// receipt, so a null one is one clear error instead of a crash deep inside a renderer.
import { UserError } from '../lib/errors.js';
import type { ServiceListEntry__Output } from '../api/gen/swarmlite/control/v1/ServiceListEntry.js';
import type { PortConfig__Output } from '../api/gen/swarmlite/objects/v1/PortConfig.js';
import type { Network__Output } from '../api/gen/swarmlite/objects/v1/Network.js';
import type { Node__Output } from '../api/gen/swarmlite/objects/v1/Node.js';
import type { Service__Output } from '../api/gen/swarmlite/objects/v1/Service.js';
import type { ServiceSpec__Output } from '../api/gen/swarmlite/objects/v1/ServiceSpec.js';
import type { Task__Output } from '../api/gen/swarmlite/objects/v1/Task.js';

export type { UpdateConfig__Output as UpdateConfig } from '../api/gen/swarmlite/objects/v1/UpdateConfig.js';
export type { UpdateStatus__Output as UpdateStatus } from '../api/gen/swarmlite/objects/v1/UpdateStatus.js';

/**
 * `T` with every nested message present. Optional members (a oneof's, proto3 `optional` fields) keep
 * their type: the oneof member not chosen is absent on the wire, null as the CLI builds a spec.
 */
export type Filled<T> = T extends readonly (infer U)[]
  ? Filled<U>[]
  : T extends object
    ? { [K in keyof T]: undefined extends T[K] ? T[K] : Filled<NonNullable<T[K]>> }
    : T;

/** `T` with the messages `K` present (the others as decoded: null where unset). */
type Present<T, K extends keyof T> = Omit<T, K> & { [P in K]: Filled<NonNullable<T[P]>> };

export type ServiceSpecView = Filled<ServiceSpec__Output>;
export type ServiceView = Present<Service__Output, 'meta' | 'spec'> & {
  previousSpec: ServiceSpecView | null;
};
export type TaskView = Present<Task__Output, 'meta' | 'spec' | 'status'>;
export type NetworkView = Present<Network__Output, 'meta' | 'spec'>;
/** A node; `managerStatus` stays null on workers. */
export type NodeView = Present<Node__Output, 'meta' | 'spec' | 'status' | 'description'>;
export type PortConfig = PortConfig__Output;
type MeshOptions = 'preserveClientAddress' | 'idleTimeoutSeconds';
/** A port as the flags give it: the mesh options only where set (the wire carries unset as false, 0). */
export type PortDraft = Omit<PortConfig, MeshOptions> & Partial<Pick<PortConfig, MeshOptions>>;
type ContainerFields =
  'capAdd' | 'capDrop' | 'readOnly' | 'noNewPrivileges' | 'seccomp' | 'mounts' | 'stopSignal';
/** A task as the flags give it: Docker's container options only where set (the wire carries unset as '', false, []). */
export type TaskDraft = Omit<ServiceSpecView['task'], ContainerFields> &
  Partial<Pick<ServiceSpecView['task'], ContainerFields>>;
/** A spec as the CLI builds and edits it (from flags, or read back): sent as the request's spec. */
export type ServiceSpecDraft = Omit<ServiceSpecView, 'endpoint' | 'task'> & {
  task: TaskDraft;
  endpoint: Omit<ServiceSpecView['endpoint'], 'ports'> & { ports: PortDraft[] };
};

/** Just what `service ps` and the progress display need of a node: its id and hostname. */
export type NodeName = Pick<NodeView, 'id'> & { description: Pick<NodeView['description'], 'hostname'> };
export type ServiceListEntryView = Omit<ServiceListEntry__Output, 'service'> & { service: ServiceView };

/** Whether no message inside `value` is null (optional members, absent when unset, are skipped). */
function isFilled<T>(value: T): value is T & Filled<T> {
  if (value === null) return false;
  if (typeof value !== 'object' || Buffer.isBuffer(value)) return true;
  return Object.values(value).every((v) => isFilled(v));
}

const incomplete = (what: string, id: string) =>
  new UserError(
    what.startsWith('no ')
      ? `the daemon sent ${what}: is it the same version?`
      : `the daemon sent ${what} ${id || '(no id)'} with a part missing: is it the same version?`,
  );

export function serviceView(s: Service__Output | null): ServiceView {
  if (!s) throw incomplete('no service', '');
  const { meta, spec, previousSpec } = s;
  if (!meta || !spec || !isFilled(spec) || (previousSpec && !isFilled(previousSpec)))
    throw incomplete('service', s.id);
  return { ...s, meta, spec, previousSpec };
}

export function taskView(t: Task__Output): TaskView {
  const { meta, spec, status } = t;
  if (!meta || !spec || !status || !isFilled(spec)) throw incomplete('task', t.id);
  return { ...t, meta, spec, status };
}

export function networkView(n: Network__Output | null): NetworkView {
  if (!n) throw incomplete('no network', '');
  const { meta, spec } = n;
  if (!meta || !spec || !isFilled(spec)) throw incomplete('network', n.id);
  return { ...n, meta, spec };
}

export function nodeView(n: Node__Output | null): NodeView {
  if (!n) throw incomplete('no node', '');
  const { meta, spec, status, description } = n;
  if (!meta || !spec || !status || !description) throw incomplete('node', n.id);
  return { ...n, meta, spec, status, description };
}

/** A node's id and hostname, where that is all a command needs of it. */
export function nodeName(n: Node__Output): NodeName {
  if (!n.description) throw incomplete('node', n.id);
  return { id: n.id, description: { hostname: n.description.hostname } };
}

export function serviceListEntryView(e: ServiceListEntry__Output): ServiceListEntryView {
  return { ...e, service: serviceView(e.service) };
}

export function isGlobal(spec: Pick<ServiceSpec__Output, 'global' | 'mode'>): boolean {
  return spec.mode ? spec.mode === 'global' : spec.global != null;
}

export function replicasOf(spec: Pick<ServiceSpec__Output, 'replicated'>): number {
  return spec.replicated?.replicas ?? 0;
}

/** Docker prints 12 characters of an id unless told --no-trunc. */
export const shortId = (id: string) => id.slice(0, 12);
