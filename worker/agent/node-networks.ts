// The swarm networks a worker knows of by itself, for its `network ls` and `network inspect` (a worker
// cannot ask the managers' store): as Docker's worker lists them, the ingress network always, each
// overlay that a task assigned to this node attaches to, and each attachable overlay one of its
// standalone containers is on. Pure: the agent, the session and the daemon hand in what they hold.
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

/**
 * One of the node's swarm networks by id, name or unique id prefix (as the managers look one up);
 * undefined when none matches, a refusal when a prefix matches several.
 */
export function findNodeNetwork(networks: readonly Network[], ref: string): Network | string | undefined {
  if (!ref) return 'a network id, id prefix or name is required';
  const exact = networks.find((n) => n.id === ref) ?? networks.find((n) => n.spec.name === ref);
  if (exact) return exact;
  const byPrefix = networks.filter((n) => n.id.startsWith(ref));
  if (byPrefix.length > 1)
    return `network ${ref} is ambiguous (${byPrefix.length} matches): use its name or a longer id`;
  return byPrefix[0];
}
