// What the network, service and task calls need from the manager, and the error mapping they share.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import type { AllocFailure, AllocResult, AllocatorState } from '../allocator/index.js';
import {
  InvalidObjectError,
  NameConflictError,
  NotFoundError,
  SequenceConflictError,
  type Store,
  type WriteTx,
} from '../store/index.js';
import { type RegistryAuth, type SwarmObjects } from '../../api/objects/index.js';
import type { UnaryHandlers } from '../../api/calls.js';
import type { ControlClient, ControlDefinition } from '../../api/rpc.js';
import type { Caller } from './control.js';

/**
 * Every unary RPC of proto/control.proto, as the manager serves it (a missing one does not compile):
 * the request as decoded (the generated `__Output` type) and who made it.
 */
export type ControlUnaryHandlers = UnaryHandlers<ControlClient, ControlDefinition, [Caller]>;

/** A service's image pinned to the digest its registry has for the tag, or why it could not be. */
export type ImageResolution = { image: string } | { warning: string };

/**
 * Asks the registry of `image` (with `auth`, else this node's own login) for the digest of its tag.
 * The daemon gives its node's image service (manager/ does not reach into worker/); it never throws
 * for a registry that cannot be asked: that is a warning, and the tag is kept.
 */
export type ImageResolver = (image: string, auth: RegistryAuth | undefined) => Promise<ImageResolution>;

/**
 * The part of ControlContext these calls use, plus the leader's live allocator state. A full
 * ControlContext with `allocation` added satisfies it.
 */
export interface ServiceControlContext {
  store: Store<SwarmObjects>;
  /**
   * The allocator controller's state on this leader. Read only here: the handlers ask the pure checks
   * (checkNetwork, checkServicePorts) whether a spec would allocate, and never hold anything in it.
   */
  allocation(): AllocatorState;
  /** Milliseconds since the epoch; Date.now unless a test fixes it (rollback's startedAt). */
  now?: () => number;
  /** New object ids; lib/ids.ts newId unless a test fixes them. */
  newId?: () => string;
  /**
   * Why this manager cannot create an encrypted network, or undefined; by default its own kernel is
   * asked (lib/esp.ts). Tests give the answer of a kernel with or without ESP.
   */
  encryptionRefusal?: () => Promise<string | undefined>;
  /** Pins service images to digests (`service create`, `service update --image`); absent: never. */
  resolveImage?: ImageResolver;
}

/** gRPC code for an allocator verdict: bad input, a clash with another object, or a pool run dry. */
const ALLOC_CODES: Record<AllocFailure['kind'], grpc.status> = {
  invalid: grpc.status.INVALID_ARGUMENT,
  conflict: grpc.status.FAILED_PRECONDITION,
  missing: grpc.status.FAILED_PRECONDITION,
  'in-use': grpc.status.FAILED_PRECONDITION,
  exhausted: grpc.status.RESOURCE_EXHAUSTED,
};

export function requireAllocatable(result: AllocResult<unknown>): void {
  if (!result.ok) throw new GrpcError(ALLOC_CODES[result.reason.kind], result.reason.message);
}

/**
 * Runs a write transaction and turns the store's apply-time refusals into gRPC statuses. Checks in the
 * transaction usually refuse first with a clearer message; these cover what changed between the
 * check and the commit (another manager's write, a name taken meanwhile).
 */
export async function write<T>(store: Store<SwarmObjects>, fn: (tx: WriteTx<SwarmObjects>) => T): Promise<T> {
  try {
    return (await store.update(fn)).value;
  } catch (err) {
    if (err instanceof NameConflictError) throw new GrpcError(grpc.status.ALREADY_EXISTS, err.message);
    if (err instanceof SequenceConflictError) {
      throw new GrpcError(grpc.status.ABORTED, `${err.message}: read it again and retry`);
    }
    if (err instanceof NotFoundError) throw new GrpcError(grpc.status.NOT_FOUND, err.message);
    if (err instanceof InvalidObjectError) throw new GrpcError(grpc.status.INVALID_ARGUMENT, err.message);
    throw err;
  }
}

/**
 * An object as committed (a transaction's return value is the staged object, without the version and
 * times apply stamps). NOT_FOUND if a later write removed it already.
 */
export function committed<K extends 'network' | 'service'>(
  store: Store<SwarmObjects>,
  kind: K,
  id: string,
): SwarmObjects[K] {
  const object = store.view((tx) => tx.get(kind, id));
  if (!object) throw new GrpcError(grpc.status.NOT_FOUND, `${kind} ${id} was removed meanwhile`);
  return object;
}
