// The control API's two streaming calls, run on the leader: `service logs` gathers log lines from every
// node that holds one of the tasks, `exec` runs a command in a task on its node. Both go through the
// dispatcher's relay (nodes have no listening port). Written against small sinks so the same code
// serves a remote manager's gRPC stream and the leader's own local API.
import * as grpc from '@grpc/grpc-js';
import { GrpcError } from '../ca/authz.js';
import type { ExecInput, ExecOutput, LogMessage, NodeWorkRelay } from '../dispatcher/node-work.js';
import type { Task } from '../../api/objects/index.js';
import type { ExecRequest__Output } from '../../api/gen/swarmlite/control/v1/ExecRequest.js';
import type { ServiceLogsRequest__Output } from '../../api/gen/swarmlite/control/v1/ServiceLogsRequest.js';
import type { ControlHandlers } from '../../api/rpc.js';

export interface Sink<T> {
  write(msg: T): void;
  end(): void;
  fail(err: Error): void;
}

export interface StreamDeps {
  relay: NodeWorkRelay;
  /** Tasks named by service or task refs (throws a GrpcError for an unknown ref). */
  tasksFor(refs: string[]): Task[];
  /** One task by ref. */
  findTask(ref: string): Task;
}

/** `service logs` as decoded (proto/control.proto ServiceLogsRequest). */
export type LogsRequest = ServiceLogsRequest__Output;

/** Starts a log read; returns the function that cancels it (the client went away). */
export function streamLogs(deps: StreamDeps, req: LogsRequest, sink: Sink<LogMessage>): () => void {
  if (!req.refs || req.refs.length === 0) {
    throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'name at least one service or task');
  }
  const tasks = deps.tasksFor(req.refs).filter((t) => t.nodeId !== '');
  const byNode = new Map<string, string[]>();
  for (const t of tasks) byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t.id]);
  const connected = [...byNode.keys()].filter((n) => deps.relay.isConnected(n));
  if (connected.length === 0) {
    // Nothing was ever placed, or no node holding a task is connected: nothing to read.
    sink.end();
    return () => {};
  }
  let open = connected.length;
  const cancels: (() => void)[] = [];
  for (const nodeId of connected) {
    cancels.push(
      deps.relay.requestLogs(
        nodeId,
        { taskIds: byNode.get(nodeId)!, follow: req.follow, tail: req.tail },
        {
          messages: (batch) => batch.forEach((m) => sink.write(m)),
          closed: () => {
            if (--open === 0) sink.end();
          },
        },
      ),
    );
  }
  return () => cancels.forEach((c) => c());
}

/** An exec stream's first message as decoded (proto/control.proto ExecRequest); `input` comes later. */
export type ExecRequest = Omit<ExecRequest__Output, 'input'>;

/** Starts an exec session; `input` forwards stdin and signals once the node has attached. */
export function startExec(
  deps: StreamDeps,
  req: ExecRequest,
  sink: Sink<ExecOutput>,
): { input(i: ExecInput): void; cancel(): void } {
  if (!req.argv || req.argv.length === 0)
    throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'no command given');
  const task = deps.findTask(req.task);
  if (task.status.state !== 'running' || task.desiredState !== 'running') {
    throw new GrpcError(
      grpc.status.FAILED_PRECONDITION,
      `task ${task.serviceName}.${task.slot || task.nodeId} (${task.id}) is not running (${task.status.state})`,
    );
  }
  const queued: ExecInput[] = [];
  let send: ((i: ExecInput) => void) | undefined;
  let done = false;
  const cancel = deps.relay.requestExec(
    task.nodeId,
    { taskId: task.id, argv: req.argv, tty: req.tty, stdin: req.stdin },
    {
      attached: (s) => {
        send = s;
        for (const i of queued.splice(0)) s(i);
      },
      output: (out) => {
        sink.write(out);
        if (out.exited && !done) {
          done = true;
          sink.end();
        }
      },
      closed: (error) => {
        if (done) return;
        done = true;
        sink.fail(new GrpcError(grpc.status.UNAVAILABLE, error ?? 'the exec session ended'));
      },
    },
  );
  return {
    input: (i) => (send ? send(i) : queued.push(i)),
    cancel: () => {
      done = true;
      cancel();
    },
  };
}

export interface ExecSession {
  input(i: ExecInput): void;
  cancel(): void;
}

/** An Exec stream as the control, dispatcher and local services declare it (one request type). */
type ExecCall = Parameters<ControlHandlers['Exec']>[0];

/**
 * Serves an exec stream: the first message opens the session (after `authorize`), later ones carry
 * stdin and signals. Shared by the control API (managers), the dispatcher (any node) and the local API.
 */
export function serveExecCall(
  call: ExecCall,
  open: (req: ExecRequest, sink: Sink<ExecOutput>) => ExecSession,
  toError: (err: unknown) => Error,
  authorize: () => void = () => {},
): void {
  let session: ExecSession | undefined;
  call.on('cancelled', () => session?.cancel());
  call.on('data', (msg: ExecRequest__Output) => {
    try {
      if (!session) {
        authorize();
        session = open(msg, {
          write: (m) => call.write(m),
          end: () => call.end(),
          fail: (err) => call.emit('error', toError(err)),
        });
      } else if (msg.input) session.input(msg.input);
    } catch (err) {
      call.emit('error', toError(err));
    }
  });
}
