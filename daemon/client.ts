// The CLI's connection to a daemon's local API. The daemon is picked like Docker's: -H/--host, then
// SWARMLITE_HOST, then the default socket; an unreachable daemon is one clear line and exit 1.
import * as grpc from '@grpc/grpc-js';
import { accessSync, constants } from 'node:fs';
import { UserError } from '../lib/errors.js';
import { rpcErrorText } from '../lib/grpc-errors.js';
import { unaryCalls, type UnaryCalls } from '../api/calls.js';
import { services, type LocalApiClient } from '../api/rpc.js';
import type { InfoResponse__Output } from '../api/gen/swarmlite/local/v1/InfoResponse.js';
import type { VersionResponse__Output } from '../api/gen/swarmlite/local/v1/VersionResponse.js';
import { DEFAULT_SOCKET } from './options.js';

/** The local API's unary calls as promises: `calls.listNodes({})`, typed by proto/local.proto. */
export type LocalCalls = UnaryCalls<LocalApiClient>;

export type { InfoResponse__Output } from '../api/gen/swarmlite/local/v1/InfoResponse.js';
export type { VersionResponse__Output } from '../api/gen/swarmlite/local/v1/VersionResponse.js';

/** Normalizes a host to a grpc target: 'unix:///path', or a bare absolute path. */
export function resolveHost(flag: string | undefined, env = process.env): string {
  const raw = flag ?? env.SWARMLITE_HOST ?? `unix://${DEFAULT_SOCKET}`;
  if (raw.startsWith('unix:///')) return raw;
  if (raw.startsWith('/')) return `unix://${raw}`;
  throw new UserError(`invalid host '${raw}': use unix:///path/to/swarmlite.sock`, 2);
}

export function daemonClient(target: string): LocalApiClient {
  const LocalApi = services.local();
  return new LocalApi(target, grpc.credentials.createInsecure());
}

/** Translates transport failures into the one line a user needs. */
export function explainRpcError(target: string, err: unknown): Error {
  const e = err as Partial<grpc.ServiceError>;
  if (e.code === grpc.status.DEADLINE_EXCEEDED) {
    return new UserError(`the swarmlite daemon at ${target} did not answer in time`);
  }
  if (e.code === grpc.status.UNAVAILABLE) return unreachableDaemon(target, socketProblem(target));
  return new UserError(rpcErrorText(err));
}

/** Why this process cannot open the socket of `target` (an errno code such as EACCES), if it cannot. */
function socketProblem(target: string): string | undefined {
  try {
    accessSync(target.slice('unix://'.length), constants.R_OK | constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
}

/**
 * The line for a daemon the CLI could not connect to, by what opening its socket says: a socket the
 * user may not open is not a daemon that is down, and is not fixed by starting one.
 */
export function unreachableDaemon(target: string, problem: string | undefined): UserError {
  const path = target.slice('unix://'.length);
  if (problem === 'EACCES' || problem === 'EPERM') {
    return new UserError(
      `permission denied on the swarmlite daemon's socket ${path}: only root may use it. ` +
        `Run the command as root (e.g. with sudo).`,
    );
  }
  if (problem === 'ENOENT' || problem === 'ENOTDIR') {
    return new UserError(
      `Cannot connect to the swarmlite daemon at ${target}: no socket at ${path}. Is the daemon running? ` +
        `Start it with 'swarmlite daemon' (as root), or point -H/SWARMLITE_HOST at its socket.`,
    );
  }
  return new UserError(
    `Cannot connect to the swarmlite daemon at ${target}. Is the daemon running? ` +
      `Start it with 'swarmlite daemon' (as root), or point -H/SWARMLITE_HOST at its socket.`,
  );
}

/** The typed unary calls on `client` (each with its own deadline, 10 s unless given). */
export function localCalls(client: LocalApiClient): LocalCalls {
  return unaryCalls(client, services.local().service);
}

export function localInfo(client: LocalApiClient, timeoutMs = 5_000): Promise<InfoResponse__Output> {
  return localCalls(client).info({}, timeoutMs);
}

export function localVersion(client: LocalApiClient, timeoutMs = 5_000): Promise<VersionResponse__Output> {
  return localCalls(client).version({}, timeoutMs);
}

/**
 * Runs `fn` against the daemon at `target` with its typed calls (and the client, for the streaming
 * calls), closing the channel afterwards; transport failures become the one line a user needs.
 */
export async function withDaemon<T>(
  target: string,
  fn: (calls: LocalCalls, client: LocalApiClient) => Promise<T>,
): Promise<T> {
  const client = daemonClient(target);
  try {
    return await fn(localCalls(client), client);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw explainRpcError(target, err);
  } finally {
    client.close();
  }
}
