// gRPC transport between Raft members on the manager port.
//
// Outgoing: one Peer per remote member (a long-lived stream with a bounded queue, snapshots on their own
// call). Incoming: the Raft service, whose calls all pass through the `authorize` hook first, so the
// membership layer can require a manager certificate once mutual TLS is on. Nothing here interprets
// messages; it moves them and tells the node about peers it could not reach.
import * as grpc from '@grpc/grpc-js';
import { MessageType, type Message, type RaftId } from '../types.js';
import {
  decodeMessage,
  type MessageBatch,
  type SnapshotChunk,
  type WireMessageBatch,
  type WireSnapshotChunk,
} from './codec.js';
import { Peer, type RaftClientConstructor } from './peer.js';
import { raftServiceDefinition } from './proto.js';

/** What the transport delivers to, and reports to, the node that owns it. */
export interface TransportHandler {
  /** Messages from one sender, in the order it sent them. */
  receive(messages: Message[]): void;
  /** A sender told us its address (it may be a member we have not learned about from the log yet). */
  peerAddress(id: RaftId, addr: string): void;
  unreachable(id: RaftId): void;
  snapshotStatus(id: RaftId, ok: boolean): void;
}

/** What an authorization check may look at: the peer's address, metadata, TLS auth context. */
export type IncomingCall = Pick<
  grpc.ServerReadableStream<unknown, unknown>,
  'getPeer' | 'metadata' | 'getAuthContext' | 'getPath'
>;

/** Decides whether the caller of an incoming RPC may use it; `method` is the RPC's name. */
export type AuthorizeFn = (call: IncomingCall, method: string) => boolean | Promise<boolean>;

export interface RaftTransportOptions {
  id: RaftId;
  /** host:port to listen on (port 0 picks a free one); ignored when `server` is given. */
  listen?: string;
  /** The address other members dial to reach this one; defaults to the bound listen address. */
  advertiseAddr?: string;
  /** A server shared with other manager services; the caller binds and starts it. */
  server?: grpc.Server;
  serverCredentials?: grpc.ServerCredentials;
  channelCredentials?: grpc.ChannelCredentials;
  /** Extra client channel options (e.g. the TLS server name managers are dialled with). */
  channelOptions?: grpc.ChannelOptions;
  authorize?: AuthorizeFn;
  maxQueuedMessages?: number;
  maxBatchBytes?: number;
  snapshotChunkBytes?: number;
}

const TRANSPORT_DEFAULTS = {
  managerPort: 2377,
  maxQueuedMessages: 4096,
  maxBatchBytes: 8 * 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  /** gRPC's 4 MiB default is below a full batch; allow a little more than the biggest batch. */
  maxReceiveBytes: 16 * 1024 * 1024,
} as const;

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Channelz keeps per-call statistics nobody here reads; it costs CPU on every message.
  'grpc.enable_channelz': 0,
  'grpc.max_send_message_length': TRANSPORT_DEFAULTS.maxReceiveBytes,
  'grpc.max_receive_message_length': TRANSPORT_DEFAULTS.maxReceiveBytes,
  // Notice a silently vanished peer (no RST) well before an operator would.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  // Fail fast while a peer is down rather than after the default 20 s backoff cap.
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.initial_reconnect_backoff_ms': 100,
};

const allowAll: AuthorizeFn = () => true;

export class RaftTransport {
  private readonly server: grpc.Server;
  private readonly ownsServer: boolean;
  private readonly peers = new Map<RaftId, Peer>();
  private readonly Client: RaftClientConstructor;
  private readonly authorize: AuthorizeFn;
  private handler: TransportHandler | undefined;
  private selfAddr: string;
  private channelCredentials: grpc.ChannelCredentials;
  /** The address the owned server is bound on (host:port with the real port), for drain(). */
  private boundAddr: string | undefined;
  /** Ends each incoming call that is still open; see stop(). */
  private readonly incoming = new Set<() => void>();
  private stopped = false;

  constructor(private readonly opts: RaftTransportOptions) {
    const service = raftServiceDefinition();
    this.Client = grpc.makeGenericClientConstructor(service, 'Raft') as unknown as RaftClientConstructor;
    this.authorize = opts.authorize ?? allowAll;
    this.selfAddr = opts.advertiseAddr ?? opts.listen ?? '';
    this.channelCredentials = opts.channelCredentials ?? grpc.credentials.createInsecure();
    this.ownsServer = !opts.server;
    this.server =
      opts.server ??
      new grpc.Server({
        'grpc.max_receive_message_length': TRANSPORT_DEFAULTS.maxReceiveBytes,
        'grpc.keepalive_permit_without_calls': 1,
        'grpc.enable_channelz': 0,
      });
    this.server.addService(service, {
      StreamMessages: this.handleStream.bind(this),
      SendSnapshot: this.handleSnapshot.bind(this),
    });
  }

  /** The address peers are told to dial back on. */
  get address(): string {
    return this.selfAddr;
  }

  /** Binds the server (unless shared) and starts delivering to `handler`; returns the bound port. */
  async start(handler: TransportHandler): Promise<number> {
    this.handler = handler;
    if (!this.ownsServer) return 0;
    const listen = this.opts.listen ?? `0.0.0.0:${TRANSPORT_DEFAULTS.managerPort}`;
    const creds = this.opts.serverCredentials ?? grpc.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(listen, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const host = listen.slice(0, listen.lastIndexOf(':'));
    this.boundAddr = `${host}:${port}`;
    if (!this.opts.advertiseAddr) this.selfAddr = this.boundAddr;
    return port;
  }

  /** Adds or re-addresses a peer. Re-adding with the same address keeps its open stream. */
  setPeer(id: RaftId, addr: string): void {
    if (id === this.opts.id || this.stopped) return;
    const existing = this.peers.get(id);
    if (existing?.addr === addr) return;
    existing?.close();
    const peer = new Peer(
      id,
      addr,
      this.Client,
      this.channelCredentials,
      { ...CHANNEL_OPTIONS, ...this.opts.channelOptions },
      {
        selfId: this.opts.id,
        selfAddr: this.selfAddr,
        maxQueuedMessages: this.opts.maxQueuedMessages ?? TRANSPORT_DEFAULTS.maxQueuedMessages,
        maxBatchBytes: this.opts.maxBatchBytes ?? TRANSPORT_DEFAULTS.maxBatchBytes,
        snapshotChunkBytes: this.opts.snapshotChunkBytes ?? TRANSPORT_DEFAULTS.snapshotChunkBytes,
      },
      {
        unreachable: (peerId) => this.handler?.unreachable(peerId),
        snapshotStatus: (peerId, ok) => this.handler?.snapshotStatus(peerId, ok),
      },
    );
    this.peers.set(id, peer);
  }

  /**
   * Replaces the credentials the transport dials peers with (a renewed certificate). Every later
   * connection uses them: each peer moves to a new channel, ending its current stream gracefully, and
   * keeps its queued messages; peers added later get them too.
   */
  setChannelCredentials(credentials: grpc.ChannelCredentials): void {
    this.channelCredentials = credentials;
    if (this.stopped) return;
    for (const peer of this.peers.values()) peer.setCredentials(credentials);
  }

  removePeer(id: RaftId): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
  }

  peerAddress(id: RaftId): string | undefined {
    return this.peers.get(id)?.addr;
  }

  peerStats(id: RaftId): Peer['stats'] | undefined {
    return this.peers.get(id)?.stats;
  }

  /**
   * Sends the messages of one Ready. Messages for a peer without an address are reported unreachable:
   * the core then treats the peer as down instead of waiting on it.
   */
  send(messages: Message[]): void {
    if (this.stopped || messages.length === 0) return;
    let perPeer: Map<RaftId, Message[]> | undefined;
    for (const m of messages) {
      const peer = this.peers.get(m.to);
      if (!peer) {
        this.handler?.unreachable(m.to);
        if (m.type === MessageType.Snap) this.handler?.snapshotStatus(m.to, false);
        continue;
      }
      if (m.type === MessageType.Snap) {
        peer.sendSnapshot(m);
        continue;
      }
      perPeer ??= new Map();
      const list = perPeer.get(m.to);
      if (list) list.push(m);
      else perPeer.set(m.to, [m]);
    }
    if (perPeer) for (const [id, list] of perPeer) this.peers.get(id)!.send(list);
  }

  /**
   * Closes every stream and, when it owns the server, shuts it down. Incoming streams from other
   * members never end by themselves, so they are cut rather than waited for: Raft treats whatever was
   * in flight as lost.
   *
   * Cutting must reach the connections, not only the listener. grpc-js (1.14) tracks a server's open
   * HTTP/2 sessions for forceShutdown() only when channelz is enabled, which this server disables for
   * speed; forceShutdown() alone then leaves every established connection open, still answering
   * keepalive pings and swallowing writes. A sender's stream to a stopped member would stay "healthy"
   * forever: never reported unreachable, never reconnected to the member restarted on the same port.
   * So every incoming call is first ended with UNAVAILABLE (which also lets the owner of a shared
   * server shut it down gracefully at once), then drain() closes the sessions of the bound port, which
   * it finds without channelz.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    for (const end of [...this.incoming]) end();
    if (!this.ownsServer) return;
    if (this.boundAddr) this.server.drain(this.boundAddr, 0);
    this.server.forceShutdown();
  }

  /**
   * Registers an incoming call so stop() can end it: `end` sends UNAVAILABLE unless the call has
   * finished already. Returns the function that finishes the call with its own outcome.
   */
  private trackIncoming<T>(
    call: grpc.ServerReadableStream<unknown, unknown>,
    callback: grpc.sendUnaryData<T>,
  ): grpc.sendUnaryData<T> {
    let done = false;
    const finish: grpc.sendUnaryData<T> = (err, value) => {
      if (done) return;
      done = true;
      this.incoming.delete(cut);
      callback(err, value);
    };
    const cut = (): void => finish({ code: grpc.status.UNAVAILABLE, details: 'raft: member stopping' }, null);
    this.incoming.add(cut);
    // A call the client cancelled or that failed is over: nothing to end later.
    call.on('cancelled', () => {
      done = true;
      this.incoming.delete(cut);
    });
    return finish;
  }

  private async authorized(call: IncomingCall, method: string): Promise<boolean> {
    try {
      // Checked again after the (possibly asynchronous) decision: a call admitted after stop() would
      // never be ended by it.
      return !this.stopped && (await this.authorize(call, method)) && !this.stopped;
    } catch {
      return false;
    }
  }

  private handleStream(
    call: grpc.ServerReadableStream<WireMessageBatch, unknown>,
    callback: grpc.sendUnaryData<{ received: number }>,
  ): void {
    call.pause();
    let received = 0;
    void this.authorized(call, 'StreamMessages').then((ok) => {
      if (!ok) {
        callback({ code: grpc.status.PERMISSION_DENIED, details: 'raft: caller may not stream messages' });
        return;
      }
      const finish = this.trackIncoming(call, callback);
      let announced = false;
      call.on('data', (batch: WireMessageBatch) => {
        if (this.stopped) return;
        if (!announced && batch.fromAddr) {
          announced = true;
          this.handler?.peerAddress(batch.from, batch.fromAddr);
        }
        received += batch.messages.length;
        this.handler?.receive(batch.messages.map(decodeMessage));
      });
      call.on('end', () => finish(null, { received }));
      call.on('error', () => {});
      call.resume();
    });
  }

  private handleSnapshot(
    call: grpc.ServerReadableStream<WireSnapshotChunk, unknown>,
    callback: grpc.sendUnaryData<{ accepted: boolean }>,
  ): void {
    call.pause();
    void this.authorized(call, 'SendSnapshot').then((ok) => {
      if (!ok) {
        callback({ code: grpc.status.PERMISSION_DENIED, details: 'raft: caller may not send snapshots' });
        return;
      }
      const finish = this.trackIncoming(call, callback);
      let header: Message | undefined;
      let fromAddr = '';
      const parts: Uint8Array[] = [];
      call.on('data', (chunk: WireSnapshotChunk) => {
        if (this.stopped) return;
        if (!header && chunk.message) {
          header = decodeMessage(chunk.message);
          fromAddr = chunk.fromAddr;
        }
        if (chunk.data.length > 0) parts.push(chunk.data);
      });
      call.on('end', () => {
        if (this.stopped) return; // already answered UNAVAILABLE by stop()
        if (!header?.snapshot) {
          finish({ code: grpc.status.INVALID_ARGUMENT, details: 'raft: snapshot stream without header' });
          return;
        }
        header.snapshot = { metadata: header.snapshot.metadata, data: Buffer.concat(parts) };
        if (fromAddr) this.handler?.peerAddress(header.from, fromAddr);
        this.handler?.receive([header]);
        finish(null, { accepted: true });
      });
      call.on('error', () => {});
      call.resume();
    });
  }
}

export type { MessageBatch, SnapshotChunk };
