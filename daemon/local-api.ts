// The local API server: gRPC over the daemon's unix socket. Access control is the socket file's
// mode (0600, root-only) inside a 0700 folder: whoever can open it is the host's administrator,
// exactly as with Docker's socket.
import * as grpc from '@grpc/grpc-js';
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { UserError } from '../lib/errors.js';
import { serviceClient } from '../lib/grpc.js';
import type { Logger } from '../lib/log.js';

export type UnaryHandler<Req, Res> = (request: Req) => Promise<Res>;

export interface LocalApiHandlers {
  version: UnaryHandler<object, object>;
  info: UnaryHandler<object, object>;
}

function wrap<Req, Res>(
  log: Logger,
  name: string,
  handler: UnaryHandler<Req, Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => {
        log.warn({ rpc: name, err }, 'local API call failed');
        const message = err instanceof Error ? err.message : String(err);
        callback({ code: grpc.status.UNKNOWN, details: message, name: 'Error', message });
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
  handlers: LocalApiHandlers,
  log: Logger,
): Promise<grpc.Server> {
  mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
  chmodSync(dirname(socket), 0o700);
  await clearStaleSocket(socket);
  const server = new grpc.Server();
  const service = serviceClient('local.proto', 'swarmlite.local.v1.LocalApi').service;
  server.addService(service, {
    version: wrap(log, 'Version', handlers.version),
    info: wrap(log, 'Info', handlers.info),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  chmodSync(socket, 0o600);
  return server;
}
