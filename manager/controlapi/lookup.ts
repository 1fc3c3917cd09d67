// Finding a node the way Docker's CLI does: exact id, then a unique id prefix, then a unique hostname.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import type { Node, ReadTx, SwarmObjects } from '../store/index.js';

export function findNode(tx: ReadTx<SwarmObjects>, ref: string): Node {
  if (!ref) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'a node id, id prefix or hostname is required');
  const exact = tx.get('node', ref);
  if (exact) return exact;
  const byPrefix = tx.findByIdPrefix('node', ref);
  if (byPrefix.status === 'found') return byPrefix.object;
  if (byPrefix.status === 'ambiguous') {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `node ${ref} is ambiguous (${byPrefix.ids.length} matches)`,
    );
  }
  const byName = tx.find('node', 'hostname', ref);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) {
    throw new GrpcError(
      grpc.status.INVALID_ARGUMENT,
      `hostname ${ref} is ambiguous (${byName.length} nodes): use an id`,
    );
  }
  throw new GrpcError(grpc.status.NOT_FOUND, `node ${ref} not found`);
}
