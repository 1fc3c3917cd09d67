// Supervising a socket helper (task-sockets.ts, socket-batch.ts): started with an IPC channel, the
// tail of its stderr kept, killed by its pid if it has not finished in time, and its end reported
// once, after the channel has delivered everything it sent.
import { spawn } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server } from 'node:net';

/** What either helper hands over for one task namespace: both bound at 127.0.0.11:53 there. */
export interface TaskSockets {
  udp: UdpSocket;
  tcp: Server;
}

export type HelperEnd =
  | { kind: 'exited'; ok: boolean; text: string }
  | { kind: 'timeout'; ms: number }
  | { kind: 'spawn-failed'; message: string };

export interface Helper {
  /** SIGKILL, if it still runs (the caller has what it needs, or gave up). */
  kill(): void;
}

export function superviseHelper(opts: {
  file: string;
  args: string[];
  timeoutMs: number;
  onMessage(msg: unknown, handle: unknown): void;
  onEnd(end: HelperEnd): void;
}): Helper {
  let stderr = '';
  let ended = false;
  const child = spawn(opts.file, opts.args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const end = (e: HelperEnd) => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    kill();
    opts.onEnd(e);
  };
  const timer = setTimeout(() => end({ kind: 'timeout', ms: opts.timeoutMs }), opts.timeoutMs);
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  child.on('error', (err) => end({ kind: 'spawn-failed', message: err.message }));
  child.on('message', (msg: unknown, handle: unknown) => opts.onMessage(msg, handle));
  child.on('exit', (code, signal) => {
    const settle = () =>
      setImmediate(() => {
        const said = stderr.trim().split('\n').slice(-2).join('; ');
        end({
          kind: 'exited',
          ok: code === 0,
          text: `${signal ?? `code ${code}`}${said ? `: ${said}` : ''}`,
        });
      });
    // A helper that exits 0 has sent its handles, but on a loaded machine its exit can be seen
    // before the channel has delivered them: they come before the channel reports 'disconnect'.
    if (code === 0 && child.connected) child.once('disconnect', settle);
    else settle();
  });
  return { kill };
}

/** The error for a helper that ended without handing over what `where` needed. */
export function helperError(where: string, e: HelperEnd): Error {
  if (e.kind === 'timeout')
    return new Error(`dns: cannot open ${where}: the socket helper did not finish within ${e.ms} ms`);
  if (e.kind === 'spawn-failed')
    return new Error(`dns: cannot start the socket helper for ${where}: ${e.message}`);
  return new Error(`dns: cannot open ${where}: the socket helper exited (${e.text})`);
}
