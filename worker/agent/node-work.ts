// The node's side of log reads and exec sessions (manager/dispatcher/node-work.ts is the leader's):
// each request from the Subscriptions stream is served from the executor and answered on its own
// stream, so a follow that lasts an hour never blocks anything else. A close from the manager (the
// user pressed ^C) aborts the read or kills the command.
import type { Logger } from '../../lib/log.js';
import type { Executor, ExecHandle } from './executor.js';
import type { ExecOutput } from '../../api/gen/swarmlite/objects/v1/ExecOutput.js';
import type { LogMessage } from '../../api/gen/swarmlite/objects/v1/LogMessage.js';
import type { ExecInputMessage, NodeWorkRequest } from './session.js';
import type { DispatcherClient } from '../../api/rpc.js';
import { PassThrough } from 'node:stream';

export interface NodeWorkSession {
  on(event: 'work', listener: (req: NodeWorkRequest) => void): unknown;
  off(event: 'work', listener: (req: NodeWorkRequest) => void): unknown;
  publishLogs(): ReturnType<DispatcherClient['publishLogs']> | undefined;
  execAttach(): ReturnType<DispatcherClient['execAttach']> | undefined;
}

const LOG_BATCH_LINES = 200;
const LOG_BATCH_MS = 50;

export class NodeWorkServer {
  private readonly live = new Map<string, () => void>();
  private session: NodeWorkSession | undefined;
  private readonly onWork = (req: NodeWorkRequest) => this.handle(req);

  constructor(
    private readonly executor: Executor,
    private readonly log: Logger,
  ) {}

  attach(session: NodeWorkSession): void {
    this.detach();
    this.session = session;
    session.on('work', this.onWork);
  }

  detach(): void {
    this.session?.off('work', this.onWork);
    this.session = undefined;
    for (const cancel of this.live.values()) cancel();
    this.live.clear();
  }

  private handle(req: NodeWorkRequest): void {
    if (req.close) {
      this.live.get(req.id)?.();
      this.live.delete(req.id);
      return;
    }
    if (req.logs) void this.serveLogs(req.id, req.logs);
    else if (req.exec) void this.serveExec(req.id, req.exec);
  }

  private async serveLogs(id: string, work: NonNullable<NodeWorkRequest['logs']>): Promise<void> {
    const out = this.session?.publishLogs();
    if (!out) return;
    const abort = new AbortController();
    this.live.set(id, () => abort.abort());
    let batch: LogMessage[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      if (batch.length === 0) return;
      out.write({ subscriptionId: id, messages: batch });
      batch = [];
    };
    let error = '';
    try {
      // Tasks one after the other when not following; followed tasks run side by side.
      const reads = work.taskIds.map(async (taskId) => {
        const lines = this.executor.logs(taskId, {
          tail: work.tail >= 0 ? work.tail : undefined,
          follow: work.follow,
          signal: abort.signal,
        });
        for await (const l of lines) {
          batch.push({ taskId, stream: l.stream, time: l.time, line: l.line });
          if (batch.length >= LOG_BATCH_LINES) flush();
          else timer ??= setTimeout(flush, LOG_BATCH_MS);
        }
      });
      await Promise.all(reads);
    } catch (err) {
      if (!abort.signal.aborted) error = (err as Error).message;
    } finally {
      this.live.delete(id);
      flush();
      out.write({ subscriptionId: id, close: true, error });
      out.end();
    }
  }

  private async serveExec(id: string, work: NonNullable<NodeWorkRequest['exec']>): Promise<void> {
    const stream = this.session?.execAttach();
    if (!stream) return;
    const send = (output: ExecOutput) => stream.write({ subscriptionId: id, output });
    stream.write({ subscriptionId: id });
    let handle: ExecHandle | undefined;
    const stdin = work.stdin ? new PassThrough() : undefined;
    try {
      handle = await this.executor.exec(work.taskId, work.argv, { tty: work.tty, stdin });
    } catch (err) {
      send({ exited: true, exitCode: 126, error: (err as Error).message });
      stream.end();
      return;
    }
    const h = handle;
    this.live.set(id, () => h.kill('SIGKILL'));
    stream.on('data', (input: ExecInputMessage) => {
      if (input.stdin && input.stdin.length > 0) stdin?.write(input.stdin);
      if (input.stdinEof) stdin?.end();
      if (input.signal) h.kill(input.signal as NodeJS.Signals);
    });
    stream.on('error', () => h.kill('SIGKILL'));
    h.stdout.on('data', (d: Buffer) => send({ stdout: d }));
    h.stderr.on('data', (d: Buffer) => send({ stderr: d }));
    // Output first, then the exit code: the streams' ends are awaited before reporting it.
    const ended = (s: NodeJS.ReadableStream) => new Promise<void>((r) => s.once('end', () => r()));
    const [code] = await Promise.all([h.exit, ended(h.stdout), ended(h.stderr)]);
    this.live.delete(id);
    send({ exited: true, exitCode: code });
    stream.end();
    this.log.debug({ task: work.taskId, code }, 'exec finished');
  }
}
