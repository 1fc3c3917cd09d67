// Running a control-API call from a manager's local API: here when this manager leads, otherwise at
// the leader over the manager port (a read asking for local consistency: always here). Elections take a second or two, so a missing or silent leader is
// waited for briefly; a swarm that stays leaderless has lost its quorum, and the error says so.
import * as grpc from '@grpc/grpc-js';
import { UserError } from '../lib/errors.js';
import { services, type ControlCalls, type ControlClient } from '../api/rpc.js';
import { MANAGER_CHANNEL_OPTIONS } from './ca/credentials.js';
import type { ExecInput, ExecOutput, LogMessage } from './dispatcher/node-work.js';
import type { ExecOutput__Output } from '../api/gen/swarmlite/objects/v1/ExecOutput.js';
import type { LogMessage__Output } from '../api/gen/swarmlite/objects/v1/LogMessage.js';
import type { ExecRequest, LogsRequest, Sink } from './controlapi/streams.js';
import { callLeader } from './leadership.js';
import type { Manager } from './manager.js';
import { rpcErrorText } from '../lib/grpc-errors.js';
import type { ReadConsistency } from './read-index.js';

const ELECTION_WAIT_MS = 3_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RouteOptions {
  /** Managers to try after the leader this manager knows of. */
  managers: string[];
  credentials: grpc.ChannelCredentials;
  /** A read that asked for 'local' consistency runs here, on this manager's store, leader or not. */
  consistency?: ReadConsistency;
}

/** Runs `call` on the leader's control API, e.g. `(control) => control.listNodes(req)`. */
export async function routeControl<T>(
  manager: Manager,
  call: (control: ControlCalls) => Promise<T>,
  opts: RouteOptions,
): Promise<T> {
  // No leader needed: a local read is what a caller asks for when it accepts a stale answer, also
  // (above all) while the swarm has no quorum.
  if (opts.consistency === 'local') return call(manager.controlCalls());
  for (let attempt = 1; ; attempt++) {
    await awaitLeader(manager);
    if (manager.isLeader()) return call(manager.controlCalls());
    const asked = manager.leaderAddr();
    try {
      return await callLeader({
        service: services.control(),
        call,
        managers: [...new Set([asked, ...opts.managers])],
        credentials: opts.credentials,
      });
    } catch (err) {
      const e = err as grpc.ServiceError;
      if (e.code !== grpc.status.UNAVAILABLE && e.code !== grpc.status.DEADLINE_EXCEEDED) throw err;
      if (attempt === 3)
        throw new UserError(`the swarm's leader at ${asked} did not answer: ${rpcErrorText(e)}`);
      // The leader we asked may be gone: followers notice within an election timeout.
      const until = Date.now() + ELECTION_WAIT_MS;
      while (
        manager.leaderAddr() === asked &&
        manager.raft.status().role === 'follower' &&
        Date.now() < until
      ) {
        await sleep(50);
      }
    }
  }
}

async function awaitLeader(manager: Manager): Promise<void> {
  const deadline = Date.now() + ELECTION_WAIT_MS;
  const known = () => manager.leaderAddr() && manager.raft.status().role !== 'pre-candidate';
  while (!known() && Date.now() < deadline) await sleep(50);
  if (known()) return;
  const managers = manager.raft.status().members.filter((m) => !m.learner).length;
  throw new UserError(
    `the swarm has no leader: this manager cannot reach a quorum of the ${managers} managers. ` +
      `If they are gone for good, run 'swarmlite init --force-new-cluster' on a surviving manager.`,
  );
}

// ------------------------------------------------------------------------ streaming control calls

function leaderClient(manager: Manager, credentials: grpc.ChannelCredentials): ControlClient {
  const addr = manager.leaderAddr();
  if (!addr) throw new UserError('the swarm has no leader right now (no quorum?)');
  const Control = services.control();
  return new Control(addr, credentials, MANAGER_CHANNEL_OPTIONS);
}

/** `service logs` from the local API: read here when leading, else relayed from the leader. */
export function routeLogs(
  manager: Manager,
  req: LogsRequest,
  sink: Sink<LogMessage>,
  credentials: grpc.ChannelCredentials,
): () => void {
  if (manager.isLeader()) return manager.serviceLogs(req, sink);
  const client = leaderClient(manager, credentials);
  const stream = client.serviceLogs(req);
  stream.on('data', (m: LogMessage__Output) => sink.write(m));
  stream.on('end', () => {
    client.close();
    sink.end();
  });
  stream.on('error', (err: grpc.ServiceError) => {
    client.close();
    if (err.code !== grpc.status.CANCELLED) sink.fail(new UserError(rpcErrorText(err)));
  });
  return () => stream.cancel();
}

/** `exec` from the local API: run here when leading, else through the leader's Exec stream. */
export function routeExec(
  manager: Manager,
  req: ExecRequest,
  sink: Sink<ExecOutput>,
  credentials: grpc.ChannelCredentials,
): { input(i: ExecInput): void; cancel(): void } {
  if (manager.isLeader()) return manager.exec(req, sink);
  const client = leaderClient(manager, credentials);
  return pipeExec(client.exec(), req, sink, () => client.close());
}

/** Drives a client-side exec stream (control API or dispatcher) on behalf of a local sink. */
export function pipeExec(
  stream: ReturnType<ControlClient['exec']>,
  req: ExecRequest,
  sink: Sink<ExecOutput>,
  done: () => void = () => {},
): { input(i: ExecInput): void; cancel(): void } {
  stream.write(req);
  stream.on('data', (out: ExecOutput__Output) => sink.write(out));
  stream.on('end', () => {
    done();
    sink.end();
  });
  stream.on('error', (err: grpc.ServiceError) => {
    done();
    if (err.code !== grpc.status.CANCELLED) sink.fail(new UserError(rpcErrorText(err)));
  });
  return { input: (input) => stream.write({ input }), cancel: () => stream.cancel() };
}
