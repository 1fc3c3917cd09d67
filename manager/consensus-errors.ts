// What a user is told when the managers could not agree on a change. Raft's errors name log indexes
// and milliseconds, which mean nothing to someone who ran `service create`; the control API answers in
// the user's terms, says whether the change may still happen and what to check, and the daemon log
// keeps Raft's own words (explainedControlHandlers logs them beside the answer).
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from './ca/authz.js';
import {
  LeaderlessError,
  NodeStoppedError,
  NotLeaderError,
  ProposalDroppedError,
  RaftTimeoutError,
} from './raft/node/errors.js';
import { UnknownOutcomeError } from './store/index.js';

const CHECK_MANAGERS = "check 'swarmlite node ls' for managers that are down or unreachable";
const MAY_STILL_APPLY = 'it may still be applied once they agree, so look before retrying';

/**
 * The status a user sees for a Raft failure, or undefined when `err` is not one. ABORTED throughout:
 * callers that route calls to the leader retry UNAVAILABLE and FAILED_PRECONDITION on their own, and a
 * write whose outcome is unknown must not be sent again behind the user's back.
 */
export function explainConsensusError(err: unknown): GrpcError | undefined {
  const aborted = (message: string) => new GrpcError(grpc.status.ABORTED, message);
  if (err instanceof LeaderlessError) {
    return aborted(
      `this manager lost contact with most of the managers before they agreed on the change ` +
        `(no quorum): ${MAY_STILL_APPLY}; ${CHECK_MANAGERS}`,
    );
  }
  if (err instanceof RaftTimeoutError) {
    return err.what === 'proposal'
      ? aborted(
          `the managers could not agree on the change in time (no quorum?): ${MAY_STILL_APPLY}; ${CHECK_MANAGERS}`,
        )
      : aborted(
          `the managers could not confirm the current state in time (no quorum?): ${CHECK_MANAGERS}, then retry`,
        );
  }
  if (err instanceof UnknownOutcomeError) {
    return aborted(`the managers did not confirm the change: ${MAY_STILL_APPLY}`);
  }
  if (err instanceof ProposalDroppedError || err instanceof NotLeaderError) {
    return aborted(
      'the change was not applied: the swarm changed leader while it was being agreed; run the command again',
    );
  }
  if (err instanceof NodeStoppedError) {
    return aborted(`this manager is shutting down: ${MAY_STILL_APPLY}, on another manager`);
  }
  return undefined;
}

type AsyncHandler = (...args: never[]) => Promise<unknown>;

/**
 * The control API's handlers with Raft failures explained (explainConsensusError); Raft's own message
 * goes to the daemon log. Both ways in use them: remote managers' calls and this manager's CLI.
 */
export function explainingConsensusErrors<H extends Record<string, AsyncHandler>>(
  handlers: H,
  log: { warn(fields: object, message: string): void },
): H {
  const out: Record<string, AsyncHandler> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    out[name] = async (...args: never[]) => {
      try {
        return await handler(...args);
      } catch (err) {
        const explained = explainConsensusError(err);
        if (!explained) throw err;
        log.warn({ rpc: name, err: err instanceof Error ? err.message : String(err) }, explained.message);
        throw explained;
      }
    };
  }
  return out as H;
}
