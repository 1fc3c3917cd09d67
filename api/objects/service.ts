// A service: what the user asked for (spec), and what the allocator filled in (published ports, VIPs).
// The orchestrators turn it into tasks, one per slot (replicated) or per node (global); the scheduler
// picks each task's node; the worker reports each task's observed state (DESIGN.md §3).
import type { StoreObject } from './object.js';

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

export const MOUNT_TYPES = ['bind', 'volume', 'tmpfs'] as const;
export type MountType = (typeof MOUNT_TYPES)[number];

/** `--mount`: a host folder, a named volume local to the node (made on first use), or a tmpfs. */
export interface Mount {
  type: MountType;
  /** bind: an absolute host path; volume: the volume's name; tmpfs: ''. */
  source: string;
  target: string;
  readonly: boolean;
  /** tmpfs only: 0 = the kernel's default size. */
  tmpfsSizeBytes: number;
  /** tmpfs only: 0 = 01777. */
  tmpfsMode: number;
}

export interface TaskSpec {
  /** 'host' (the built-in image) or an OCI image reference. */
  image: string;
  /** Replaces the image's entrypoint (Docker's `--entrypoint`; SwarmKit's ContainerSpec.Command). */
  command: string[];
  /** Replaces the image's cmd (the words after the image); with `command` set, the image's cmd is unused. */
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
  // Docker's container options. Each is absent when it is Docker's default, so specs that do not use
  // them stay as they were (and compare equal to older ones); the wire carries absent as '', false, [].
  /** `--cap-add`: CAP_ names (CAP_NET_ADMIN) or ALL. */
  capAdd?: string[];
  capDrop?: string[];
  /** `--read-only`: the root filesystem cannot be written (mounts can). */
  readOnly?: boolean;
  /** `--init` / `--no-init`; absent: the node's default (only the built-in `host` image has one). */
  init?: boolean;
  /** `--security-opt no-new-privileges`. */
  noNewPrivileges?: boolean;
  /** `--security-opt seccomp=unconfined`: no syscall filter; absent: Docker's default profile. */
  seccomp?: 'unconfined';
  mounts?: Mount[];
  /** `--stop-signal` (SIGTERM form, or a number); absent: the image's STOPSIGNAL, else SIGTERM. */
  stopSignal?: string;
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
