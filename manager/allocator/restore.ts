// Rebuilding the allocator from the store: what a manager does when it becomes leader. The store's
// objects record every allocation (Network.ipam/vni, Service.endpoint, Task.networks), so the rebuilt
// state holds exactly what they hold and, allocation being lowest-free, answers exactly as the old
// leader's would have.
import type { Cluster, Network, Node, Service, Task } from '../../api/objects/index.js';
import { isTerminalTaskState } from '../../api/objects/index.js';
import { restoreNetwork } from './networks.js';
import { restoreNodeIngress } from './nodes.js';
import { restoreService } from './services.js';
import { AllocatorState } from './state.js';
import { restoreTask } from './tasks.js';

export interface AllocatorObjects {
  cluster?: Pick<Cluster, 'spec'>;
  networks: readonly Network[];
  services: readonly Service[];
  tasks: readonly Task[];
  nodes?: readonly Pick<Node, 'id' | 'removed' | 'ingressAddress'>[];
}

export interface RestoredAllocator {
  state: AllocatorState;
  /**
   * Recorded allocations that could not be held (two objects claiming one address, a subnet that no
   * longer parses, ...): the caller logs them; the objects concerned are treated as unallocated.
   */
  problems: string[];
}

/**
 * Whether a task still holds its addresses. A task that reached a terminal state has had them released
 * (the orchestrator calls releaseTask then), even though its object still shows them until it is removed.
 */
export const taskHoldsAddresses = (task: Pick<Task, 'status'>) => !isTerminalTaskState(task.status.state);

export function allocatorStateFrom(objects: AllocatorObjects): RestoredAllocator {
  const state = new AllocatorState(objects.cluster?.spec);
  const problems: string[] = [];
  const note = (r: { ok: boolean; reason?: { message: string } }) => {
    if (!r.ok && r.reason) problems.push(r.reason.message);
  };
  // Sorted by id so that, if two objects do claim the same resource, the same one wins on every manager.
  const byId = <T extends { id: string }>(xs: readonly T[]) =>
    [...xs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Ingress first: while it is unknown, user networks may not take its default range.
  const networks = byId(objects.networks).sort((a, b) => Number(b.spec.ingress) - Number(a.spec.ingress));
  for (const n of networks) note(restoreNetwork(state, n));
  for (const s of byId(objects.services)) note(restoreService(state, s));
  for (const t of byId(objects.tasks)) if (taskHoldsAddresses(t)) note(restoreTask(state, t));
  for (const n of byId(objects.nodes ?? [])) note(restoreNodeIngress(state, n));
  if (typeof state.addressPools === 'string') problems.push(state.addressPools);
  return { state, problems };
}
