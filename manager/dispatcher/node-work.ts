// Work the leader asks of nodes beyond running tasks: reading task logs and running `exec` sessions.
// Nodes have no listening port of their own (only 2377 on managers), so every node keeps a
// Subscriptions stream open to the leader's dispatcher; a request goes down that stream with an id,
// and the node answers on a stream it opens for that id (PublishLogs, ExecAttach). This relay pairs
// them up and passes data through; it keeps no state beyond the live requests.
import * as grpc from '@grpc/grpc-js';
import type { ExecFromNode__Output } from '../../api/gen/swarmlite/dispatcher/v1/ExecFromNode.js';
import type { ExecWork } from '../../api/gen/swarmlite/dispatcher/v1/ExecWork.js';
import type { LogsWork } from '../../api/gen/swarmlite/dispatcher/v1/LogsWork.js';
import type { PublishLogsMessage__Output } from '../../api/gen/swarmlite/dispatcher/v1/PublishLogsMessage.js';
import type { PublishLogsResponse } from '../../api/gen/swarmlite/dispatcher/v1/PublishLogsResponse.js';
import type { Subscription } from '../../api/gen/swarmlite/dispatcher/v1/Subscription.js';
import type { SubscriptionsRequest__Output } from '../../api/gen/swarmlite/dispatcher/v1/SubscriptionsRequest.js';
import type { ExecInput } from '../../api/gen/swarmlite/objects/v1/ExecInput.js';
import type { ExecOutput } from '../../api/gen/swarmlite/objects/v1/ExecOutput.js';
import type { LogMessage } from '../../api/gen/swarmlite/objects/v1/LogMessage.js';
import { randomBytes } from 'node:crypto';
import { GrpcError } from '../ca/authz.js';

// The messages passed through, as sent on (proto/objects.proto): what arrives decoded fits them too.
export type { ExecInput, ExecOutput, LogMessage };

/** A node's Subscriptions stream: the leader writes requests for work down it. */
type NodeStream = grpc.ServerWritableStream<SubscriptionsRequest__Output, Subscription>;

export interface LogSink {
  messages(batch: LogMessage[]): void;
  /** The node sent everything it will send (or failed: `error`). */
  closed(error?: string): void;
}

export interface ExecPeer {
  /** The node attached its side: input goes to `send`; output arrives through `onOutput`. */
  attached(send: (input: ExecInput) => void, end: () => void): void;
  output(out: ExecOutput): void;
  closed(error?: string): void;
}

type Work = { logs: LogsWork } | { exec: ExecWork };

interface Pending {
  nodeId: string;
  logs?: LogSink;
  exec?: ExecPeer;
}

export class NodeWorkRelay {
  private readonly nodes = new Map<string, NodeStream>();
  private readonly pending = new Map<string, Pending>();

  /** A node's Subscriptions stream (after its session was checked). */
  attachNode(nodeId: string, call: NodeStream): void {
    this.nodes.get(nodeId)?.end();
    this.nodes.set(nodeId, call);
    call.on('cancelled', () => this.detachNode(nodeId, call));
  }

  private detachNode(nodeId: string, call: NodeStream): void {
    if (this.nodes.get(nodeId) !== call) return;
    this.nodes.delete(nodeId);
    for (const [id, p] of this.pending) {
      if (p.nodeId !== nodeId) continue;
      this.pending.delete(id);
      p.logs?.closed(`node ${nodeId} disconnected`);
      p.exec?.closed(`node ${nodeId} disconnected`);
    }
  }

  /** Ends every node stream (leadership lost: nodes resubscribe at the new leader). */
  closeAll(err: Error): void {
    for (const call of this.nodes.values()) call.emit('error', err);
    this.nodes.clear();
    for (const p of this.pending.values()) {
      p.logs?.closed(err.message);
      p.exec?.closed(err.message);
    }
    this.pending.clear();
  }

  isConnected(nodeId: string): boolean {
    return this.nodes.has(nodeId);
  }

  private send(nodeId: string, work: Work, entry: Pending): () => void {
    const call = this.nodes.get(nodeId);
    if (!call) throw new GrpcError(grpc.status.UNAVAILABLE, `node ${nodeId} is not connected to the leader`);
    const id = randomBytes(8).toString('hex');
    this.pending.set(id, entry);
    call.write({ id, close: false, ...work });
    return () => {
      if (!this.pending.delete(id)) return;
      this.nodes.get(nodeId)?.write({ id, close: true });
    };
  }

  /** Asks a node for task logs; returns a cancel function. */
  requestLogs(nodeId: string, work: LogsWork, sink: LogSink) {
    return this.send(nodeId, { logs: work }, { nodeId, logs: sink });
  }

  /** Asks a node to run a command in a task; the node attaches through ExecAttach. */
  requestExec(nodeId: string, work: ExecWork, peer: ExecPeer) {
    return this.send(nodeId, { exec: work }, { nodeId, exec: peer });
  }

  /** PublishLogs: a node's answer stream; only the node a request went to may answer it. */
  publishLogs(
    nodeId: string,
    call: grpc.ServerReadableStream<PublishLogsMessage__Output, PublishLogsResponse>,
    callback: grpc.sendUnaryData<PublishLogsResponse>,
  ): void {
    let subscription = '';
    call.on('data', (msg: PublishLogsMessage__Output) => {
      subscription ||= msg.subscriptionId;
      const p = this.pending.get(msg.subscriptionId);
      if (!p || p.nodeId !== nodeId || !p.logs) return; // cancelled meanwhile, or not this node's
      const batch = msg.messages.map((m) => ({ ...m, nodeId }));
      if (batch.length > 0) p.logs.messages(batch);
      if (msg.close) {
        this.pending.delete(msg.subscriptionId);
        p.logs.closed(msg.error || undefined);
      }
    });
    call.on('end', () => callback(null, {}));
    call.on('error', () => {
      const p = this.pending.get(subscription);
      if (p?.nodeId === nodeId && p.logs) {
        this.pending.delete(subscription);
        p.logs.closed(`node ${nodeId} stopped sending logs`);
      }
    });
  }

  /** ExecAttach: the node's side of an exec session, paired by the subscription id of its first message. */
  execAttach(nodeId: string, call: grpc.ServerDuplexStream<ExecFromNode__Output, ExecInput>): void {
    let peer: ExecPeer | undefined;
    let id = '';
    call.on('data', (msg: ExecFromNode__Output) => {
      if (!peer) {
        id = msg.subscriptionId;
        const p = this.pending.get(id);
        if (!p || p.nodeId !== nodeId || !p.exec) {
          call.emit('error', new GrpcError(grpc.status.NOT_FOUND, 'no such exec request'));
          return;
        }
        peer = p.exec;
        peer.attached(
          (input) => call.write(input),
          () => call.end(),
        );
      }
      if (msg.output) {
        peer.output(msg.output);
        if (msg.output.exited) {
          this.pending.delete(id);
          call.end();
        }
      }
    });
    const gone = () => {
      if (peer && this.pending.delete(id)) peer.closed(`node ${nodeId} ended the exec session`);
    };
    call.on('end', gone);
    call.on('error', gone);
    call.on('cancelled', gone);
  }
}
