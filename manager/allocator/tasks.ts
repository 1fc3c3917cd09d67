// Tasks: one address on every network the task attaches to (its spec's networks, plus ingress when its
// service publishes ports in ingress mode). Addresses come from the same pools as VIPs.
import type { NetworkAttachment, Service, Task } from '../../api/objects/index.js';
import { exhausted, fail, ok, type AllocResult } from './result.js';
import { attachedNetworks, claimRecorded } from './services.js';
import { AllocatorState, type HeldAddress, type TaskState } from './state.js';

type TaskInput = Pick<Task, 'id' | 'spec'>;
type ServiceInput = Pick<Service, 'spec'>;

function attachmentsOf(task: TaskState): NetworkAttachment[] {
  const addressed = task.addresses.map((a) => ({
    networkId: a.networkId,
    addresses: [a.pool.format(a.addr)],
    aliases: [...(task.aliases.get(a.networkId) ?? [])],
  }));
  // A node-local network's attachment carries no address: the node running the task gives one.
  const nodeLocal = (task.nodeLocal ?? []).map((networkId) => ({
    networkId,
    addresses: [],
    aliases: [...(task.aliases.get(networkId) ?? [])],
  }));
  return [...addressed, ...nodeLocal];
}

function aliasesOf(task: TaskInput): Map<string, string[]> {
  return new Map(task.spec.networks.map((n) => [n.target, [...n.aliases]]));
}

/**
 * Gives a task one address on each of its networks. On exhaustion nothing is held and the reason names the
 * pool ("address pool 10.0.1.0/24 of network appnet is exhausted"): the orchestrator leaves the task
 * pending with that message. Idempotent: a task already allocated gets its attachments back.
 */
export function allocateTask(
  state: AllocatorState,
  task: TaskInput,
  service?: ServiceInput,
): AllocResult<NetworkAttachment[]> {
  const known = state.tasks.get(task.id);
  if (known) return ok(attachmentsOf(known));
  const targets = task.spec.networks.map((n) => n.target);
  const networks = attachedNetworks(state, targets, service?.spec.endpoint.ports ?? []);
  if (!networks.ok) return networks;
  const addresses: HeldAddress[] = [];
  const nodeLocal: string[] = [];
  for (const network of networks.value) {
    if (network.nodeLocal) {
      nodeLocal.push(network.id);
      continue;
    }
    const held = state.allocateAddress(network);
    if (!held) {
      AllocatorState.release(addresses);
      const { pool, message } = AllocatorState.exhaustedMessage(network);
      return exhausted(pool, message);
    }
    addresses.push(held);
  }
  const allocated: TaskState = {
    id: task.id,
    addresses,
    aliases: aliasesOf(task),
    ...(nodeLocal.length > 0 ? { nodeLocal } : {}),
  };
  state.tasks.set(task.id, allocated);
  return ok(attachmentsOf(allocated));
}

/** Frees a task's addresses: when it reaches a terminal state or is removed. */
export function releaseTask(state: AllocatorState, taskId: string): AllocResult<void> {
  const task = state.tasks.get(taskId);
  if (!task) return ok(undefined);
  AllocatorState.release(task.addresses);
  state.tasks.delete(taskId);
  return ok(undefined);
}

/** Re-holds the addresses recorded in Task.networks when the state is rebuilt. */
export function restoreTask(state: AllocatorState, task: Task): AllocResult<void> {
  if (state.tasks.has(task.id) || task.networks.length === 0) return ok(undefined);
  const addresses: HeldAddress[] = [];
  const nodeLocal: string[] = [];
  for (const attachment of task.networks) {
    if (attachment.addresses.length === 0) nodeLocal.push(attachment.networkId);
    for (const text of attachment.addresses) {
      const held = claimRecorded(state, attachment.networkId, text);
      if (typeof held === 'string') {
        AllocatorState.release(addresses);
        return fail('conflict', `task ${task.id}: address ${text}: ${held}`);
      }
      addresses.push(held);
    }
  }
  const aliases = new Map(task.networks.map((n) => [n.networkId, [...n.aliases]]));
  state.tasks.set(task.id, {
    id: task.id,
    addresses,
    aliases,
    ...(nodeLocal.length > 0 ? { nodeLocal } : {}),
  });
  return ok(undefined);
}
