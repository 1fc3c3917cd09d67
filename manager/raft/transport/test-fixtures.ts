// Shared by the transport's tests: a handler that records what arrives, and message builders.
import { MessageType, type Message, type RaftId } from '../types.js';
import type { TransportHandler } from './transport.js';

/** A handler that records everything and lets a test wait for a condition. */
export class Recorder implements TransportHandler {
  received: Message[] = [];
  batches = 0;
  addresses = new Map<RaftId, string>();
  unreachables: RaftId[] = [];
  snapshotStatuses: Array<[RaftId, boolean]> = [];
  private waiters: Array<() => void> = [];

  receive(messages: Message[]): void {
    this.batches++;
    this.received.push(...messages);
    this.wake();
  }
  peerAddress(id: RaftId, addr: string): void {
    this.addresses.set(id, addr);
  }
  unreachable(id: RaftId): void {
    this.unreachables.push(id);
    this.wake();
  }
  snapshotStatus(id: RaftId, ok: boolean): void {
    this.snapshotStatuses.push([id, ok]);
    this.wake();
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for condition');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }
}

export function message(type: MessageType, from: RaftId, to: RaftId, extra: Partial<Message> = {}): Message {
  return {
    type,
    from,
    to,
    term: 3,
    logTerm: 2,
    index: 41,
    entries: [],
    commit: 40,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
    ...extra,
  };
}

/** An AppendEntries from 1 to 2 told apart by its index. */
export function app(index: number): Message {
  return message(MessageType.App, 1, 2, { term: 1, logTerm: 1, index, commit: 0 });
}
