// Nodes: one address on the ingress network for each node's ingress sandbox (SwarmKit's node
// attachment). The routing mesh masquerades into the ingress overlay from that address, so it must be
// as unique as a task's: it comes from the same pool, held by the node until the node is removed.
import type { Node } from '../../api/objects/index.js';
import { exhausted, fail, ok, type AllocResult } from './result.js';
import { claimRecorded } from './services.js';
import { AllocatorState } from './state.js';

type NodeInput = Pick<Node, 'id' | 'removed' | 'ingressAddress'>;

/**
 * The node's ingress address (CIDR), allocated when it has none. Idempotent. Fails only while there is
 * no ingress network, or when its pool is exhausted (the reason names it).
 */
export function allocateNodeIngress(state: AllocatorState, node: NodeInput): AllocResult<string> {
  const held = state.nodes.get(node.id);
  if (held) return ok(held.pool.format(held.addr));
  const network = state.ingressNetwork();
  if (!network) return fail('missing', 'there is no ingress network');
  const addr = state.allocateAddress(network);
  if (!addr) {
    const { pool, message } = AllocatorState.exhaustedMessage(network);
    return exhausted(pool, message);
  }
  state.nodes.set(node.id, addr);
  return ok(addr.pool.format(addr.addr));
}

/** A removed node gives its address back. */
export function releaseNodeIngress(state: AllocatorState, nodeId: string): void {
  const held = state.nodes.get(nodeId);
  if (!held) return;
  AllocatorState.release([held]);
  state.nodes.delete(nodeId);
}

/** Re-holds the address recorded on the node when the state is rebuilt (removed nodes hold none). */
export function restoreNodeIngress(state: AllocatorState, node: NodeInput): AllocResult<void> {
  if (node.removed || !node.ingressAddress || state.nodes.has(node.id)) return ok(undefined);
  const network = state.ingressNetwork();
  if (!network) return fail('missing', `node ${node.id}: there is no ingress network`);
  const held = claimRecorded(state, network.id, node.ingressAddress);
  if (typeof held === 'string')
    return fail('conflict', `node ${node.id}: address ${node.ingressAddress}: ${held}`);
  state.nodes.set(node.id, held);
  return ok(undefined);
}
