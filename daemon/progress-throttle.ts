// Pulls and pushes report every chunk of every layer; the CLI needs a few updates a second. Byte
// counts ("Downloading", "Pushing") are passed on at most once per interval per layer, and the last
// one always (current = total); status changes always, in order.
import type { ProgressEvent } from '../worker/images/pull.js';

export class ProgressThrottle {
  private readonly lastSent = new Map<string, number>();

  constructor(
    private readonly send: (e: ProgressEvent) => void,
    private readonly intervalMs = 100,
    private readonly now: () => number = Date.now,
  ) {}

  push(e: ProgressEvent): void {
    if (e.total !== undefined && e.current !== undefined && e.current < e.total) {
      const t = this.now();
      const last = this.lastSent.get(e.id);
      if (last !== undefined && t - last < this.intervalMs) return;
      this.lastSent.set(e.id, t);
    } else {
      this.lastSent.delete(e.id);
    }
    this.send(e);
  }
}
