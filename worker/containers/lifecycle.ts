// A standalone container's record and the pure rules of its life: created → running → exited (and
// restarting between two runs under a restart policy), what each event does to the record's state,
// and which user actions a state refuses. The shell (engine.ts) applies these around the runtime's
// calls and persists the result (store.ts).
import type { NetworkSettings } from './network.js';
import type { PortRequest } from './ports.js';
import type { RestartPolicy } from './restart-policy.js';

export const CONTAINER_STATUSES = ['created', 'running', 'restarting', 'exited', 'removing'] as const;
export type ContainerStatus = (typeof CONTAINER_STATUSES)[number];

export interface ContainerState {
  status: ContainerStatus;
  /** The init's pid in the node's PID namespace while running, else 0. */
  pid: number;
  exitCode: number;
  /** Why the last start failed ('' when it did not). */
  error: string;
  oomKilled: boolean;
  /** RFC 3339; '' until the first start / the first end. */
  startedAt: string;
  finishedAt: string;
  /** Restarts the policy made since the user last started the container. */
  restartCount: number;
  /** The user stopped it: the restart policy leaves it alone (`unless-stopped` also at daemon start). */
  manuallyStopped: boolean;
  /** The back-off the last policy restart waited (restart-policy.ts). */
  restartDelayMs: number;
}

/** What the container runs (Docker's Config). `entrypoint` absent: the image's. */
export interface ContainerConfig {
  image: string;
  entrypoint?: string[];
  cmd: string[];
  env: string[];
  workdir: string;
  user: string;
  hostname: string;
}

/** How the node runs it (Docker's HostConfig). */
export interface HostConfig {
  restartPolicy: RestartPolicy;
  /** `--rm`: removed once its process ends. */
  autoRemove: boolean;
  memoryBytes: number;
  nanoCpus: number;
  /** The name of the local network (`bridge`, `host`, `none`, a user bridge). */
  networkMode: string;
  /** `-p`; absent in records older than published ports. */
  portBindings?: PortRequest[];
  /** `-P`. */
  publishAllPorts?: boolean;
  /** `--network-alias`: more names on the user network's embedded DNS (absent: none). */
  networkAliases?: string[];
  /** `--dns`: the embedded DNS's upstreams on a user network, resolv.conf's nameservers elsewhere. */
  dns?: string[];
}

export interface ContainerRecord {
  id: string;
  name: string;
  /** RFC 3339. */
  created: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  state: ContainerState;
  /**
   * Its networks in connect order (connections.ts), each as its last attach gave it (address,
   * gateway, interface, published ports); absent until the first attach.
   */
  networks?: NetworkSettings[];
  /** Records older than `network connect` kept their one network here (read, never written). */
  networkSettings?: NetworkSettings;
}

export const NEW_STATE: ContainerState = {
  status: 'created',
  pid: 0,
  exitCode: 0,
  error: '',
  oomKilled: false,
  startedAt: '',
  finishedAt: '',
  restartCount: 0,
  manuallyStopped: false,
  restartDelayMs: 0,
};

/** The process runs. A start by the user clears the policy's count and the manual stop. */
export function started(s: ContainerState, now: string, pid: number, byUser: boolean): ContainerState {
  const base = byUser ? { restartCount: 0, manuallyStopped: false, restartDelayMs: 0 } : {};
  return { ...s, ...base, status: 'running', pid, exitCode: 0, error: '', oomKilled: false, startedAt: now };
}

/** The process ended (also while no daemon watched: `now` is then when it was noticed). */
export function exited(
  s: ContainerState,
  now: string,
  exit: { exitCode: number; oomKilled: boolean },
): ContainerState {
  return {
    ...s,
    status: 'exited',
    pid: 0,
    exitCode: exit.exitCode,
    oomKilled: exit.oomKilled,
    finishedAt: now,
  };
}

/** The policy will start it again after `delayMs`. */
export function restarting(s: ContainerState, delayMs: number): ContainerState {
  return { ...s, status: 'restarting', restartCount: s.restartCount + 1, restartDelayMs: delayMs };
}

/** The user asked it to stop: the policy must not bring it back. */
export const stopRequested = (s: ContainerState): ContainerState => ({ ...s, manuallyStopped: true });

/** A start that failed (Docker's 128 and the runtime's words); a container that never ran stays created. */
export function startFailed(s: ContainerState, now: string, error: string): ContainerState {
  return {
    ...s,
    status: s.startedAt ? 'exited' : 'created',
    pid: 0,
    exitCode: 128,
    error,
    finishedAt: s.startedAt ? now : s.finishedAt,
  };
}

export const isActive = (s: ContainerState): boolean => s.status === 'running' || s.status === 'restarting';

export type UserAction = 'start' | 'stop' | 'restart' | 'remove' | 'exec' | 'rename' | 'wait';

/**
 * Why a user action cannot be done in the container's state (Docker's words), or undefined. `force`
 * is `rm -f`. Starting a running container, stopping a stopped one, are no-ops, as in Docker.
 */
export function refusal(c: ContainerRecord, action: UserAction, force = false): string | undefined {
  const s = c.state.status;
  if (s === 'removing' && action !== 'remove') return `container ${c.name} is marked for removal`;
  switch (action) {
    case 'remove':
      if (isActive(c.state) && !force)
        return `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`;
      return undefined;
    case 'exec':
      return s === 'running' ? undefined : `container ${c.id} is not running`;
    default:
      return undefined;
  }
}
