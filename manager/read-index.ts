// Every control call starts from everything committed before it was made (Raft ReadIndex). Answering
// from the leader's store alone is not linearizable: a leader just elected (or restarted with the whole
// control plane) has not yet applied its predecessor's last entries, and a leader cut off from its
// quorum does not know yet that it was deposed, so a read could return a value older than a write
// acknowledged before the read began. test/chaos found it (seed 1619049875): a service label read 12 s
// after a newer value of it was acknowledged, right after all three managers were SIGKILLed and
// restarted. Writes gain too: their checks (names, versions) run against an up-to-date store.
import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../lib/errors.js';
import { GrpcError } from './ca/authz.js';

export interface ReadBarrier {
  /** Resolves once this member has applied everything committed before the call (RaftNode.readIndex). */
  readIndex(): Promise<void>;
}

/** `handlers` with a ReadIndex before each; a leadership that cannot be confirmed is UNAVAILABLE. */
export function afterReadIndex<H extends object>(raft: ReadBarrier, handlers: H): H {
  const wrapped: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    wrapped[name] = async (...args: unknown[]) => {
      try {
        await raft.readIndex();
      } catch (err) {
        throw new GrpcError(
          grpc.status.UNAVAILABLE,
          `this manager could not confirm with a quorum of managers that it leads the swarm ` +
            `(${errorMessage(err)}): try again`,
        );
      }
      return (handler as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  }
  return wrapped as H;
}
