// The manager port's listener, bound with the swarm's TLS and watched for failed handshakes.
//
// A connection that never completes TLS (garbage bytes, a port scan, a client that hangs up during the
// handshake) never reaches an RPC, so the per-RPC refusals of authz.ts do not see it; grpc-js handles no
// 'tlsClientError' and Node then drops such a socket silently. Each one is noted in the daemon's reject
// log instead: counted by kind, and one line per source per interval, however many arrive.
import * as grpc from '@grpc/grpc-js';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { rejected } from '../../lib/rejects.js';
import { managerServerCredentials, type TlsMaterial, type TlsMaterialProvider } from './credentials.js';

export const HANDSHAKE_REJECT_KIND = 'tls:handshake-failed';

const watched = new WeakSet<TlsServer>();

/** Binds `server` on `addr` with the manager's TLS; returns the port. Failed handshakes are logged. */
export async function bindManagerPort(
  server: grpc.Server,
  addr: string,
  tls: TlsMaterial | TlsMaterialProvider,
): Promise<number> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(addr, managerServerCredentials(tls), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const hooked = watchHandshakes(server);
  if (hooked === 0) throw new Error(`manager port ${addr}: no TLS listener found to watch handshakes on`);
  return port;
}

/**
 * grpc-js keeps its HTTP/2 listeners in a private field and offers no hook for handshake errors, so they
 * are reached by name; a grpc-js that renamed the field makes bindManagerPort throw (and its test fail)
 * instead of silently losing the log. Returns how many listeners are watched.
 */
function watchHandshakes(server: grpc.Server): number {
  const listeners: unknown = server['http2Servers'];
  if (!(listeners instanceof Map)) return 0;
  let count = 0;
  for (const listener of listeners.keys()) {
    if (!(listener instanceof TlsServer)) continue;
    count++;
    if (watched.has(listener)) continue;
    watched.add(listener);
    listener.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      const source = socket.remoteAddress ?? 'unknown';
      rejected(HANDSHAKE_REJECT_KIND, source, `TLS handshake on the manager port failed: ${err.message}`);
    });
  }
  return count;
}
