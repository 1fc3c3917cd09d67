// The swarm networks a worker knows of by itself, for its `network ls` (a worker cannot ask the
// managers' store): as Docker's worker lists them, the ingress network always, and each overlay that
// a task assigned to this node attaches to. Pure: the agent and the session hand in what they hold.
import type { Network } from '../../api/objects/index.js';

/**
 * `ingress` as the session last sent it (null before the managers allocated it), the network ids of
 * the node's tasks, and the network objects the assignments carried: one network each, by name.
 * A task's network the assignments never described is left out rather than guessed.
 */
export function nodeSwarmNetworks(
  ingress: Network | null | undefined,
  taskNetworkIds: Iterable<string>,
  known: ReadonlyMap<string, Network>,
): Network[] {
  const byId = new Map<string, Network>();
  if (ingress) byId.set(ingress.id, ingress);
  for (const id of taskNetworkIds) {
    const n = known.get(id);
    if (n) byId.set(id, n);
  }
  return [...byId.values()].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
}
