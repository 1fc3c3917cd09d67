// The sending half of the transport for one remote member: a long-lived client stream fed from a
// bounded queue, plus one call per snapshot.
//
// Raft tolerates lost messages but not a stalled event loop, so nothing here ever waits on the network:
// when the stream cannot take more (gRPC flow control) messages wait in the queue, and when the queue is
// full new messages are dropped and the peer is reported unreachable, which makes the leader fall back
// to probing it instead of pipelining into the void.
import * as grpc from '@grpc/grpc-js';
import type { Message, RaftId } from '../types.js';
import { approximateSize, type MessageBatch, type SnapshotChunk } from './codec.js';

export interface PeerOptions {
  selfId: RaftId;
  selfAddr: string;
  /** Messages that may wait for the stream; beyond this they are dropped. */
  maxQueuedMessages: number;
  /** Upper bound on one stream write, kept well under the receiver's gRPC message limit. */
  maxBatchBytes: number;
  snapshotChunkBytes: number;
}

export interface PeerEvents {
  unreachable(id: RaftId): void;
  snapshotStatus(id: RaftId, ok: boolean): void;
}

type RaftClient = grpc.Client & {
  StreamMessages(cb: grpc.requestCallback<unknown>): grpc.ClientWritableStream<MessageBatch>;
  SendSnapshot(cb: grpc.requestCallback<{ accepted: boolean }>): grpc.ClientWritableStream<SnapshotChunk>;
};

export type RaftClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => grpc.Client;

export class Peer {
  private client: RaftClient;
  private stream: grpc.ClientWritableStream<MessageBatch> | undefined;
  private queue: Message[] = [];
  /** True while the stream's buffer is full and a 'drain' is awaited. */
  private blocked = false;
  private closed = false;
  /** Counters for status and tests. */
  readonly stats = { sentMessages: 0, sentBatches: 0, dropped: 0, streamFailures: 0, snapshotsSent: 0 };

  constructor(
    readonly id: RaftId,
    readonly addr: string,
    Client: RaftClientConstructor,
    credentials: grpc.ChannelCredentials,
    channelOptions: grpc.ChannelOptions,
    private readonly opts: PeerOptions,
    private readonly events: PeerEvents,
  ) {
    this.client = new Client(addr, credentials, channelOptions) as RaftClient;
  }

  send(messages: Message[]): void {
    if (this.closed) return;
    const room = this.opts.maxQueuedMessages - this.queue.length;
    if (room < messages.length) {
      this.stats.dropped += messages.length - Math.max(room, 0);
      if (room > 0) this.queue.push(...messages.slice(0, room));
      this.events.unreachable(this.id);
    } else {
      for (const m of messages) this.queue.push(m);
    }
    this.flush();
  }

  private openStream(): grpc.ClientWritableStream<MessageBatch> {
    const stream = this.client.StreamMessages((err) => {
      // The call ended: the peer went away, restarted, or we closed it. Whatever was written but not
      // yet received is lost; Raft retransmits. A failure is reported so the leader stops pipelining.
      if (this.stream === stream) {
        this.stream = undefined;
        this.blocked = false;
      }
      if (err && !this.closed) {
        this.stats.streamFailures++;
        this.queue.length = 0;
        this.events.unreachable(this.id);
      }
    });
    // Errors surface through the callback above; this listener only keeps them from being thrown.
    stream.on('error', () => {});
    return stream;
  }

  private flush(): void {
    while (this.queue.length > 0 && !this.blocked && !this.closed) {
      const stream = (this.stream ??= this.openStream());
      const batch = this.takeBatch();
      this.stats.sentBatches++;
      this.stats.sentMessages += batch.messages.length;
      if (!stream.write(batch)) {
        this.blocked = true;
        stream.once('drain', () => {
          if (this.stream !== stream) return;
          this.blocked = false;
          this.flush();
        });
      }
    }
  }

  private takeBatch(): MessageBatch {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length) {
      bytes += approximateSize(this.queue[n]!);
      if (n > 0 && bytes > this.opts.maxBatchBytes) break;
      n++;
    }
    const messages = n === this.queue.length ? this.queue : this.queue.slice(0, n);
    this.queue = n === this.queue.length ? [] : this.queue.slice(n);
    return { from: this.opts.selfId, fromAddr: this.opts.selfAddr, messages };
  }

  /** Streams a Snap message's snapshot in chunks on its own call; the outcome goes to snapshotStatus. */
  sendSnapshot(m: Message): void {
    if (this.closed || !m.snapshot) return;
    const snap = m.snapshot;
    let reported = false;
    const report = (ok: boolean): void => {
      // Reported even after close(): the core must not stay waiting on a snapshot forever.
      if (reported) return;
      reported = true;
      this.events.snapshotStatus(this.id, ok);
    };
    const call = this.client.SendSnapshot((err, res) => report(!err && res?.accepted === true));
    call.on('error', () => report(false));
    const header: Message = { ...m, snapshot: { metadata: snap.metadata, data: new Uint8Array(0) } };
    const size = this.opts.snapshotChunkBytes;
    let offset = 0;
    const writeNext = (): void => {
      // Always write at least one chunk so the header goes out even for an empty snapshot.
      do {
        const data = snap.data.subarray(offset, offset + size);
        const chunk: SnapshotChunk = { from: this.opts.selfId, fromAddr: this.opts.selfAddr, data };
        if (offset === 0) chunk.message = header;
        offset += size;
        if (!call.write(chunk) && offset < snap.data.length) {
          call.once('drain', writeNext);
          return;
        }
      } while (offset < snap.data.length);
      call.end();
    };
    this.stats.snapshotsSent++;
    writeNext();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.stream?.end();
    this.stream = undefined;
    this.client.close();
  }
}
