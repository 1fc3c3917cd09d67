// The CLI's connection to a daemon's local API. The daemon is picked like Docker's: -H/--host, then
// SWARMLITE_HOST, then the default socket; an unreachable daemon is one clear line and exit 1.
import * as grpc from '@grpc/grpc-js';
import { accessSync, constants } from 'node:fs';
import { UserError } from '../lib/errors.js';
import { unary } from '../lib/grpc.js';
import { rpcErrorText } from '../lib/grpc-errors.js';
import { services, type LocalApiClient } from '../api/rpc.js';
import { DEFAULT_SOCKET } from './options.js';

export interface InfoResponse {
  nodeId: string;
  hostname: string;
  swarmState: string;
  version: string;
  nodeVersion: string;
  kernel: string;
  dataRoot: string;
  execRoot: string;
  netnsPrefix: string;
  advertiseAddr: string;
  pid: number;
  tools: Record<string, string>;
  clusterId: string;
  role: string;
  isLeader: boolean;
  leaderAddr: string;
  managerAddrs: string[];
  nodes: number;
  managers: number;
  raftStatus: string;
  swarmError: string;
  /** Refused network input by kind since the daemon started (lib/rejects.ts). */
  rejects: Record<string, number>;
}

export interface VersionResponse {
  version: string;
  apiVersion: string;
  nodeVersion: string;
  os: string;
  arch: string;
  kernel: string;
}

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

export function localInfo(client: grpc.Client, timeoutMs = 5_000): Promise<InfoResponse> {
  return unary<object, InfoResponse>(client, 'info', {}, timeoutMs);
}

export function localVersion(client: grpc.Client, timeoutMs = 5_000): Promise<VersionResponse> {
  return unary<object, VersionResponse>(client, 'version', {}, timeoutMs);
}

/** Runs one call against the daemon at `target`, closing the channel afterwards. */
export async function withDaemon<T>(target: string, fn: (client: LocalApiClient) => Promise<T>): Promise<T> {
  const client = daemonClient(target);
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw explainRpcError(target, err);
  } finally {
    client.close();
  }
}
