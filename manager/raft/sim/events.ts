// The simulation's virtual clock: a priority queue of callbacks ordered by (time, insertion order).
// Ties run in insertion order, so a run is a pure function of the seed.

interface Scheduled {
  at: number;
  seq: number;
  run: () => void;
}

export class EventQueue {
  now = 0;
  private seq = 0;
  private heap: Scheduled[] = [];

  schedule(delay: number, run: () => void): void {
    if (delay < 0) throw new Error('sim: cannot schedule in the past');
    this.push({ at: this.now + delay, seq: this.seq++, run });
  }

  /** Runs events up to and including time `until`; returns false if the queue ran dry. */
  runUntil(until: number, afterEach: () => void): boolean {
    let sameInstant = 0;
    while (this.heap.length > 0 && this.heap[0].at <= until) {
      const ev = this.pop();
      sameInstant = ev.at === this.now ? sameInstant + 1 : 0;
      if (sameInstant > 1_000_000) throw new Error(`sim: livelock, a million events at ${this.now} ms`);
      this.now = ev.at;
      ev.run();
      afterEach();
    }
    if (this.now < until) this.now = until;
    return this.heap.length > 0;
  }

  private less(a: Scheduled, b: Scheduled): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(ev: Scheduled): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Scheduled {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
