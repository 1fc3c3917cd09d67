// Every control call starts from everything committed before it was made (Raft ReadIndex). Answering
// from the leader's store alone is not linearizable: a leader just elected (or restarted with the whole
// control plane) has not yet applied its predecessor's last entries, and a leader cut off from its
// quorum does not know yet that it was deposed, so a read could return a value older than a write
// acknowledged before the read began. test/chaos found it (seed 1619049875): a service label read 12 s
// after a newer value of it was acknowledged, right after all three managers were SIGKILLed and
// restarted. Writes gain too: their checks (names, versions) run against an up-to-date store.
//
// A read may instead ask for `consistency: 'local'` (proto/control.proto): served from this manager's
// store as it is, without the round to a quorum, on any manager (control-router.ts does not forward
// it), also while the swarm has no quorum — and possibly stale.
import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../lib/errors.js';
import { GrpcError } from './ca/authz.js';
import { leaderOnlyUnary, type LeaderInfo } from './leadership.js';

export interface ReadBarrier {
  /** Resolves once this member has applied everything committed before the call (RaftNode.readIndex). */
  readIndex(): Promise<void>;
}

export type ReadConsistency = 'linearizable' | 'local';

/**
 * The consistency a request asks for: its `consistency` field ('' or absent: linearizable). Any
 * other value is refused as INVALID_ARGUMENT; only the read requests have the field.
 */
export function readConsistency(req: unknown): ReadConsistency {
  const value =
    typeof req === 'object' && req !== null ? (req as { consistency?: unknown }).consistency : undefined;
  if (value === undefined || value === '' || value === 'linearizable') return 'linearizable';
  if (value === 'local') return 'local';
  throw new GrpcError(
    grpc.status.INVALID_ARGUMENT,
    `invalid consistency ${JSON.stringify(value)}: use linearizable or local`,
  );
}

/**
 * `handlers` with a ReadIndex before each, unless the request asks for a local read; a leadership
 * that cannot be confirmed is UNAVAILABLE.
 */
export function afterReadIndex<H extends object>(raft: ReadBarrier, handlers: H): H {
  const wrapped: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    wrapped[name] = async (...args: unknown[]) => {
      if (readConsistency(args[0]) === 'linearizable') {
        try {
          await raft.readIndex();
        } catch (err) {
          throw new GrpcError(
            grpc.status.UNAVAILABLE,
            `this manager could not confirm with a quorum of managers that it leads the swarm ` +
              `(${errorMessage(err)}): try again`,
          );
        }
      }
      return (handler as (...a: unknown[]) => Promise<unknown>)(...args);
    };
  }
  return wrapped as H;
}

/**
 * A unary handler of the manager port that only the leader serves (followers redirect), except a
 * local read, which any manager serves from its own store; a bad consistency is INVALID_ARGUMENT.
 */
export function leaderOrLocalRead<Req, Res>(
  leader: LeaderInfo,
  impl: grpc.handleUnaryCall<Req, Res>,
): grpc.handleUnaryCall<Req, Res> {
  const onLeader = leaderOnlyUnary(leader, impl);
  return (call, callback) => {
    let consistency: ReadConsistency;
    try {
      consistency = readConsistency(call.request);
    } catch (err) {
      return callback(err as GrpcError);
    }
    if (consistency === 'local') impl(call, callback);
    else onLeader(call, callback);
  };
}
