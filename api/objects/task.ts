// A task: one slot of a service (or one node of a global service). Managers write `desiredState`, the
// worker reports `status.state`; states only move forward.
import type { StoreObject } from './object.js';
import type { PortConfig, TaskSpec, VirtualIp } from './service.js';

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
  /**
   * Set on a network attachment (SwarmKit's NetworkAttachment runtime): the address a standalone
   * container on an attachable overlay holds. No service (`serviceId` ''), placed on its node when
   * made, never run: it exists so the allocator hands out and takes back the address.
   */
  attachment?: { containerId: string };
}

export const isAttachmentTask = (t: Pick<Task, 'attachment'>): boolean => t.attachment !== undefined;
