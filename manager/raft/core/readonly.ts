// ReadOnly: ReadIndex requests waiting for the leader to confirm it is still the leader. A request
// records the commit index when it arrived; the leader broadcasts a heartbeat carrying the request's
// context, and once a majority echoes that context back, every request queued up to it is answered
// (later heartbeats confirm leadership for earlier requests too).

import type { Message, RaftId } from '../types.js';
import { contextKey } from './util.js';

interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<RaftId>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Queues request m (its context is m.entries[0].data) to be answered at `index`. */
  addRequest(index: number, m: Message): void {
    const key = contextKey(m.entries[0].data);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req: m, index, acks: new Set() });
    this.queue.push(key);
  }

  /** Records that `id` acknowledged the heartbeat with this context; returns the acks so far, or undefined if unknown. */
  recvAck(id: RaftId, context: Uint8Array): Set<RaftId> | undefined {
    const rs = this.pending.get(contextKey(context));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Dequeues every request up to and including the one with this context. */
  advance(context: Uint8Array): { req: Message; index: number }[] {
    const key = contextKey(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1).map((k) => {
      const rs = this.pending.get(k)!;
      this.pending.delete(k);
      return { req: rs.req, index: rs.index };
    });
    this.queue = this.queue.slice(at + 1);
    return done;
  }

  /** Context of the newest request, sent on heartbeats so they double as confirmation rounds. */
  lastPendingContext(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1])!.req.entries[0].data;
  }
}
