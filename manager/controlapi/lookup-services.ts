// Finding networks and services the way Docker does: exact id, then the name (unique in the store,
// case-insensitively, as in SwarmKit), then a unique id prefix.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import { taskHoldsAddresses } from '../allocator/index.js';
import { taskDisplayName } from '../orchestrator/index.js';
import type { ReadTx } from '../store/index.js';
import type { Network, Service, SwarmObjects } from '../../api/objects/index.js';
import { lookupService } from './lookup.js';

/** A network by id, unique id prefix, or name; undefined when nothing matches. */
export function lookupNetwork(tx: ReadTx<SwarmObjects>, ref: string): Network | undefined {
  if (!ref) return undefined;
  const exact = tx.get('network', ref) ?? tx.find('network', 'name', ref)[0];
  if (exact) return exact;
  const byPrefix = tx.findByIdPrefix('network', ref);
  if (byPrefix.status === 'ambiguous') {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `network ${ref} is ambiguous (${byPrefix.ids.length} matches): use its name or a longer id`,
    );
  }
  return byPrefix.status === 'found' ? byPrefix.object : undefined;
}

export function findNetwork(tx: ReadTx<SwarmObjects>, ref: string): Network {
  if (!ref) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'a network id, id prefix or name is required');
  const network = lookupNetwork(tx, ref);
  if (!network) throw new GrpcError(grpc.status.NOT_FOUND, `network ${ref} not found`);
  return network;
}

export function findService(tx: ReadTx<SwarmObjects>, ref: string): Service {
  if (!ref) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'a service id, id prefix or name is required');
  const service = lookupService(tx, ref);
  if (!service) throw new GrpcError(grpc.status.NOT_FOUND, `service ${ref} not found`);
  return service;
}

/** The services whose spec attaches to the network, by name (what "in use" messages list). */
export function servicesUsing(tx: ReadTx<SwarmObjects>, networkId: string): string[] {
  return tx
    .list('service')
    .filter((s) => s.spec.task.networks.some((n) => n.target === networkId))
    .map((s) => s.spec.name)
    .sort();
}

/**
 * Tasks still holding an address on the network (not terminal), by display name. A removed service's
 * tasks keep theirs until they stop; Docker likewise refuses to remove a network with live endpoints.
 */
export function tasksOn(tx: ReadTx<SwarmObjects>, networkId: string): string[] {
  return tx
    .list('task')
    .filter(
      (t) => !t.attachment && taskHoldsAddresses(t) && t.networks.some((a) => a.networkId === networkId),
    )
    .map(taskDisplayName)
    .sort();
}

/** Standalone containers attached to the network (their short ids, with their node), by `run --network`. */
export function containersOn(tx: ReadTx<SwarmObjects>, networkId: string): string[] {
  return tx
    .list('task')
    .filter((t) => t.attachment && t.spec.networks.some((n) => n.target === networkId))
    .map((t) => `${t.attachment!.containerId.slice(0, 12)} (node ${t.nodeId})`)
    .sort();
}

/** Every network a service names or a live task is attached to (what prune must keep). */
export function networksInUse(tx: ReadTx<SwarmObjects>): Set<string> {
  const used = new Set<string>();
  for (const s of tx.list('service')) for (const n of s.spec.task.networks) used.add(n.target);
  for (const t of tx.list('task')) {
    if (taskHoldsAddresses(t)) for (const a of t.networks) used.add(a.networkId);
  }
  return used;
}
