// The local API server: gRPC over the daemon's unix socket. Access control is the socket file's
// mode (0600, root-only) inside a 0700 folder: whoever can open it is the host's administrator,
// exactly as with Docker's socket.
import * as grpc from '@grpc/grpc-js';
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { UserError } from '../lib/errors.js';
import { serveUnary, type UnaryHandlers } from '../api/calls.js';
import { services, type LocalApiClient, type LocalApiDefinition, type LocalApiHandlers } from '../api/rpc.js';
import type { Logger } from '../lib/log.js';
import { rpcErrorText } from '../lib/grpc-errors.js';

/** The unary RPCs of proto/local.proto as promise handlers (e.g. `Info`, `ListNodes`): all of them. */
export type LocalUnaryHandlers = UnaryHandlers<LocalApiClient, LocalApiDefinition>;

/**
 * Streaming RPCs (service logs, exec, image pull/push/load/save) take the raw call; they report
 * failures on it themselves.
 */
export type LocalApiStreams = Pick<
  LocalApiHandlers,
  | 'ServiceLogs'
  | 'Exec'
  | 'ImagePull'
  | 'ImagePush'
  | 'ImageLoad'
  | 'ImageSave'
  | 'ContainerLogs'
  | 'ContainerExec'
>;

/** An error that is neither a refusal for the user nor a status from a manager: a bug or a surprise. */
function isUnexpected(err: unknown): boolean {
  return !(err instanceof UserError) && typeof (err as Partial<grpc.ServiceError>).code !== 'number';
}

/**
 * A user-facing refusal keeps its message; a gRPC error from a manager keeps its code and details
 * (connection texts in plain words); anything else is INTERNAL, said as the daemon's failure, its
 * stack left to the daemon log.
 */
export function toStatus(err: unknown): grpc.ServiceError {
  const e = err as Partial<grpc.ServiceError>;
  const message = isUnexpected(err)
    ? `the swarmlite daemon failed: ${rpcErrorText(err)} (its log has the details)`
    : rpcErrorText(err);
  const code =
    err instanceof UserError
      ? grpc.status.FAILED_PRECONDITION
      : typeof e.code === 'number'
        ? e.code
        : grpc.status.INTERNAL;
  // UNAVAILABLE/DEADLINE_EXCEEDED would read as "no daemon" to the CLI: a manager being away is a
  // failed precondition here.
  const mapped =
    code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED
      ? grpc.status.FAILED_PRECONDITION
      : code;
  return Object.assign(new Error(message), { code: mapped, details: message, metadata: new grpc.Metadata() });
}

function wrap(
  log: Logger,
  name: string,
  handler: (request: unknown) => Promise<unknown>,
): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    handler(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (isUnexpected(err)) log.error({ rpc: name, err }, 'local API call failed unexpectedly');
        else log.info({ rpc: name, err: rpcErrorText(err) }, 'local API call refused');
        callback(toStatus(err));
      },
    );
  };
}

/** True when some process accepts connections on the unix socket at `path`. */
export function socketIsServed(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect(path);
    conn.once('connect', () => {
      conn.destroy();
      resolve(true);
    });
    conn.once('error', () => resolve(false));
  });
}

/**
 * Removes a socket file left by a daemon that died. A live socket belongs to another daemon (with
 * another data root) and is never taken over; a path that is not a socket is never removed.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = statSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw new UserError(`${path} exists and is not a socket; refusing to replace it`);
  if (await socketIsServed(path)) {
    throw new UserError(`another daemon is already serving ${path}; stop it first or pick another --socket`);
  }
  rmSync(path, { force: true });
}

export async function serveLocalApi(
  socket: string,
  handlers: LocalUnaryHandlers,
  log: Logger,
  streams: LocalApiStreams,
): Promise<grpc.Server> {
  // A folder made here is private; an existing one (/run, /tmp, ...) is left as it is: the socket
  // file's own mode keeps it root-only.
  if (mkdirSync(dirname(socket), { recursive: true, mode: 0o700 })) chmodSync(dirname(socket), 0o700);
  await clearStaleSocket(socket);
  const server = new grpc.Server();
  const impl: LocalApiHandlers = {
    ...serveUnary<LocalApiHandlers, LocalUnaryHandlers>(handlers, (name, handler) =>
      wrap(log, name, handler),
    ),
    ...streams,
  };
  server.addService(services.local().service, impl);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  chmodSync(socket, 0o600);
  return server;
}
