// Networks, services and tasks: SwarmKit's model (DESIGN.md §3). A service's spec is what the user
// asked for; the orchestrators turn it into tasks, one per slot (replicated) or per node (global); the
// allocator gives networks subnets and VNIs, services VIPs and published ports, tasks addresses; the
// scheduler picks each task's node; the worker reports each task's observed state.
import type { StoreObject } from './objects.js';

// --------------------------------------------------------------------------------------- Network

export interface IpamConfig {
  subnet: string; // CIDR
  gateway: string; // IPv4; '' = the subnet's first address
  ipRange: string; // CIDR inside the subnet that task addresses come from; '' = the whole subnet
}

export interface NetworkSpec {
  name: string;
  driver: 'overlay';
  /** User-requested subnets; empty: one is carved from the cluster's default address pool. */
  ipam: IpamConfig[];
  attachable: boolean;
  internal: boolean;
  /** The routing mesh's network (10.255.0.0/16, VNI 4096), made at init. */
  ingress: boolean;
  /** Driver options, e.g. { mtu: '1400' }. */
  options: Record<string, string>;
  labels: Record<string, string>;
}

export interface Network extends StoreObject {
  spec: NetworkSpec;
  /** Filled by the allocator: the subnets actually in use, and the VXLAN id. */
  ipam: IpamConfig[];
  vni: number;
}

// --------------------------------------------------------------------------------------- Service

export const RESTART_CONDITIONS = ['none', 'on-failure', 'any'] as const;
export type RestartCondition = (typeof RESTART_CONDITIONS)[number];

export const FAILURE_ACTIONS = ['pause', 'continue', 'rollback'] as const;
export type FailureAction = (typeof FAILURE_ACTIONS)[number];

export const UPDATE_ORDERS = ['stop-first', 'start-first'] as const;
export type UpdateOrder = (typeof UPDATE_ORDERS)[number];

export interface Resources {
  nanoCpus: number;
  memoryBytes: number;
}

export interface RestartPolicy {
  condition: RestartCondition;
  delayMs: number;
  /** 0 = unlimited. */
  maxAttempts: number;
  /** Window in which attempts are counted; 0 = forever. */
  windowMs: number;
}

export interface UpdateConfig {
  /** Tasks updated at once; 0 = all at once. */
  parallelism: number;
  delayMs: number;
  order: UpdateOrder;
  failureAction: FailureAction;
  /** How long after a task's update its failure still counts against the update. */
  monitorMs: number;
  /** Fraction of updated tasks allowed to fail before failureAction applies. */
  maxFailureRatio: number;
}

export interface NetworkAttachmentConfig {
  target: string; // network id
  aliases: string[];
}

export interface TaskSpec {
  /** 'host' (the built-in image) or an OCI image reference. */
  image: string;
  command: string[];
  args: string[];
  env: string[]; // KEY=VALUE
  workdir: string;
  user: string;
  /** May hold templates: {{.Node.Hostname}} {{.Node.ID}} {{.Service.Name}} {{.Task.Slot}} {{.Task.Name}}. */
  hostname: string;
  dns: { nameservers: string[]; search: string[]; options: string[] };
  resources: { limits: Resources; reservations: Resources };
  restartPolicy: RestartPolicy;
  placement: { constraints: string[] };
  networks: NetworkAttachmentConfig[];
  stopGracePeriodMs: number;
  /**
   * Bumped by `service update --force`: tasks made before it are outdated even though nothing else
   * changed, so the rolling update redeploys them (SwarmKit's ForceUpdate).
   */
  forceUpdate: number;
}

export const PUBLISH_MODES = ['ingress', 'host'] as const;
export type PublishMode = (typeof PUBLISH_MODES)[number];

export interface PortConfig {
  protocol: 'tcp' | 'udp';
  targetPort: number;
  /** 0 = dynamic (allocated from 30000-32767 for ingress mode). */
  publishedPort: number;
  publishMode: PublishMode;
  /**
   * Ingress mode only: the tasks see the client's own address instead of the ingress sandbox's
   * (Docker's mesh always hides it, moby#25526). Costs per-task policy routing, and replies are
   * pinned to the node that took the connection (ingress/README.md). Absent = masquerade.
   */
  preserveClientAddress?: boolean;
  /**
   * Conntrack idle timeout of this port's connections, in seconds (1..IDLE_TIMEOUT_MAX_SECONDS).
   * Absent = the kernel's defaults. On the wire 0 / false mean absent (proto3 has no unset scalars).
   */
  idleTimeoutSeconds?: number;
}

/**
 * The longest idle timeout a port may ask for: the kernel keeps conntrack timeouts in jiffies, a
 * signed 32-bit count (24.8 days at HZ 1000), so 24 days. ingress/model.ts renders up to this.
 */
export const IDLE_TIMEOUT_MAX_SECONDS = 24 * 24 * 3600;

/** Whether a port's idle timeout is one the kernel can hold: whole seconds, 1..IDLE_TIMEOUT_MAX_SECONDS. */
export function isIdleTimeout(seconds: number): boolean {
  return Number.isInteger(seconds) && seconds >= 1 && seconds <= IDLE_TIMEOUT_MAX_SECONDS;
}

export interface EndpointSpec {
  mode: 'vip' | 'dnsrr';
  ports: PortConfig[];
}

export type ServiceMode = { replicated: { replicas: number } } | { global: Record<string, never> };

export interface ServiceSpec {
  name: string;
  labels: Record<string, string>;
  task: TaskSpec;
  mode: ServiceMode;
  update: UpdateConfig;
  rollback: UpdateConfig;
  endpoint: EndpointSpec;
}

export interface VirtualIp {
  networkId: string;
  addr: string; // CIDR, e.g. 10.0.1.2/24
}

export interface UpdateStatus {
  state: 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';
  startedAt: string;
  completedAt: string;
  message: string;
}

export interface Service extends StoreObject {
  spec: ServiceSpec;
  /** The spec before the last update, for `service rollback`. */
  previousSpec?: ServiceSpec;
  /** Bumped on every spec change: tasks record the version they were made from. */
  specVersion: number;
  /** Filled by the allocator: published ports with their assigned numbers, and one VIP per network. */
  endpoint: { ports: PortConfig[]; virtualIps: VirtualIp[] };
  updateStatus?: UpdateStatus;
}

// ------------------------------------------------------------------------------------------ Task

/** Task states move forward only, in this order (SwarmKit's TaskState). */
export const TASK_STATES = [
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** The ordinal used to keep states moving forward: terminal states all rank above running. */
export function taskStateRank(state: TaskState): number {
  return TASK_STATES.indexOf(state);
}

export const isTerminalTaskState = (s: TaskState) => taskStateRank(s) > taskStateRank('running');

/**
 * A task told to stop before any node took it (scaled away while waiting for an address or a node):
 * no worker will ever report on it, so the manager records the end itself and the reaper can delete it.
 */
export function retiredBeforePlacement(task: Task, now: string): Task | undefined {
  if (taskStateRank(task.desiredState) <= taskStateRank('running')) return undefined;
  if (taskStateRank(task.status.state) >= taskStateRank('assigned')) return undefined;
  return {
    ...task,
    status: {
      ...task.status,
      state: 'shutdown',
      timestamp: now,
      message: 'shut down before it was scheduled',
      err: '',
    },
  };
}

export interface TaskStatus {
  state: TaskState;
  timestamp: string;
  message: string;
  /** Why it failed or is stuck (e.g. "no suitable node", "address pool exhausted"). */
  err: string;
  exitCode?: number;
  pid?: number;
}

export interface NetworkAttachment {
  networkId: string;
  addresses: string[]; // CIDRs
  aliases: string[];
}

export interface Task extends StoreObject {
  serviceId: string;
  /** Replicated: 1..replicas; global: 0 (the node identifies it). */
  slot: number;
  /** '' until scheduled. */
  nodeId: string;
  spec: TaskSpec;
  specVersion: number;
  serviceName: string;
  /** Written by managers: what the task should become. */
  desiredState: TaskState;
  /** Written by the worker (and the manager for pre-run states): what it is. */
  status: TaskStatus;
  networks: NetworkAttachment[];
  /** Copy of the service's allocated endpoint when the task was made (for DNS and load balancing). */
  endpoint: { ports: PortConfig[]; virtualIps: VirtualIp[] };
}
