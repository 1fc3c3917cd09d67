// Getting a UDP socket and a TCP listener bound at 127.0.0.11:53 inside a task's network namespace:
// a process can only bind in the namespace it is in, and the daemon must stay in its own, so a short
// helper (socket-helper.ts) is started in the task's namespace with nsenter, binds there and passes
// both to the daemon through Node's IPC channel (SCM_RIGHTS underneath). One resolver in the daemon
// then serves every task's sockets. Where perl and setns(2) are at hand, the binding is batched
// across namespaces instead (socket-batch.ts): one helper run for all the tasks starting together.
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { findTool } from '../lib/exec.js';
import { helperError, superviseHelper, type TaskSockets } from './helper-process.js';
import { SocketBatcher } from './socket-batch.js';

export type { TaskSockets };

export interface OpenOptions {
  address?: string;
  port?: number;
  /** The helper is killed (by its pid) and the open fails if it has not handed both over by then. */
  timeoutMs?: number;
  /** false: one nsenter'd helper for this namespace alone, even where batching is possible. */
  batch?: boolean;
}

export const HELPER = fileURLToPath(new URL('./socket-helper.js', import.meta.url));

const batchers = new Map<string, SocketBatcher>();
let batching: boolean | undefined;

export function openTaskSockets(netnsPath: string, opts: OpenOptions = {}): Promise<TaskSockets> {
  const address = opts.address ?? '127.0.0.11';
  const port = opts.port ?? 53;
  // The helper is a Node process: on a machine loaded to 20 runnable processes per core its start
  // alone took over 5 s, and a task must not lose its DNS to that. 30 s still ends a hung helper.
  const timeoutMs = opts.timeoutMs ?? 30_000;
  batching ??= SocketBatcher.available();
  if (!batching || opts.batch === false) return openOne(netnsPath, address, port, timeoutMs);
  const key = `${address}:${port}:${timeoutMs}`;
  let batcher = batchers.get(key);
  if (!batcher) batchers.set(key, (batcher = new SocketBatcher(HELPER, address, port, timeoutMs)));
  return batcher.open(netnsPath);
}

/** One helper, started in the namespace with nsenter, for one task. */
function openOne(netnsPath: string, address: string, port: number, timeoutMs: number): Promise<TaskSockets> {
  const where = `${address}:${port} in ${netnsPath}`;
  return new Promise((resolve, reject) => {
    let udp: UdpSocket | undefined;
    let tcp: Server | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      helper.kill();
      if (err) {
        udp?.close();
        tcp?.close();
        reject(err);
      } else resolve({ udp: udp!, tcp: tcp! });
    };
    const helper = superviseHelper({
      file: findTool('nsenter'),
      args: [`--net=${netnsPath}`, '--', process.execPath, HELPER, address, String(port)],
      timeoutMs,
      onMessage: (msg, handle) => {
        if (msg === 'udp' && handle) udp = handle as UdpSocket;
        else if (msg === 'tcp' && handle) tcp = handle as Server;
        else if (typeof msg === 'object' && msg !== null && 'error' in msg)
          return finish(new Error(`dns: cannot open ${where}: ${String((msg as { error: unknown }).error)}`));
        if (udp && tcp) finish();
      },
      onEnd: (e) => finish(udp && tcp ? undefined : helperError(where, e)),
    });
  });
}
