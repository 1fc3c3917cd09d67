// The shell of a node's network attachments (proto/dispatcher.proto AttachNetwork/DetachNetwork): the
// plan is controlapi/attachments.ts. Attach records the attachment task (or finds the one a retried
// call made) and waits, watching the store, until the allocator has written its address; detach
// deletes it, which gives the address back. A node touches only its own attachments.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import { newId } from '../../lib/ids.js';
import type { Store } from '../store/index.js';
import type { Network, SwarmObjects, Task } from '../../api/objects/index.js';
import {
  attachmentAddress,
  attachmentRequestProblem,
  attachmentTask,
  attachRefusal,
  existingAttachment,
  type AttachmentRequest,
} from '../controlapi/attachments.js';
import { findNetwork } from '../controlapi/lookup-services.js';
import { write } from '../controlapi/service-context.js';

/** How long an attach waits for the allocator (it runs on the leader, usually within milliseconds). */
export const ATTACH_TIMEOUT_MS = 30_000;

export interface Attached {
  attachmentId: string;
  network: Network;
  address: string;
}

export async function attachNetwork(
  store: Store<SwarmObjects>,
  networkRef: string,
  req: AttachmentRequest,
  timeoutMs = ATTACH_TIMEOUT_MS,
): Promise<Attached> {
  const problem = attachmentRequestProblem(req);
  if (problem) throw new GrpcError(grpc.status.INVALID_ARGUMENT, problem);
  const task = await write(store, (tx) => {
    const network = findNetwork(tx, networkRef);
    const refusal = attachRefusal(network);
    if (refusal) throw new GrpcError(grpc.status.FAILED_PRECONDITION, refusal);
    const mine = tx.find('task', 'node', req.nodeId);
    return (
      existingAttachment(mine, network.id, req) ??
      tx.create('task', attachmentTask(network, req, newId(), new Date().toISOString()))
    );
  });
  const networkId = task.spec.networks[0]!.target;
  const allocated = await untilAllocated(store, task.id, networkId, timeoutMs);
  const network = store.view((tx) => tx.get('network', networkId));
  if (!network) throw new GrpcError(grpc.status.NOT_FOUND, `network ${networkRef} was removed meanwhile`);
  return { attachmentId: task.id, network, address: attachmentAddress(allocated, networkId)! };
}

/** The task once it has its address; refused with the allocator's reason when none comes in time. */
async function untilAllocated(
  store: Store<SwarmObjects>,
  taskId: string,
  networkId: string,
  timeoutMs: number,
): Promise<Task> {
  const sub = store.watch({ kinds: ['task'] });
  const current = () => store.view((tx) => tx.get('task', taskId));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const iterator = sub[Symbol.asyncIterator]();
    for (;;) {
      const t = current();
      if (!t) throw new GrpcError(grpc.status.ABORTED, 'the attachment was removed before it got an address');
      if (attachmentAddress(t, networkId)) return t;
      const next = await Promise.race([iterator.next(), timeout]);
      if (next === 'timeout' || next.done) {
        const last = current();
        const why = last?.status.err ? `: ${last.status.err}` : '';
        throw new GrpcError(
          grpc.status.UNAVAILABLE,
          `no address on the network yet${why} (the attachment stays; retry)`,
        );
      }
    }
  } finally {
    clearTimeout(timer);
    sub.close();
  }
}

/** Deletes the node's attachment; an unknown id is already gone (a retried detach). */
export async function detachNetwork(
  store: Store<SwarmObjects>,
  nodeId: string,
  attachmentId: string,
): Promise<void> {
  if (!attachmentId) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'an attachment id is required');
  await write(store, (tx) => {
    const t = tx.get('task', attachmentId);
    if (!t) return;
    if (!t.attachment || t.nodeId !== nodeId)
      throw new GrpcError(
        grpc.status.PERMISSION_DENIED,
        `node ${nodeId} may detach only its own network attachments: ${attachmentId} is not one`,
      );
    tx.delete('task', t);
  });
}
