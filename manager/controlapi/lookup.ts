// Finding objects the way Docker's CLI does: exact id, then a unique id prefix, then a unique name.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import type { ReadTx } from '../store/index.js';
import type { Node, Service, SwarmObjects, Task } from '../../api/objects/index.js';

/**
 * A node of the swarm by id, unique id prefix or hostname. Removed nodes stay in the store as
 * tombstones (their certificates stay refused) but are no longer the swarm's: they match nothing, so
 * a hostname reused by a node that joined again is not "ambiguous" forever.
 */
export function findNode(tx: ReadTx<SwarmObjects>, ref: string): Node {
  if (!ref) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'a node id, id prefix or hostname is required');
  const live = (n: Node | undefined): n is Node => n !== undefined && !n.removed;
  const exact = tx.get('node', ref);
  if (live(exact)) return exact;
  const byPrefix = tx.findByIdPrefix('node', ref);
  const prefixed =
    byPrefix.status === 'found'
      ? [byPrefix.object].filter(live)
      : byPrefix.status === 'ambiguous'
        ? byPrefix.ids.map((id) => tx.get('node', id)).filter(live)
        : [];
  if (prefixed.length === 1) return prefixed[0]!;
  if (prefixed.length > 1) {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `node ${ref} is ambiguous (${prefixed.length} matches): use a longer id`,
    );
  }
  const byName = tx.find('node', 'hostname', ref).filter(live);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `hostname ${ref} is ambiguous (${byName.length} nodes): use an id`,
    );
  }
  throw new GrpcError(grpc.status.NOT_FOUND, `node ${ref} not found`);
}

/** A task by id, unique id prefix, or Docker's display name (`web.2`, or `web.<node id>` when global). */
export function findTask(tx: ReadTx<SwarmObjects>, ref: string): Task {
  if (!ref) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'a task id, id prefix or name is required');
  const exact = tx.get('task', ref);
  if (exact) return exact;
  const dot = ref.lastIndexOf('.');
  if (dot > 0) {
    const service = tx.find('service', 'name', ref.slice(0, dot))[0];
    if (service) {
      const key = ref.slice(dot + 1);
      // The slot's current task: the one meant to run, else the newest.
      const inSlot = tx
        .find('task', 'slot', `${service.id}/${key}`)
        .sort(
          (a, b) =>
            Number(b.desiredState === 'running') - Number(a.desiredState === 'running') ||
            b.meta.createdAt.localeCompare(a.meta.createdAt),
        );
      if (inSlot[0]) return inSlot[0];
    }
  }
  const byPrefix = tx.findByIdPrefix('task', ref);
  if (byPrefix.status === 'found') return byPrefix.object;
  if (byPrefix.status === 'ambiguous') {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `task ${ref} is ambiguous (${byPrefix.ids.length} matches)`,
    );
  }
  throw new GrpcError(grpc.status.NOT_FOUND, `task ${ref} not found`);
}

/** A service by id, unique id prefix, or name; undefined when nothing matches. */
export function lookupService(tx: ReadTx<SwarmObjects>, ref: string): Service | undefined {
  const exact = tx.get('service', ref) ?? tx.find('service', 'name', ref)[0];
  if (exact) return exact;
  const byPrefix = tx.findByIdPrefix('service', ref);
  if (byPrefix.status === 'ambiguous') {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `service ${ref} is ambiguous (${byPrefix.ids.length} matches)`,
    );
  }
  return byPrefix.status === 'found' ? byPrefix.object : undefined;
}

/**
 * The tasks a list of refs names: every task of a named service, or the named tasks. A ref that is
 * neither is reported as the service it most likely meant (`service logs nosuch`), not as a task.
 */
export function tasksFor(tx: ReadTx<SwarmObjects>, refs: string[]): Task[] {
  const out = new Map<string, Task>();
  for (const ref of refs) {
    const service = lookupService(tx, ref);
    const tasks = service ? tx.find('task', 'service', service.id) : [findTaskOfLogs(tx, ref)];
    for (const t of tasks) out.set(t.id, t);
  }
  return [...out.values()];
}

function findTaskOfLogs(tx: ReadTx<SwarmObjects>, ref: string): Task {
  try {
    return findTask(tx, ref);
  } catch (err) {
    if (err instanceof GrpcError && err.code === grpc.status.NOT_FOUND)
      throw new GrpcError(grpc.status.NOT_FOUND, `service ${ref} not found`);
    throw err;
  }
}
