// Leader-only RPCs. The control API, the dispatcher and certificate issuance write to the store, and
// only the Raft leader proposes; a follower answers FAILED_PRECONDITION with the leader's address in
// the trailing metadata, and callers (callLeader below, the dispatcher session) go there instead.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from './ca/authz.js';
import { MANAGER_CHANNEL_OPTIONS } from './ca/credentials.js';
import { serviceClient } from '../lib/grpc.js';

export const LEADER_ADDR_METADATA = 'swarmlite-leader-addr';

export interface LeaderInfo {
  isLeader(): boolean;
  /** host:port of the current leader's manager port, '' while unknown. */
  leaderAddr(): string;
}

export function notLeaderError(leader: LeaderInfo): GrpcError {
  const addr = leader.leaderAddr();
  const err = new GrpcError(
    grpc.status.FAILED_PRECONDITION,
    addr
      ? `this manager is not the leader; the leader is ${addr}`
      : 'the swarm has no leader right now (no quorum?)',
  );
  if (addr) err.metadata.set(LEADER_ADDR_METADATA, addr);
  return err;
}

type UnaryImpl = grpc.handleUnaryCall<unknown, unknown>;

/** Wraps unary handlers so followers redirect to the leader. */
export function leaderOnlyUnary(leader: LeaderInfo, impl: UnaryImpl): UnaryImpl {
  return (call, callback) => {
    if (!leader.isLeader()) return callback(notLeaderError(leader));
    impl(call, callback);
  };
}

/**
 * Calls a unary method on the leader: tries the given managers in order, follows at most a few
 * redirects, and gives up with the last error. `method` is the RPC's camelCase name.
 */
export async function callLeader<Res>(opts: {
  protoFile: string;
  service: string;
  method: string;
  request: object;
  managers: string[];
  credentials: grpc.ChannelCredentials;
  timeoutMs?: number;
}): Promise<Res> {
  const Client = serviceClient(opts.protoFile, opts.service);
  const queue = [...opts.managers];
  const tried = new Set<string>();
  let redirects = 0;
  let lastError: unknown = new Error('no manager address known');
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (queue.length > 0 && Date.now() < deadline) {
    const addr = queue.shift()!;
    if (tried.has(addr)) continue;
    tried.add(addr);
    const client = new Client(addr, opts.credentials, MANAGER_CHANNEL_OPTIONS);
    try {
      return await new Promise<Res>((resolve, reject) => {
        const fn = (client as unknown as Record<string, (...a: unknown[]) => void>)[opts.method]!;
        fn.call(client, opts.request, { deadline }, (err: grpc.ServiceError | null, res: Res) =>
          err ? reject(err) : resolve(res),
        );
      });
    } catch (err) {
      lastError = err;
      const e = err as grpc.ServiceError;
      const leader = e.metadata?.get(LEADER_ADDR_METADATA)[0];
      if (e.code === grpc.status.FAILED_PRECONDITION && typeof leader === 'string' && redirects++ < 3) {
        // Leadership may have moved since the last try there: a redirect earns the leader another try.
        tried.delete(leader);
        queue.unshift(leader);
        continue;
      }
      if (e.code === grpc.status.FAILED_PRECONDITION) {
        await new Promise((r) => setTimeout(r, 200)); // no leader yet: an election is under way
        tried.delete(addr);
        queue.push(addr);
        continue;
      }
      if (e.code !== grpc.status.UNAVAILABLE && e.code !== grpc.status.DEADLINE_EXCEEDED) throw err;
    } finally {
      client.close();
    }
  }
  throw lastError;
}
