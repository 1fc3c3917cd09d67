// The sending half of the transport for one remote member: a long-lived client stream fed from a
// bounded queue, plus one call per snapshot.
//
// Raft tolerates lost messages but not a stalled event loop, so nothing here ever waits on the network:
// when the stream cannot take more (gRPC flow control) messages wait in the queue, and when the queue is
// full new messages are dropped and the peer is reported unreachable, which makes the leader fall back
// to probing it instead of pipelining into the void.
import * as grpc from '@grpc/grpc-js';
import type { RaftClient, ServiceConstructor } from '../../../api/rpc.js';
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

export type RaftClientConstructor = ServiceConstructor<RaftClient>;

/**
 * One client channel and the calls running on it. After a credentials change the old channel is
 * retired: new calls go to a new channel, and the old one is closed once its last call has ended, so a
 * snapshot in flight on it is not cut short.
 */
class Channel {
  readonly client: RaftClient;
  private calls = 0;
  private retired = false;
  private closed = false;

  constructor(
    Client: RaftClientConstructor,
    addr: string,
    credentials: grpc.ChannelCredentials,
    options: grpc.ChannelOptions,
  ) {
    this.client = new Client(addr, credentials, options);
  }

  /** Counts a call on this channel; the returned function, called once when it ends, releases it. */
  track(): () => void {
    this.calls++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.calls--;
      this.closeIfIdle();
    };
  }

  retire(): void {
    this.retired = true;
    this.closeIfIdle();
  }

  /** Closes the channel now; calls already under way finish (grpc-js), calls not yet started fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  private closeIfIdle(): void {
    if (this.retired && this.calls === 0) this.close();
  }
}

export class Peer {
  private channel: Channel;
  private stream: grpc.ClientWritableStream<MessageBatch> | undefined;
  private queue: Message[] = [];
  /** True while the stream's buffer is full and a 'drain' is awaited. */
  private blocked = false;
  private closed = false;
  /** Counters for status and tests. */
  readonly stats = {
    sentMessages: 0,
    sentBatches: 0,
    dropped: 0,
    streamFailures: 0,
    snapshotsSent: 0,
    credentialChanges: 0,
  };

  constructor(
    readonly id: RaftId,
    readonly addr: string,
    private readonly Client: RaftClientConstructor,
    credentials: grpc.ChannelCredentials,
    private readonly channelOptions: grpc.ChannelOptions,
    private readonly opts: PeerOptions,
    private readonly events: PeerEvents,
  ) {
    this.channel = new Channel(Client, addr, credentials, channelOptions);
  }

  /**
   * Makes every later call use `credentials` (a renewed certificate). The open stream was set up with
   * the old ones: it is ended gracefully (what was written on it is still delivered) and the next send
   * opens a stream on a new channel; queued messages wait for that stream, none is dropped. Messages
   * on the old and new streams may interleave at the receiver; Raft tolerates reordering.
   */
  setCredentials(credentials: grpc.ChannelCredentials): void {
    if (this.closed) return;
    this.stats.credentialChanges++;
    const old = this.channel;
    this.channel = new Channel(this.Client, this.addr, credentials, this.channelOptions);
    const stream = this.stream;
    this.stream = undefined;
    this.blocked = false;
    stream?.end();
    old.retire();
    this.flush();
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
    const release = this.channel.track();
    const stream = this.channel.client.StreamMessages((err) => {
      release();
      // A stream replaced by close() or a credentials change ended on purpose: whatever it still
      // carried is Raft's to repair, and the peer is not to blame.
      if (this.stream !== stream) return;
      // The call ended: the peer went away, restarted, or refused us. Whatever was written but not yet
      // received is lost; Raft retransmits. A failure is reported so the leader stops pipelining and
      // probes instead; the next send opens a new stream.
      this.stream = undefined;
      this.blocked = false;
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
    const release = this.channel.track();
    const call = this.channel.client.SendSnapshot((err, res) => {
      release();
      report(!err && res?.accepted === true);
    });
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
    const stream = this.stream;
    this.stream = undefined;
    stream?.end();
    this.channel.close();
  }
}
