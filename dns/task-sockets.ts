// Getting a UDP socket and a TCP listener bound at 127.0.0.11:53 inside a task's network namespace:
// a process can only bind in the namespace it is in, and the daemon must stay in its own, so a short
// helper (socket-helper.ts) is started in the task's namespace with nsenter, binds there and passes
// both to the daemon through Node's IPC channel (SCM_RIGHTS underneath). One resolver in the daemon
// then serves every task's sockets. Where perl and setns(2) are at hand, the binding is batched
// across namespaces instead (socket-batch.ts): one helper run for all the tasks starting together.
import { spawn } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { findTool } from '../lib/exec.js';
import { SocketBatcher } from './socket-batch.js';

export interface TaskSockets {
  udp: UdpSocket;
  tcp: Server;
}

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
  batching ??= SocketBatcher.available();
  if (!batching || opts.batch === false) return openOne(netnsPath, opts);
  const address = opts.address ?? '127.0.0.11';
  const port = opts.port ?? 53;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const key = `${address}:${port}:${timeoutMs}`;
  let batcher = batchers.get(key);
  if (!batcher) batchers.set(key, (batcher = new SocketBatcher(HELPER, address, port, timeoutMs)));
  return batcher.open(netnsPath);
}

/** One helper, started in the namespace with nsenter, for one task. */
function openOne(netnsPath: string, opts: OpenOptions): Promise<TaskSockets> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const where = `127.0.0.11:53 in ${netnsPath}`;
  return new Promise((resolve, reject) => {
    let udp: UdpSocket | undefined;
    let tcp: Server | undefined;
    let stderr = '';
    let settled = false;
    const child = spawn(
      findTool('nsenter'),
      [
        `--net=${netnsPath}`,
        '--',
        process.execPath,
        HELPER,
        opts.address ?? '127.0.0.11',
        String(opts.port ?? 53),
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
    );
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        udp?.close();
        tcp?.close();
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(err);
      } else resolve({ udp: udp!, tcp: tcp! });
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(`dns: cannot open ${where}: the socket helper did not finish within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.on('error', (err) =>
      finish(new Error(`dns: cannot start the socket helper for ${where}: ${err.message}`)),
    );
    child.on('message', (msg: unknown, handle: unknown) => {
      if (msg === 'udp' && handle) udp = handle as UdpSocket;
      else if (msg === 'tcp' && handle) tcp = handle as Server;
      else if (typeof msg === 'object' && msg !== null && 'error' in msg)
        return finish(
          new Error(`dns: ${String((msg as { error: unknown }).error)} (namespace ${netnsPath})`),
        );
      if (udp && tcp) finish();
    });
    child.on('exit', (code, signal) => {
      const settle = () =>
        setImmediate(() => {
          if (udp && tcp) return finish();
          const said = stderr.trim().split('\n').slice(-2).join('; ');
          finish(
            new Error(
              `dns: cannot open ${where}: the socket helper exited (${signal ?? `code ${code}`})${said ? `: ${said}` : ''}`,
            ),
          );
        });
      // A helper that exits 0 has sent both handles, but on a loaded machine its exit can be seen
      // before the channel has delivered them: they come before the channel reports 'disconnect'.
      if (code === 0 && child.connected) child.once('disconnect', settle);
      else settle();
    });
  });
}
